//! Each pagination format, tested without HTTP: the pairs and headers a page is asked
//! with, and the position read from a reply.
#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

fn expr(src: &str) -> Option<Expr> {
    Some(Expr::compile(src).unwrap())
}

fn call<'a>(position: Option<&'a PageState>, limit: Option<u32>, query: &'a Map<String, Value>) -> ListCall<'a> {
    ListCall { position, limit, query }
}

/// The query of a page asked with `base` pairs and `remote` pairs.
fn ask(p: &Pagination, c: ListCall<'_>, base: &[(&str, &str)], remote: &[(&str, &str)]) -> PageAsk {
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    p.ask::<PageError>(c, || Ok(owned(base)), &owned(remote)).unwrap()
}

fn reply<'a>(headers: &'a HeaderMap, json: &'a Value, url: &'a url::Url, count: usize) -> PageReply<'a> {
    PageReply {
        headers,
        json,
        url,
        count,
    }
}

fn pairs(a: &PageAsk) -> Vec<(&str, &str)> {
    a.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn page_numbers_start_at_the_start_count_up_and_stop_on_a_short_page() {
    let p = Pagination::Page {
        page_param: "page".into(),
        limit_param: Some("per_page".into()),
        start: 1,
        has_more: None,
    };
    let q = Map::new();
    let first = ask(&p, call(None, Some(2), &q), &[("sort", "name")], &[]);
    assert_eq!(pairs(&first), [("sort", "name"), ("per_page", "2"), ("page", "1")]);
    let (h, j, u) = (
        HeaderMap::new(),
        json!([1, 2]),
        url::Url::parse("https://x.test/l").unwrap(),
    );
    let next = p.next(call(None, Some(2), &q), &first, reply(&h, &j, &u, 2)).unwrap();
    assert_eq!(next, Some(PageState::Page(2)));
    let second = ask(&p, call(next.as_ref(), Some(2), &q), &[], &[("page", "9")]);
    // The position wins over remote_query's start on later pages.
    assert_eq!(pairs(&second), [("per_page", "2"), ("page", "2")]);
    let end = p
        .next(call(next.as_ref(), Some(2), &q), &second, reply(&h, &j, &u, 1))
        .unwrap();
    assert_eq!(end, None);
}

#[test]
fn remote_query_chooses_where_the_first_page_starts() {
    let p = Pagination::Offset {
        offset_param: "offset".into(),
        limit_param: None,
        has_more: expr("response.more"),
    };
    let q = Map::new();
    let first = ask(&p, call(None, None, &q), &[], &[("offset", "40")]);
    assert_eq!(first.first_position, Some(40));
    let (h, u) = (HeaderMap::new(), url::Url::parse("https://x.test/l").unwrap());
    let j = json!({"more": true});
    let next = p.next(call(None, None, &q), &first, reply(&h, &j, &u, 10)).unwrap();
    assert_eq!(next, Some(PageState::Offset(50)));
    let done = json!({"more": false});
    assert_eq!(
        p.next(call(None, None, &q), &first, reply(&h, &done, &u, 10)).unwrap(),
        None
    );
}

#[test]
fn cursors_come_from_the_reply_and_go_out_as_a_parameter() {
    let p = Pagination::Cursor {
        cursor_param: "after".into(),
        limit_param: Some("limit".into()),
        next_cursor: Expr::compile("response.next").unwrap(),
        add_to_body: false,
    };
    let q = Map::new();
    let (h, u) = (HeaderMap::new(), url::Url::parse("https://x.test/l").unwrap());
    let first = ask(&p, call(None, None, &q), &[], &[]);
    assert!(first.query.is_empty());
    assert!(first.body.is_empty());
    let j = json!({"next": "c2"});
    let next = p.next(call(None, None, &q), &first, reply(&h, &j, &u, 3)).unwrap();
    assert_eq!(next, Some(PageState::Cursor("c2".into())));
    let second = ask(&p, call(next.as_ref(), Some(5), &q), &[], &[]);
    assert_eq!(pairs(&second), [("limit", "5"), ("after", "c2")]);
    for end in [json!({"next": ""}), json!({}), json!({"next": null})] {
        assert_eq!(
            p.next(call(None, None, &q), &first, reply(&h, &end, &u, 3)).unwrap(),
            None
        );
    }
    let n = json!({"next": 7});
    assert_eq!(
        p.next(call(None, None, &q), &first, reply(&h, &n, &u, 3)).unwrap(),
        Some(PageState::Cursor("7".into()))
    );
}

#[test]
fn link_headers_and_next_urls_are_followed_relative_to_the_page() {
    let q = Map::new();
    let u = url::Url::parse("https://api.x.test/v1/items?page=1").unwrap();
    let mut h = HeaderMap::new();
    h.insert(header::LINK, r#"</v1/items?page=2>; rel="next""#.parse().unwrap());
    let link = Pagination::LinkHeader { limit_param: None };
    let asked = PageAsk::default();
    assert_eq!(
        link.next(call(None, None, &q), &asked, reply(&h, &Value::Null, &u, 1))
            .unwrap(),
        Some(PageState::Url("https://api.x.test/v1/items?page=2".into()))
    );
    let next_url = Pagination::NextUrl {
        limit_param: None,
        limit_header: None,
        next_url: Expr::compile("response.links.next").unwrap(),
    };
    let j = json!({"links": {"next": "items?page=3"}});
    assert_eq!(
        next_url
            .next(call(None, None, &q), &asked, reply(&h, &j, &u, 1))
            .unwrap(),
        Some(PageState::Url("https://api.x.test/v1/items?page=3".into()))
    );
    // A URL position is followed as it is: no query of its own.
    let pos = PageState::Url("https://api.x.test/v1/items?page=3".into());
    let follow = ask(&next_url, call(Some(&pos), None, &q), &[("x", "1")], &[("y", "2")]);
    assert_eq!(follow.url.unwrap().as_str(), "https://api.x.test/v1/items?page=3");
    assert!(follow.query.is_empty());
    let bad = PageState::Url("not a url".into());
    let e = next_url
        .ask::<PageError>(call(Some(&bad), None, &q), || Ok(Vec::new()), &[])
        .unwrap_err();
    assert!(matches!(e, PageError::CursorUrl));
}

#[test]
fn ranges_ask_by_header_and_end_at_the_total_or_a_short_range() {
    let p = Pagination::Range {
        unit: "items".into(),
        page_size: 25,
    };
    let q = Map::new();
    let first = ask(&p, call(None, None, &q), &[], &[]);
    assert_eq!(first.headers, [(header::RANGE, "items=0-24".to_string())]);
    let u = url::Url::parse("https://x.test/l").unwrap();
    let with = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_RANGE, v.parse().unwrap());
        h
    };
    let next = |v: &str| {
        p.next(call(None, None, &q), &first, reply(&with(v), &Value::Null, &u, 25))
            .unwrap()
    };
    assert_eq!(next("items 0-24/60"), Some(PageState::Range(25)));
    assert_eq!(next("items 50-59/60"), None);
    assert_eq!(next("items 0-24/*"), Some(PageState::Range(25)));
    assert_eq!(next("items 0-9/*"), None);
    assert_eq!(next("bytes 0-24/60"), None);
    assert!(p.is_past_end(Some(416)));
    assert!(!Pagination::None.is_past_end(Some(416)));
}

