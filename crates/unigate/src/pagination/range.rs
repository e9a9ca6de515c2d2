//! `Range` pagination (RFC 9110 §14 with a custom unit, as APIs page with
//! `Range: items=0-49` and answer `Content-Range: items 0-49/200`). Hand-written: all we
//! need is one range out and one `Content-Range` back.

/// A parsed `Content-Range` answer header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRange {
    pub unit: String,
    /// First and last position sent (inclusive); `None` for `*` (nothing satisfiable).
    pub range: Option<(u64, u64)>,
    /// The complete length; `None` when the provider sends `*` (unknown).
    pub total: Option<u64>,
}

/// `Range: <unit>=<start>-<start + size - 1>`.
pub fn request_header(unit: &str, start: u64, size: u64) -> String {
    format!("{unit}={start}-{}", start.saturating_add(size.max(1) - 1))
}

/// True for an RFC 9110 token, the grammar of a range unit.
pub fn is_unit(unit: &str) -> bool {
    !unit.is_empty()
        && unit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses `<unit> <first>-<last>/<total|*>` or `<unit> */<total>`. Anything else (several
/// ranges, `last < first`, a last position past the total) is `None`.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let (unit, rest) = value.trim().split_once(' ')?;
    if !is_unit(unit) {
        return None;
    }
    let (range, total) = rest.trim().split_once('/')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let total = match total.trim() {
        "*" => None,
        t => Some(number(t)?),
    };
    let range = match range.trim() {
        "*" => {
            // "Unsatisfied" must state the length.
            total?;
            None
        }
        r => {
            let (first, last) = r.split_once('-')?;
            let (first, last) = (number(first)?, number(last)?);
            if last < first || total.is_some_and(|t| last >= t) {
                return None;
            }
            Some((first, last))
        }
    };
    Some(ContentRange {
        unit: unit.to_string(),
        range,
        total,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("items 0-24/100").unwrap(),
            ContentRange {
                unit: "items".into(),
                range: Some((0, 24)),
                total: Some(100)
            }
        );
        assert_eq!(parse_content_range("items 25-49/*").unwrap().total, None);
        assert_eq!(parse_content_range("items */100").unwrap().range, None);
        for bad in [
            "",
            "items",
            "items 5-4/10",
            "items 0-10/10",
            "items */*",
            "items 0-4,6-9/10",
            "it ems 0-1/2",
            "items -1-4/10",
            "items 0-99999999999999999999/*",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_request_header_names_an_inclusive_range() {
        assert_eq!(request_header("items", 0, 25), "items=0-24");
        assert_eq!(request_header("records", 50, 1), "records=50-50");
    }
}
