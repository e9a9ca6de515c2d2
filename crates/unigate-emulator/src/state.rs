//! The emulator's mutable state: records, active faults and the request log.
//!
//! All of it sits behind one `std::sync::Mutex` (see [`Shared`]): every critical section is a
//! few map operations with no `.await` inside, so a blocking mutex is cheaper than tokio's
//! async one and cannot be held across a suspension point by mistake (the same reasoning as
//! mini-redis's `db.rs`). One lock for everything also makes a read-check-write (optimistic
//! version, id uniqueness) atomic without further thought.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::dotted::set_path;
use crate::fault::ActiveFault;
use crate::spec::{CollectionSpec, EmulatorSpec, IdGenerator};
use crate::template::lookup;
use crate::tokens::OAuthState;

/// One request the emulator received (admin requests under `/__emulator/` excluded).
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Upper-case method, e.g. `PATCH`.
    pub method: String,
    /// Path as received (percent-encoded), without the query.
    pub path: String,
    /// Raw query string without `?`; empty when there is none.
    pub query: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The raw body (serialized as lossy UTF-8 text).
    #[serde(serialize_with = "lossy_text")]
    pub body: Bytes,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// When the request arrived (before any injected delay), for tests of pacing.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

impl RecordedRequest {
    /// First value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn lossy_text<S: Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(body))
}

/// A collection's records, keyed by normalized id, in insertion order.
#[derive(Debug)]
pub(crate) struct Collection {
    pub spec: CollectionSpec,
    pub records: IndexMap<String, Value>,
}

impl Collection {
    fn new(spec: CollectionSpec) -> Self {
        let mut collection = Collection {
            records: IndexMap::new(),
            spec: CollectionSpec {
                records: Vec::new(),
                ..spec.clone()
            },
        };
        for record in spec.records {
            collection.insert(record);
        }
        collection
    }

    /// Map key of an id as it appears in a path.
    pub fn key(&self, id: &str) -> String {
        if self.spec.id_case_insensitive {
            id.to_lowercase()
        } else {
            id.to_owned()
        }
    }

    /// Map key of a record, from its id field.
    fn key_of(&self, record: &Value) -> Option<String> {
        match lookup(record, &self.spec.id_field)? {
            Value::String(s) => Some(self.key(s)),
            Value::Null => None,
            other => Some(self.key(&other.to_string())),
        }
    }

    /// Finds a record by id, then by `lookup_fields`; returns its key.
    pub fn find(&self, id: &str) -> Option<String> {
        let id = self.spec.aliases.get(id).map_or(id, String::as_str);
        let key = self.key(id);
        if self.records.contains_key(&key) {
            return Some(key);
        }
        self.records.iter().find_map(|(k, record)| {
            let hit = self.spec.lookup_fields.iter().any(|field| match lookup(record, field) {
                Some(Value::String(s)) => self.key(s) == key,
                Some(Value::Null) | None => false,
                Some(other) => crate::template::value_to_text(other) == id,
            });
            hit.then(|| k.clone())
        })
    }

    /// A fresh id per the collection's generator (`None` for `generate_id: none`).
    pub fn new_id(&self) -> Option<Value> {
        match self.spec.generate_id {
            IdGenerator::Uuid => Some(Value::String(uuid::Uuid::new_v4().to_string())),
            IdGenerator::Hex24 => {
                let hex = uuid::Uuid::new_v4().simple().to_string();
                Some(Value::String(hex[..24].to_owned()))
            }
            // Numeric ids written as text (Zoho's `"id": "2060758"`) count too, and the
            // next one is text like them.
            IdGenerator::Sequence => {
                let ids: Vec<&Value> = self
                    .records
                    .values()
                    .filter_map(|r| lookup(r, &self.spec.id_field))
                    .collect();
                let max = ids
                    .iter()
                    .filter_map(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
                    .max()
                    .unwrap_or(0);
                let as_text = ids.last().is_some_and(|v| v.is_string());
                Some(if as_text {
                    Value::String((max + 1).to_string())
                } else {
                    Value::from(max + 1)
                })
            }
            IdGenerator::None => None,
        }
    }

    /// Inserts (or replaces) a record, giving it an id when it has none.
    pub fn insert(&mut self, mut record: Value) -> Option<String> {
        if self.key_of(&record).is_none() {
            let id = self.new_id()?;
            set_path(record.as_object_mut()?, &self.spec.id_field, id);
        }
        let key = self.key_of(&record)?;
        self.records.insert(key.clone(), record);
        Some(key)
    }
}

/// How many requests an emulator keeps: the last ones. A sandbox under load would otherwise
/// grow without bound (one record per request, with its headers and body); tests look at a
/// few hundred at most.
pub const MAX_RECORDED: usize = 10_000;

/// Everything that changes while the emulator runs.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub collections: IndexMap<String, Collection>,
    pub faults: Vec<ActiveFault>,
    /// The last [`MAX_RECORDED`] requests received, oldest first.
    pub requests: std::collections::VecDeque<RecordedRequest>,
    pub oauth: OAuthState,
    /// Nonces issued in HTTP Digest challenges.
    pub digest_nonces: crate::digest::Nonces,
}

impl State {
    /// Records a request, forgetting the oldest beyond [`MAX_RECORDED`].
    pub fn record(&mut self, request: RecordedRequest) {
        if self.requests.len() >= MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    pub fn seeded(spec: &EmulatorSpec) -> Self {
        State {
            collections: spec
                .file
                .collections
                .iter()
                .map(|(name, c)| (name.clone(), Collection::new(c.clone())))
                .collect(),
            ..State::default()
        }
    }

    /// The collection, created empty (id field `id`) when a test seeds an unknown one.
    pub fn collection_or_default(&mut self, name: &str) -> &mut Collection {
        self.collections.entry(name.to_owned()).or_insert_with(|| {
            Collection::new(CollectionSpec {
                id_field: "id".into(),
                id_case_insensitive: false,
                aliases: IndexMap::new(),
                lookup_fields: Vec::new(),
                generate_id: IdGenerator::Uuid,
                timestamps: None,
                version_field: None,
                version_start: 0,
                defaults: IndexMap::new(),
                records: Vec::new(),
            })
        })
    }
}

/// The spec and the state shared by the server task and every handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub spec: EmulatorSpec,
    state: Mutex<State>,
}

impl Shared {
    pub fn new(spec: EmulatorSpec) -> Self {
        let state = State::seeded(&spec);
        Shared {
            spec,
            state: Mutex::new(state),
        }
    }

    /// Locks the state. A panic while holding the lock cannot leave a record half-written
    /// (every update is a single map insert), so a poisoned lock is safe to keep using.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_requests_are_kept() {
        let mut state = State::default();
        for i in 0..MAX_RECORDED + 5 {
            state.record(RecordedRequest {
                method: "GET".into(),
                path: format!("/r/{i}"),
                query: String::new(),
                headers: Vec::new(),
                body: Bytes::new(),
                json: None,
                received_at: chrono::Utc::now(),
            });
        }
        assert_eq!(state.requests.len(), MAX_RECORDED);
        assert_eq!(state.requests.front().map(|r| r.path.as_str()), Some("/r/5"));
        assert_eq!(
            state.requests.back().map(|r| r.path.clone()),
            Some(format!("/r/{}", MAX_RECORDED + 4))
        );
    }
}
