//! A provider's search query in one list parameter ([`RouteSpec::search_query`]), Google's
//! Directory API `users.list?query=` syntax: `givenName:Jane isSuspended=false
//! email:'a b'*`. Parsed once per request into [`Clause`]s, then tested on each record.
//!
//! [`RouteSpec::search_query`]: crate::spec::RouteSpec::search_query

use serde_json::Value;

use super::failure::{Failure, FieldError};
use crate::spec::{ErrorKind, SearchQuerySpec};
use crate::template::value_to_text;

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Match {
    /// `=`: the whole value, ignoring case.
    Equals,
    /// `:`: the whole value or one of its words, ignoring case.
    Word,
    /// `:{PREFIX}*`: the whole value or one of its words starts with it, ignoring case.
    Prefix,
}

/// One `field op value` of a search.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Clause {
    /// The record's fields the search field stands for.
    fields: Vec<String>,
    how: Match,
    /// In lower case.
    value: String,
}

impl Clause {
    pub(super) fn matches(&self, record: &Value) -> bool {
        self.fields.iter().any(|f| {
            let mut found = Vec::new();
            values_at(record, f, &mut found);
            found.iter().any(|v| self.test(&value_to_text(v).to_lowercase()))
        })
    }

    fn test(&self, have: &str) -> bool {
        let whole_or_word = |f: &dyn Fn(&str) -> bool| f(have) || have.split_whitespace().any(f);
        match self.how {
            Match::Equals => have == self.value,
            Match::Word => whole_or_word(&|w| w == self.value),
            Match::Prefix => whole_or_word(&|w| w.starts_with(&self.value)),
        }
    }
}

/// Every value at a dotted path, through arrays (`emails.address` reads each email's).
fn values_at<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| values_at(i, path, out)),
        Value::Object(map) => {
            let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
            match (map.get(head), rest) {
                (Some(v), Some(rest)) => values_at(v, rest, out),
                (Some(Value::Array(items)), None) => out.extend(items.iter()),
                (Some(v), None) => out.push(v),
                (None, _) => {}
            }
        }
        _ => {}
    }
}

/// Reads a search (see [`RouteSpec::search_query`](crate::spec::RouteSpec::search_query)).
/// An empty one has no clauses.
pub(super) fn parse(text: &str, spec: &SearchQuerySpec) -> Result<Vec<Clause>, Failure> {
    // Google says only `Invalid Input`, whatever is wrong with the query.
    let invalid = || {
        Failure::fields(
            ErrorKind::Validation,
            vec![FieldError::new(&spec.param, "invalid", "Invalid Input".into(), None)],
        )
    };
    let mut clauses = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let op_at = rest
            .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .ok_or_else(invalid)?;
        let name = &rest[..op_at];
        let op = rest[op_at..].chars().next().ok_or_else(invalid)?;
        if name.is_empty() || op.is_whitespace() {
            return Err(invalid());
        }
        let fields = spec.fields.get(name).ok_or_else(invalid)?.clone();
        let after = &rest[op_at + 1..];
        let (value, after) = read_value(after).ok_or_else(invalid)?;
        let (how, after) = match (op, after.strip_prefix('*')) {
            ('=', Some(_)) => return Err(invalid()),
            ('=', None) => (Match::Equals, after),
            (_, Some(after)) => (Match::Prefix, after),
            (_, None) => (Match::Word, after),
        };
        if value.is_empty() || !(after.is_empty() || after.starts_with(char::is_whitespace)) {
            return Err(invalid());
        }
        clauses.push(Clause {
            fields,
            how,
            value: value.to_lowercase(),
        });
        rest = after.trim_start();
    }
    Ok(clauses)
}

/// A value quoted with `'` (`\'` and `\\` inside) or bare up to whitespace or a trailing
/// `*`, and what follows it; `None` for an unclosed quote.
fn read_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('\'') else {
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        let bare = &text[..end];
        let bare = bare.strip_suffix('*').unwrap_or(bare);
        return Some((bare.to_string(), &text[bare.len()..]));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '\'' => return Some((value, &quoted[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use serde_json::json;

    use super::*;

    fn spec() -> SearchQuerySpec {
        let mut fields = IndexMap::new();
        fields.insert("email".into(), vec!["primaryEmail".into(), "emails.address".into()]);
        fields.insert("givenName".into(), vec!["name.givenName".into()]);
        fields.insert("isSuspended".into(), vec!["suspended".into()]);
        SearchQuerySpec {
            param: "query".into(),
            fields,
        }
    }

    fn hits(query: &str, record: &Value) -> bool {
        parse(query, &spec()).expect("parses").iter().all(|c| c.matches(record))
    }

    fn refused(query: &str) -> bool {
        parse(query, &spec()).is_err_and(|f| f.kind == ErrorKind::Validation && f.errors[0].field == "query")
    }

    #[test]
    fn clauses_are_read_with_their_operator_and_quoted_values() {
        let clauses = parse(r"givenName:'Mary Ann'* isSuspended=false email:M@x.io", &spec()).expect("parses");
        assert_eq!(clauses.len(), 3);
        assert_eq!((clauses[0].how, clauses[0].value.as_str()), (Match::Prefix, "mary ann"));
        assert_eq!((clauses[1].how, clauses[1].value.as_str()), (Match::Equals, "false"));
        assert_eq!((clauses[2].how, clauses[2].value.as_str()), (Match::Word, "m@x.io"));
        let quoted = parse(r"givenName:'O\'Neil \\ Jr'", &spec()).expect("parses");
        assert_eq!(quoted[0].value, r"o'neil \ jr");
        assert!(parse("  ", &spec()).expect("parses").is_empty());
    }

    #[test]
    fn colon_matches_the_whole_value_or_a_word_and_a_star_a_prefix() {
        let r = json!({"name": {"givenName": "Mary Ann"}, "primaryEmail": "m@x.io", "suspended": false,
                       "emails": [{"address": "m@x.io"}, {"address": "alias@x.io"}]});
        assert!(hits("givenName:'mary ann'", &r));
        assert!(hits("givenName:Ann", &r));
        assert!(!hits("givenName:An", &r));
        assert!(hits("givenName:An*", &r));
        assert!(!hits("givenName=Ann", &r));
        assert!(hits("givenName='MARY ANN'", &r));
        assert!(hits("email:alias@x.io isSuspended=false", &r));
        assert!(!hits("email:alias@x.io isSuspended=true", &r));
    }

    #[test]
    fn malformed_searches_are_refused_as_google_does() {
        for query in [
            "givenName",
            "givenName:",
            "givenName: Ann",
            "familyName:Smith",
            "givenName:'Ann",
            "givenName=Ann*",
            "givenName:'Ann'x",
            ":Ann",
        ] {
            assert!(refused(query), "{query} should be refused");
        }
    }
}
