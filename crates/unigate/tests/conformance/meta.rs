//! Meta's Business SDK spec (`meta-business-sdk-spec.json`): not OpenAPI but the format
//! Meta's SDK generator reads, one node (`Business`) with its `fields` and its `apis`:
//! the node's own `#get`/`#update` and its edges (`{method, endpoint, params}`, e.g.
//! `POST business_users` with `email` required). A request is an operation of it when it
//! addresses a business (`/{business-id}` or `/{business-id}/{edge}`); other nodes (a
//! business user, `/me`) are not described by the file.

use std::path::Path;

use serde_json::Value;
use unigate_emulator::RecordedRequest;

/// The businesses of the Meta emulator's seed (`catalog/integrations/meta-marketing/
/// emulator.yaml`): a one-segment path is the `Business` node only for these ids.
const BUSINESS_IDS: &[&str] = &["1010101010101010", "2020202020202020"];

/// Parameters every Graph call may take, which the SDK spec does not repeat per call.
const GRAPH_PARAMS: &[&str] = &["access_token", "appsecret_proof", "fields", "limit", "after", "before"];

pub(crate) struct MetaSdk {
    file: String,
    doc: Value,
    prefix: String,
}

impl MetaSdk {
    pub(crate) fn load(path: &Path, prefix: &str) -> Result<MetaSdk, String> {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{file}: {e}"))?;
        if !doc["apis"].is_array() || !doc["fields"].is_array() {
            return Err(format!(
                "{file} is not a Meta SDK node spec (`apis` and `fields`) either"
            ));
        }
        Ok(MetaSdk {
            file,
            doc,
            prefix: prefix.to_string(),
        })
    }

    pub(crate) fn check(&self, req: &RecordedRequest) -> Option<(String, Vec<String>)> {
        let path = req.path.strip_prefix(&self.prefix)?;
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if !BUSINESS_IDS.contains(segs.first()?) {
            return None;
        }
        let apis = self.doc["apis"].as_array()?;
        let (label, api) = match segs.len() {
            1 => {
                let name = match req.method.as_str() {
                    "GET" => "#get",
                    "POST" => "#update",
                    "DELETE" => "#delete",
                    _ => return None,
                };
                (name.to_string(), apis.iter().find(|a| a["name"] == name)?)
            }
            2 => (
                format!("{} {}", req.method, segs[1]),
                apis.iter()
                    .find(|a| a["endpoint"] == segs[1] && a["method"] == req.method.as_str())?,
            ),
            _ => return None,
        };
        let name = format!("Business {label} ({})", self.file);
        let mut problems = Vec::new();
        let declared: Vec<&Value> = api["params"].as_array().into_iter().flatten().collect();
        // Query parameters, and a write's JSON or form body.
        let mut given: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes()).into_owned().collect();
        match &req.json {
            Some(Value::Object(body)) => given.extend(
                body.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string))),
            ),
            Some(other) => problems.push(format!("the body is not an object: {other}")),
            None if !req.body.is_empty() => {
                given.extend(url::form_urlencoded::parse(&req.body).into_owned());
            }
            None => {}
        }
        for (k, _) in &given {
            if !GRAPH_PARAMS.contains(&k.as_str()) && !declared.iter().any(|p| p["name"] == k.as_str()) {
                problems.push(format!("parameter `{k}` is not a parameter of {label}"));
            }
        }
        for p in &declared {
            if p["required"] == true && !given.iter().any(|(k, _)| p["name"] == k.as_str()) {
                problems.push(format!(
                    "required parameter `{}` is missing",
                    p["name"].as_str().unwrap_or_default()
                ));
            }
        }
        // The fields read from the node itself are the node's fields.
        if label == "#get" {
            if let Some((_, fields)) = given.iter().find(|(k, _)| k == "fields") {
                for field in fields
                    .split(',')
                    .map(|f| f.split(['{', '.']).next().unwrap_or_default().trim())
                {
                    if !self.doc["fields"].as_array()?.iter().any(|f| f["name"] == field) {
                        problems.push(format!("`fields` names `{field}`, not a field of Business"));
                    }
                }
            }
        }
        let bearer = req.header("authorization").is_some_and(|a| a.starts_with("Bearer "));
        if !bearer && !given.iter().any(|(k, _)| k == "access_token") {
            problems.push("no access token (neither `Authorization: Bearer` nor `access_token`)".into());
        }
        Some((name, problems))
    }
}

#[test]
fn a_business_request_is_checked_against_its_edge() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("meta.json");
    let doc = serde_json::json!({
        "apis": [
            {"name": "#get", "method": "GET", "return": "Business", "params": []},
            {"method": "POST", "endpoint": "business_users", "return": "BusinessUser",
             "params": [{"name": "email", "required": true, "type": "string"}, {"name": "role", "required": false, "type": "string"}]}
        ],
        "fields": [{"name": "id", "type": "string"}, {"name": "name", "type": "string"}]
    });
    std::fs::write(&file, doc.to_string()).unwrap();
    let spec = MetaSdk::load(&file, "/v21.0").unwrap();
    let req = |method: &str, path: &str, query: &str, body: Option<Value>| {
        crate::recorded(method, path, query, &[("authorization", "Bearer t")], body)
    };
    let (_, ok) = spec
        .check(&req("GET", "/v21.0/1010101010101010", "fields=id,name", None))
        .unwrap();
    assert!(ok.is_empty(), "{ok:?}");
    let (_, bad) = spec
        .check(&req("GET", "/v21.0/1010101010101010", "fields=id,color", None))
        .unwrap();
    assert!(bad[0].contains("`color`"), "{bad:?}");
    let (_, bad) = spec
        .check(&req(
            "POST",
            "/v21.0/1010101010101010/business_users",
            "",
            Some(serde_json::json!({"role": "ADMIN", "title": "x"})),
        ))
        .unwrap();
    let bad = bad.join("\n");
    assert!(
        bad.contains("`title` is not a parameter") && bad.contains("`email` is missing"),
        "{bad}"
    );
    assert!(spec.check(&req("GET", "/v21.0/3141592653589793", "", None)).is_none());
}
