//! Loop detection: a provider whose pagination leads back to a page already read would be
//! followed forever. A single page answer that names its own position again is caught by
//! [`repeats`]; a stream, which reads many pages in one call, remembers every page it read
//! ([`SeenPages`]) and so also stops a longer cycle (A, B, A).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use super::PageState;

/// Whether `next` is the position the page was asked at: the provider gave the same
/// position twice.
pub fn repeats(next: Option<&PageState>, asked: Option<&PageState>) -> bool {
    next.is_some() && next == asked
}

/// The pages one stream has read, as fingerprints (a stream may read millions of records,
/// but pages are few and a hash each is small).
#[derive(Debug, Default)]
pub struct SeenPages(HashSet<u64>);

impl SeenPages {
    /// Records the page read at `position` from `url`; false when it was read before.
    /// Where a page was read from is its URL (query included), or for `range` pagination,
    /// whose URL never changes, the range; a position in the body (`add_to_body`) is not in
    /// the URL either, so it is part of the key.
    pub fn first_visit(&mut self, position: Option<&PageState>, url: &url::Url) -> bool {
        let key = match position {
            Some(PageState::Range(n)) => format!("range {n}"),
            Some(PageState::Body(v)) => format!("{url} body {v}"),
            _ => url.to_string(),
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.0.insert(h.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_same_position_twice_is_a_repeat_and_the_end_is_not() {
        let p = PageState::Cursor("abc".into());
        assert!(repeats(Some(&p), Some(&p)));
        assert!(!repeats(Some(&p), Some(&PageState::Cursor("abd".into()))));
        assert!(!repeats(Some(&p), None));
        assert!(!repeats(None, None));
    }

    #[test]
    fn a_stream_that_comes_back_to_an_earlier_page_is_caught() {
        let (a, b) = (
            url::Url::parse("https://x.test/items?page=1").unwrap(),
            url::Url::parse("https://x.test/items?page=2").unwrap(),
        );
        let mut seen = SeenPages::default();
        assert!(seen.first_visit(None, &a));
        assert!(seen.first_visit(Some(&PageState::Page(2)), &b));
        assert!(!seen.first_visit(Some(&PageState::Page(1)), &a));
    }

    #[test]
    fn ranges_are_told_apart_by_position_not_url() {
        let u = url::Url::parse("https://x.test/items").unwrap();
        let mut seen = SeenPages::default();
        assert!(seen.first_visit(None, &u));
        assert!(seen.first_visit(Some(&PageState::Range(50)), &u));
        assert!(!seen.first_visit(Some(&PageState::Range(50)), &u));
    }

    #[test]
    fn body_positions_are_told_apart_by_their_value_not_url() {
        let u = url::Url::parse("https://x.test/events").unwrap();
        let (a, b) = (
            PageState::Body(serde_json::json!([2, "b"])),
            PageState::Body(serde_json::json!([1, "a"])),
        );
        let mut seen = SeenPages::default();
        assert!(seen.first_visit(None, &u));
        assert!(seen.first_visit(Some(&a), &u));
        assert!(seen.first_visit(Some(&b), &u));
        assert!(!seen.first_visit(Some(&a), &u));
    }
}
