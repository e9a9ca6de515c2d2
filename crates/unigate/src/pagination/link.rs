//! The RFC 8288 `Link` header, just enough to find `rel="next"`.
//!
//! Hand-written: the crates that parse Link headers are unmaintained, and all we need is
//! the URL of one relation.

/// The `rel="next"` URL in a Link header value, if any.
pub fn next_url(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| {
                    v.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        is_next.then(|| url.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_relation_is_found_among_others() {
        let h = r#"<https://api.github.com/user/orgs?page=3>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last""#;
        assert_eq!(next_url(h).as_deref(), Some("https://api.github.com/user/orgs?page=3"));
    }

    #[test]
    fn no_next_relation_means_none() {
        assert_eq!(next_url(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_url("garbage"), None);
    }
}
