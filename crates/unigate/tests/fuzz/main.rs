//! Property-based fuzzing of everything that parses client or provider input: the query
//! string, `{{placeholder}}` rendering into provider paths, and `next_cursor` decoding.
//!
//! The normal test run tries a few hundred cases per property. A long run:
//! `PROPTEST_CASES=200000 cargo test --release -p unigate --test fuzz`.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use unigate::accounts::crypto::Keyring;
use unigate::mapping::template::{Encoding, Template};
use unigate::unified::cursor::{self, PageState};
use unigate::unified::query::UnifiedQuery;

fn query_chars() -> impl Strategy<Value = String> {
    // Weighted towards the characters that matter to bracket notation and encoding.
    proptest::collection::vec(
        prop_oneof![
            Just("[".to_string()),
            Just("]".to_string()),
            Just("=".to_string()),
            Just("&".to_string()),
            Just("%".to_string()),
            Just("%5B".to_string()),
            Just("%5D".to_string()),
            Just("remote_query".to_string()),
            Just("truto_exclude_fields".to_string()),
            Just("integrated_account_id".to_string()),
            any::<char>().prop_map(|c| c.to_string()),
            "[a-z0-9]{1,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_query_string_parses_or_is_refused_without_panicking(q in query_chars()) {
        let _ = UnifiedQuery::parse(Some(&q));
        let _ = UnifiedQuery::parse(Some(&format!("integrated_account_id=a&{q}")));
    }

    #[test]
    fn a_rendered_id_stays_one_path_segment(id in any::<String>()) {
        let t = Template::parse("/orgs/{{id}}/members").unwrap();
        match t.render(&json!({ "id": id }), Encoding::PathSegment) {
            Ok(path) => {
                let segment = path.strip_prefix("/orgs/").unwrap().strip_suffix("/members").unwrap();
                prop_assert!(!segment.contains('/') && !segment.contains('?') && !segment.contains('#'));
                let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
                prop_assert_eq!(decoded.as_ref(), id.as_str());
            }
            Err(_) => prop_assert!(id.is_empty() || id == "." || id == ".."),
        }
    }

    #[test]
    fn templates_parse_or_fail_cleanly(src in any::<String>(), v in any::<String>()) {
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&json!({ "context": { "x": v } }), Encoding::Raw);
            let _ = t.render(&json!({}), Encoding::PathSegment);
        }
    }

    #[test]
    fn only_issued_cursors_are_accepted(junk in any::<String>(), page in any::<u64>(), url in "https://[a-z]{1,10}\\.example/[a-z0-9?=&]{0,20}") {
        let k = Keyring::from_key([9; 32]);
        prop_assert!(cursor::decode(&k, "acct", &junk).is_err());
        for state in [PageState::Page(page), PageState::Url(url.clone()), PageState::Offset(page)] {
            let state: PageState = state;
            let c = cursor::encode(&k, "acct", &state);
            prop_assert_eq!(cursor::decode(&k, "acct", &c).unwrap(), state.clone());
            prop_assert!(cursor::decode(&k, "other", &c).is_err());
            // A changed character is refused, unless it only touched base64 padding bits
            // and so changed nothing that is signed.
            let mut bytes = c.into_bytes();
            let i = (page as usize) % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if let Ok(decoded) = cursor::decode(&k, "acct", &tampered) {
                prop_assert_eq!(decoded, state);
            }
        }
    }
}
