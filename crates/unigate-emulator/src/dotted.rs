//! Dotted field paths (`sys.version`) into a JSON record. Record fields named in a
//! collection's `id_field`, `version_field`, `timestamps` and `lookup_fields`, and in write
//! rules, may be such paths (Contentful keeps them in `sys`).

use serde_json::{Map, Value};

/// Sets a dotted field of a record, creating the objects on the way (a non-object in the
/// way is replaced).
pub(crate) fn set_path(record: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            record.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = record
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(map) = child {
                set_path(map, rest, value);
            }
        }
    }
}

/// Reads a dotted field of a record (see [`set_path`]).
pub(crate) fn get_path<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => record.get(path),
        Some((head, rest)) => record.get(head)?.as_object().and_then(|m| get_path(m, rest)),
    }
}

/// The top-level field a dotted path lives in (`sys` for `sys.id`).
pub(crate) fn top_field(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}
