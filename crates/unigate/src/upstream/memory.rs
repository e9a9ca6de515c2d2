//! The memory budget: how many bytes of provider answers all calls may hold at once
//! (`upstream.max_buffered_bytes`).

use std::sync::Arc;

/// All provider answers held in memory at once, across calls, are bounded by
/// `upstream.max_buffered_bytes`: a body takes its share as it arrives (in KiB), and a call
/// that finds none left is refused at once (503) rather than waiting, which could leave
/// many calls each holding part of what they need.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    kib: Arc<tokio::sync::Semaphore>,
    pub(super) limit: usize,
}

/// A share of the [`MemoryBudget`], given back on drop.
#[derive(Debug)]
pub struct MemoryShare(tokio::sync::OwnedSemaphorePermit);

impl MemoryBudget {
    pub fn new(limit_bytes: usize) -> Self {
        // Rounded up, as each body's share is: an answer of exactly the limit fits.
        let kib = limit_bytes.div_ceil(1024).min(tokio::sync::Semaphore::MAX_PERMITS);
        MemoryBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(kib)),
            limit: limit_bytes,
        }
    }

    /// Grows `share` to cover `bytes`; false when the budget has no room.
    pub(super) fn cover(&self, share: &mut Option<MemoryShare>, bytes: usize) -> bool {
        let held = share.as_ref().map_or(0, |s| s.0.num_permits());
        let needed = bytes.div_ceil(1024);
        if needed <= held {
            return true;
        }
        let Ok(more) = u32::try_from(needed - held) else {
            return false;
        };
        match self.kib.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                match share {
                    Some(s) => s.0.merge(permit),
                    None => *share = Some(MemoryShare(permit)),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// KiB free now (for tests and diagnostics).
    pub fn available_kib(&self) -> usize {
        self.kib.available_permits()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_memory_budget_grows_shares_refuses_past_its_limit_and_gets_them_back() {
        let budget = MemoryBudget::new(10 * 1024);
        let mut a = None;
        assert!(budget.cover(&mut a, 4 * 1024));
        assert!(budget.cover(&mut a, 6 * 1024 + 1), "grows to 7 KiB");
        assert_eq!(budget.available_kib(), 3);
        let mut b = None;
        assert!(!budget.cover(&mut b, 4 * 1024), "4 KiB do not fit in 3");
        assert!(b.is_none());
        assert!(budget.cover(&mut b, 3 * 1024));
        assert_eq!(budget.available_kib(), 0);
        drop(a);
        assert_eq!(budget.available_kib(), 7);
        drop(b);
        assert_eq!(budget.available_kib(), 10);

        // A limit that is not a whole number of KiB still holds one answer of that size.
        let odd = MemoryBudget::new(1000);
        let mut c = None;
        assert!(odd.cover(&mut c, 1000));
        assert!(!odd.cover(&mut None, 1));
    }
}
