//! Workloads shared by the criterion benches (`benches/mapping.rs`, `benches/pipeline.rs`),
//! the suite's driver (`examples/bench.rs`) and the smoke test (`tests/bench_smoke`), so
//! that what is measured and what is tested to still run are the same code.
//!
//! Included with `#[path]` from each of those targets; each uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};
use unigate::catalog::types::UnifiedMethod;
use unigate::catalog::Registry;
use unigate::crypto::Keyring;
use unigate::mapping::Expr;
use unigate::pagination::{cursor, PageState};
use unigate::unified::format;
use unigate::unified::query::UnifiedQuery;

/// The repository's `catalog/integrations` folder (emulator definitions live only there).
pub fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../catalog/integrations")
}

/// One provider's organizations `get` response mapping with its input.
pub struct MappingCase {
    pub provider: String,
    pub expr: Expr,
    /// The evaluation input: `{response, headers, query, body, context, id, before}`.
    pub input: Value,
    /// The same input converted once to jsonata-core's value type, to measure the
    /// evaluation without the per-call conversion `Expr::eval` pays.
    pub input_j: jsonata_core::value::JValue,
}

/// Every provider with an organizations `get` response mapping and an emulator whose first
/// collection has a record: that record becomes `response`. Sorted by provider name.
pub fn mapping_cases(registry: &Registry) -> anyhow::Result<Vec<MappingCase>> {
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(catalog_dir())
        .context("cannot read catalog/integrations")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("emulator.yaml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let provider = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let Some(integration) = registry.integration(&provider) else {
            continue;
        };
        let Some(expr) = integration
            .unified("user-directory", "organizations", UnifiedMethod::Get)
            .and_then(|m| m.response_mapping.clone())
        else {
            continue;
        };
        let Some(record) = first_record(&dir.join("emulator.yaml"))? else {
            continue;
        };
        let id = record
            .as_object()
            .and_then(|o| o.values().find(|v| v.is_string() || v.is_number()))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let input = json!({
            "response": record, "headers": {}, "query": {}, "body": {}, "context": {},
            "id": id, "before": {},
        });
        let input_j = unigate::mapping::to_jvalue(&input);
        cases.push(MappingCase {
            provider,
            expr,
            input,
            input_j,
        });
    }
    Ok(cases)
}

/// The first record of the first collection of an `emulator.yaml`.
fn first_record(path: &std::path::Path) -> anyhow::Result<Option<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value = serde_norway::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
    let first = doc
        .get("collections")
        .and_then(Value::as_object)
        .and_then(|c| c.values().next())
        .and_then(|c| c.get("records"))
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .cloned();
    Ok(first)
}

/// One evaluation, as the gateway runs it for a `get`.
pub fn eval_mapping(case: &MappingCase) -> Option<Value> {
    case.expr.eval(&case.input).ok().flatten()
}

/// One evaluation on the pre-converted input (`Expr::eval_j`).
pub fn eval_mapping_preconverted(case: &MappingCase) -> Option<Value> {
    case.expr.eval_j(&case.input_j).ok().flatten()
}

/// A query string with every feature the parser handles.
pub const QUERY: &str = "integrated_account_id=3f1c2a8e-6d4b-4d1e-9a55-0c7e2b1d9f10\
    &truto_response_format=normalized&truto_ignore_remote_data=false\
    &truto_exclude_fields[]=remote_data.plan&truto_exclude_fields[]=created_at\
    &remote_query[filter][name]=octo&remote_query[sort]=asc&limit=50&custom_field=x";

pub fn parse_query(raw: &str) -> usize {
    UnifiedQuery::parse(Some(raw))
        .map(|q| q.exclude_fields.len())
        .unwrap_or(0)
}

/// Pipeline state built once: a keyring, a record, the organizations schema.
pub struct Pipeline {
    pub keyring: Keyring,
    pub record: Value,
    pub schema: Value,
    pub cursor: String,
}

pub const ACCOUNT: &str = "3f1c2a8e-6d4b-4d1e-9a55-0c7e2b1d9f10";

pub fn pipeline(registry: &Registry) -> Pipeline {
    let keyring = Keyring::from_key([7; 32]);
    let state = PageState::Url("https://api.github.com/user/orgs?page=7&per_page=100".into());
    let cursor = cursor::encode(&keyring, ACCOUNT, &state);
    let schema = registry
        .model("user-directory")
        .and_then(|m| m.resource("organizations"))
        .map(|r| r.schema.clone())
        .unwrap_or(Value::Null);
    let record = json!({
        "id": 6811672, "name": "Octo Org", "pricing_plan": "Medium",
        "created_at": "2014-02-19T21:47:10Z", "updated_at": 1_700_000_000,
        "remote_data": {"login": "octo-org", "id": 6811672, "plan": {"name": "Medium", "seats": 5},
                        "urls": [{"href": "a", "rel": "b"}, {"href": "c", "rel": "d"}]},
    });
    Pipeline {
        keyring,
        record,
        schema,
        cursor,
    }
}

pub fn cursor_round_trip(p: &Pipeline) -> bool {
    let state = PageState::Page(42);
    let c = cursor::encode(&p.keyring, ACCOUNT, &state);
    cursor::decode(&p.keyring, ACCOUNT, &c).is_ok_and(|s| s == state)
}

pub fn cursor_decode(p: &Pipeline) -> bool {
    cursor::decode(&p.keyring, ACCOUNT, &p.cursor).is_ok()
}

pub fn normalize(p: &Pipeline) -> Option<Value> {
    format::normalize(&p.record, &p.schema)
}

pub fn exclude(p: &Pipeline) -> Value {
    let mut v = p.record.clone();
    format::exclude(&mut v, &["remote_data.plan".into(), "remote_data.urls.href".into()]);
    v
}