#[test]
fn dynamic_values_start_from_the_initial_expression_and_feed_the_next() {
    let p = Pagination::Dynamic {
        limit_param: None,
        initial: expr(r#"{"count": limit, "q": query.name}"#),
        next: Expr::compile(r#"response.more ? {"start": paginationValues.count + records} : null"#).unwrap(),
    };
    let q: Map<String, Value> = json!({"name": "ada"}).as_object().unwrap().clone();
    let first = ask(&p, call(None, Some(10), &q), &[], &[]);
    assert_eq!(pairs(&first), [("count", "10"), ("q", "ada")]);
    let (h, u) = (HeaderMap::new(), url::Url::parse("https://x.test/l").unwrap());
    let j = json!({"more": true});
    let next = p.next(call(None, Some(10), &q), &first, reply(&h, &j, &u, 10)).unwrap();
    assert_eq!(next, Some(PageState::Dynamic(json!({"start": 20}))));
    let second = ask(&p, call(next.as_ref(), Some(10), &q), &[], &[]);
    assert_eq!(pairs(&second), [("start", "20")]);
    let j = json!({"more": false});
    assert_eq!(
        p.next(call(None, Some(10), &q), &first, reply(&h, &j, &u, 3)).unwrap(),
        None
    );
}

#[test]
fn expressions_that_give_the_wrong_kind_say_which_side_failed() {
    let q = Map::new();
    let initial = Pagination::Dynamic {
        limit_param: None,
        initial: expr("[1]"),
        next: Expr::compile("null").unwrap(),
    };
    let e = initial
        .ask::<PageError>(call(None, None, &q), || Ok(Vec::new()), &[])
        .unwrap_err();
    assert!(matches!(e, PageError::RequestShape(_)) && !e.is_reply_side());
    let next = Pagination::Dynamic {
        limit_param: None,
        initial: None,
        next: Expr::compile("42").unwrap(),
    };
    let (h, u) = (HeaderMap::new(), url::Url::parse("https://x.test/l").unwrap());
    let e = next
        .next(
            call(None, None, &q),
            &PageAsk::default(),
            reply(&h, &Value::Null, &u, 0),
        )
        .unwrap_err();
    assert!(e.is_reply_side());
}

#[test]
fn a_position_of_another_format_is_refused() {
    let p = Pagination::Page {
        page_param: "page".into(),
        limit_param: None,
        start: 1,
        has_more: None,
    };
    let q = Map::new();
    let pos = PageState::Cursor("x".into());
    let e = p
        .ask::<PageError>(call(Some(&pos), None, &q), || Ok(Vec::new()), &[])
        .unwrap_err();
    assert!(e.is_cursor());
    // No pagination: one page, whatever the answer holds.
    let (h, u) = (HeaderMap::new(), url::Url::parse("https://x.test/l").unwrap());
    let none = Pagination::None;
    let j = json!([1, 2, 3]);
    assert_eq!(
        none.next(call(None, None, &q), &PageAsk::default(), reply(&h, &j, &u, 3))
            .unwrap(),
        None
    );
}

#[test]
fn a_body_cursor_is_read_from_a_header_as_json_and_written_into_the_body_as_it_was() {
    // JumpCloud's Directory Insights: `X-Search_after: ["1714557600000","ev-2"]` on the
    // answer, `{"search_after": [...]}` in the next request's body.
    let p = Pagination::Cursor {
        cursor_param: "search_after".into(),
        limit_param: Some("limit".into()),
        next_cursor: Expr::compile("$jsonParse(headers.'x-search_after')").unwrap(),
        add_to_body: true,
    };
    let q = Map::new();
    let u = url::Url::parse("https://x.test/events").unwrap();
    let first = ask(&p, call(None, Some(2), &q), &[("keep", "1")], &[]);
    // The page size goes into the body too; the query keeps only the mapping's pairs.
    assert_eq!(pairs(&first), [("keep", "1")]);
    assert_eq!(first.body, [("limit".to_string(), json!(2))]);
    let mut h = HeaderMap::new();
    h.insert("x-search_after", r#"[1714557600000,"ev-2",{"n":1.5}]"#.parse().unwrap());
    let j = json!([{}, {}]);
    let next = p.next(call(None, Some(2), &q), &first, reply(&h, &j, &u, 2)).unwrap();
    let value = json!([1714557600000_u64, "ev-2", {"n": 1.5}]);
    assert_eq!(next, Some(PageState::Body(value.clone())));
    let second = ask(&p, call(next.as_ref(), Some(2), &q), &[], &[("limit", "9")]);
    assert_eq!(
        second.body,
        [
            ("limit".to_string(), json!(2)),
            ("search_after".to_string(), value.clone())
        ]
    );
    // A query-string position is another format's.
    let wrong = PageState::Cursor("x".into());
    let e = p
        .ask::<PageError>(call(Some(&wrong), None, &q), || Ok(Vec::new()), &[])
        .unwrap_err();
    assert!(e.is_cursor());
    // No header, an empty array, an empty string or null: the list is over.
    for end in ["", "[]", "null", "\"\""] {
        let mut h = HeaderMap::new();
        if !end.is_empty() {
            h.insert("x-search_after", end.parse().unwrap());
        }
        assert_eq!(
            p.next(call(None, None, &q), &first, reply(&h, &j, &u, 2)).unwrap(),
            None,
            "{end}"
        );
    }
    // The signed `next_cursor` carries the JSON value faithfully.
    let k = crate::crypto::Keyring::from_key([5; 32]);
    let c = cursor::encode(&k, "acct", &PageState::Body(value.clone()));
    assert_eq!(cursor::decode(&k, "acct", &c).unwrap(), PageState::Body(value));
}

#[test]
fn a_body_cursor_goes_to_its_dotted_path_over_the_mapped_body() {
    let mut body = json!({"service": ["all"], "page": {"size": 2}});
    set_in_body(&mut body, "page.after", json!(["a", 1]));
    set_in_body(&mut body, "limit", json!(2));
    assert_eq!(
        body,
        json!({"service": ["all"], "page": {"size": 2, "after": ["a", 1]}, "limit": 2})
    );
    // No body yet, or a path through something that is not an object: objects are made.
    let mut none = Value::Null;
    set_in_body(&mut none, "a.b", json!("c"));
    assert_eq!(none, json!({"a": {"b": "c"}}));
    let mut scalar = json!({"a": 3});
    set_in_body(&mut scalar, "a.b", json!(true));
    assert_eq!(scalar, json!({"a": {"b": true}}));
}
