//! Property-based fuzzing of everything that parses client or provider input: the query
//! string, `{{placeholder}}` rendering into provider paths, and `next_cursor` decoding.
//!
//! The normal test run tries a few hundred cases per property. A long run:
//! `PROPTEST_CASES=200000 cargo test --release -p unigate --test fuzz`.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use unigate::crypto::Keyring;
use unigate::mapping::template::{Encoding, Template};
use unigate::pagination::{cursor, PageState};
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
        for state in [PageState::Page(page), PageState::Url(url.clone()), PageState::Offset(page), PageState::Range(page), PageState::Dynamic(json!({ "page": page, "after": url }))] {
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

/// The `range` pagination and SSRF parsers: `Content-Range` answers come from providers,
/// networks from catalog files, addresses from DNS.
mod range_and_networks {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;
    use unigate::pagination::range::{parse_content_range, request_header};
    use unigate::upstream::net::{is_public, Network};

    fn header_chars() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("items".to_string()),
                Just(" ".to_string()),
                Just("-".to_string()),
                Just("/".to_string()),
                Just("*".to_string()),
                Just(",".to_string()),
                "[0-9]{1,22}",
                any::<char>().prop_map(|c| c.to_string()),
            ],
            0..12,
        )
        .prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn content_ranges_parse_or_are_refused_and_what_parses_is_consistent(v in header_chars()) {
            if let Some(c) = parse_content_range(&v) {
                if let Some((first, last)) = c.range {
                    prop_assert!(first <= last);
                    if let Some(total) = c.total {
                        prop_assert!(last < total);
                    }
                } else {
                    prop_assert!(c.total.is_some());
                }
            }
        }

        #[test]
        fn a_served_range_reads_back(first in 0u64..1_000_000_000, len in 1u64..1_000_000, extra in 0u64..1000, known in any::<bool>()) {
            let last = first + len - 1;
            let total = if known { (last + 1 + extra).to_string() } else { "*".into() };
            let c = parse_content_range(&format!("items {first}-{last}/{total}")).unwrap();
            prop_assert_eq!(c.range, Some((first, last)));
            prop_assert_eq!(c.total, known.then_some(last + 1 + extra));
            prop_assert_eq!(request_header("items", first, len), format!("items={first}-{last}"));
        }

        #[test]
        fn networks_parse_or_fail_cleanly_and_contain_their_own_address(s in "\\PC{0,40}", a in any::<u32>(), b in any::<u128>(), p4 in 0u8..=32, p6 in 0u8..=128) {
            let _ = s.parse::<Network>();
            let v4 = IpAddr::V4(Ipv4Addr::from(a));
            let n4: Network = format!("{v4}/{p4}").parse().unwrap();
            prop_assert!(n4.contains(v4));
            prop_assert_eq!(n4.to_string().parse::<Network>().unwrap(), n4);
            let v6 = IpAddr::V6(Ipv6Addr::from(b));
            let n6: Network = format!("{v6}/{p6}").parse().unwrap();
            prop_assert!(n6.contains(v6));
            prop_assert_eq!(n6.to_string().parse::<Network>().unwrap(), n6);
        }

        #[test]
        fn an_ipv4_address_is_judged_alike_in_its_ipv6_forms(a in any::<u32>()) {
            let v4 = Ipv4Addr::from(a);
            let public = is_public(IpAddr::V4(v4));
            prop_assert_eq!(is_public(IpAddr::V6(v4.to_ipv6_mapped())), public);
            let [x, y, z, w] = v4.octets();
            let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([x, y]), u16::from_be_bytes([z, w]));
            prop_assert_eq!(is_public(IpAddr::V6(nat64)), public);
        }
    }
}
