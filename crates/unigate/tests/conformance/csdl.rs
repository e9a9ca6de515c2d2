//! Microsoft Graph's official CSDL (`msgraph-v1-metadata.csdl.xml`), for the Graph calls the
//! derived `msgraph-v1-directory.yaml` has no path for (role definitions and assignments,
//! subscribed SKUs, directory audits). A request's path is resolved through the entity
//! container (an entity set or singleton, then keys and navigation properties), and then
//! checked: the method fits what the path names (a collection takes GET and POST, an entity
//! GET, PATCH and DELETE), the query parameters are OData system options with `$select`
//! naming properties of the type, a body's keys are properties of the type (its base types
//! included; `@` annotations allowed), and the credentials are Bearer.

use std::collections::HashMap;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;
use unigate_emulator::RecordedRequest;

/// The OData system query options Graph takes.
const SYSTEM_OPTIONS: &[&str] = &[
    "$select",
    "$filter",
    "$top",
    "$skip",
    "$orderby",
    "$expand",
    "$count",
    "$search",
    "$skiptoken",
];

#[derive(Default)]
struct Type {
    base: Option<String>,
    /// Structural and navigation property names.
    properties: Vec<String>,
    /// Navigation property name → (target type, whether it is a collection).
    navigation: HashMap<String, (String, bool)>,
}

pub(crate) struct Csdl {
    file: String,
    prefix: String,
    types: HashMap<String, Type>,
    /// Entity set or singleton name → (type, whether it is a collection).
    roots: HashMap<String, (String, bool)>,
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

impl Csdl {
    pub(crate) fn load(path: &Path, prefix: &str) -> Result<Csdl, String> {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut reader = quick_xml::Reader::from_str(text.trim_start_matches('\u{feff}'));
        reader.config_mut().trim_text(true);
        let mut types = HashMap::new();
        let mut roots = HashMap::new();
        // (namespace, alias) of the schema being read, and the type being read.
        let mut schema: (String, Option<String>) = Default::default();
        let mut current: Option<(String, Type)> = None;
        // Type names in the file are qualified by namespace or alias; stored by namespace.
        let qualify = |schema: &(String, Option<String>), t: &str| -> (String, bool) {
            let (inner, many) = match t.strip_prefix("Collection(").and_then(|s| s.strip_suffix(')')) {
                Some(inner) => (inner, true),
                None => (t, false),
            };
            let full = match &schema.1 {
                Some(alias) if inner.starts_with(&format!("{alias}.")) => {
                    format!("{}{}", schema.0, &inner[alias.len()..])
                }
                _ => inner.to_string(),
            };
            (full, many)
        };
        loop {
            let event = reader.read_event().map_err(|e| format!("{file}: {e}"))?;
            let (e, empty) = match &event {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(e) => {
                    if matches!(e.name().as_ref(), b"EntityType" | b"ComplexType") {
                        if let Some((name, t)) = current.take() {
                            types.insert(name, t);
                        }
                    }
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            match e.name().as_ref() {
                b"Schema" => schema = (attr(e, "Namespace").unwrap_or_default(), attr(e, "Alias")),
                b"EntityType" | b"ComplexType" => {
                    let name = format!("{}.{}", schema.0, attr(e, "Name").unwrap_or_default());
                    let base = attr(e, "BaseType").map(|b| qualify(&schema, &b).0);
                    let t = Type {
                        base,
                        ..Type::default()
                    };
                    if empty {
                        types.insert(name, t);
                    } else {
                        current = Some((name, t));
                    }
                }
                b"Property" => {
                    if let (Some((_, t)), Some(name)) = (current.as_mut(), attr(e, "Name")) {
                        t.properties.push(name);
                    }
                }
                b"NavigationProperty" => {
                    if let (Some((_, t)), Some(name), Some(target)) =
                        (current.as_mut(), attr(e, "Name"), attr(e, "Type"))
                    {
                        t.properties.push(name.clone());
                        t.navigation.insert(name, qualify(&schema, &target));
                    }
                }
                b"EntitySet" => {
                    if let (Some(name), Some(t)) = (attr(e, "Name"), attr(e, "EntityType")) {
                        roots.insert(name, (qualify(&schema, &t).0, true));
                    }
                }
                b"Singleton" => {
                    if let (Some(name), Some(t)) = (attr(e, "Name"), attr(e, "Type")) {
                        roots.insert(name, (qualify(&schema, &t).0, false));
                    }
                }
                _ => {}
            }
        }
        if roots.is_empty() {
            return Err(format!("{file}: no entity container"));
        }
        Ok(Csdl {
            file,
            prefix: prefix.to_string(),
            types,
            roots,
        })
    }

    /// The type and its base types, most derived first.
    fn lineage(&self, name: &str) -> Vec<&Type> {
        let mut out = Vec::new();
        let mut next = Some(name.to_string());
        while let Some(n) = next.take() {
            if let Some(t) = self.types.get(&n) {
                out.push(t);
                next = t.base.clone();
            }
            if out.len() > 16 {
                break;
            }
        }
        out
    }

    fn has_property(&self, type_name: &str, property: &str) -> bool {
        self.lineage(type_name)
            .iter()
            .any(|t| t.properties.iter().any(|p| p == property))
    }

    pub(crate) fn check(&self, req: &RecordedRequest) -> Option<(String, Vec<String>)> {
        let path = req.path.strip_prefix(&self.prefix)?;
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (mut type_name, mut many) = self.roots.get(*segs.first()?)?.clone();
        let mut template = vec![segs[0].to_string()];
        for seg in &segs[1..] {
            if many {
                // A key: the one entity of the collection.
                many = false;
                template.push("{id}".into());
                continue;
            }
            let (target, collection) = self
                .lineage(&type_name)
                .iter()
                .find_map(|t| t.navigation.get(*seg).cloned())?;
            type_name = target;
            many = collection;
            template.push(seg.to_string());
        }
        let name = format!("{} /{} ({})", req.method, template.join("/"), self.file);
        let mut problems = Vec::new();
        let allowed: &[&str] = if many {
            &["GET", "POST"]
        } else {
            &["GET", "PATCH", "DELETE", "PUT"]
        };
        if !allowed.contains(&req.method.as_str()) {
            problems.push(format!(
                "{} is not a method of {} (a {})",
                req.method,
                template.join("/"),
                if many { "collection" } else { "single entity" }
            ));
        }
        for (k, v) in url::form_urlencoded::parse(req.query.as_bytes()) {
            if !SYSTEM_OPTIONS.contains(&k.as_ref()) {
                problems.push(format!("query parameter `{k}` is not an OData system query option"));
            } else if k == "$select" {
                for p in v.split(',').map(str::trim) {
                    if !self.has_property(&type_name, p) {
                        problems.push(format!("`$select` names `{p}`, not a property of {type_name}"));
                    }
                }
            } else if matches!(k.as_ref(), "$top" | "$skip") && v.parse::<u64>().is_err() {
                problems.push(format!("`{k}={v}` is not a non-negative integer"));
            }
        }
        match &req.json {
            Some(Value::Object(body)) => {
                for k in body.keys() {
                    if !k.contains('@') && !self.has_property(&type_name, k) {
                        problems.push(format!("body field `{k}` is not a property of {type_name}"));
                    }
                }
            }
            Some(other) => problems.push(format!("the body is not an object: {other}")),
            None => {}
        }
        match req.header("authorization") {
            Some(a) if a.starts_with("Bearer ") => {}
            other => problems.push(format!("no OAuth Bearer credentials (Authorization: {other:?})")),
        }
        Some((name, problems))
    }
}

#[test]
fn a_path_resolves_through_singletons_keys_and_navigation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.xml");
    std::fs::write(
        &file,
        "\u{feff}<?xml version=\"1.0\"?><edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\"><edmx:DataServices>\
         <Schema Namespace=\"microsoft.graph\" Alias=\"graph\">\
         <EntityType Name=\"entity\" Abstract=\"true\"><Property Name=\"id\" Type=\"Edm.String\" /></EntityType>\
         <EntityType Name=\"role\" BaseType=\"graph.entity\"><Property Name=\"displayName\" Type=\"Edm.String\" /></EntityType>\
         <EntityType Name=\"rbac\" BaseType=\"graph.entity\"><NavigationProperty Name=\"roles\" Type=\"Collection(graph.role)\" ContainsTarget=\"true\" /></EntityType>\
         <EntityType Name=\"root\"><NavigationProperty Name=\"directory\" Type=\"graph.rbac\" ContainsTarget=\"true\" /></EntityType>\
         <EntityContainer Name=\"GraphService\"><Singleton Name=\"roleManagement\" Type=\"microsoft.graph.root\" /></EntityContainer>\
         </Schema></edmx:DataServices></edmx:Edmx>",
    )
    .unwrap();
    let csdl = Csdl::load(&file, "/v1.0").unwrap();
    let req = |method: &str, path: &str, query: &str, body: Option<Value>| {
        crate::recorded(method, path, query, &[("authorization", "Bearer t")], body)
    };
    let (op, ok) = csdl
        .check(&req(
            "GET",
            "/v1.0/roleManagement/directory/roles",
            "$select=id,displayName&$top=2",
            None,
        ))
        .unwrap();
    assert_eq!(op, "GET /roleManagement/directory/roles (tiny.xml)");
    assert!(ok.is_empty(), "{ok:?}");
    let (_, bad) = csdl
        .check(&req(
            "PATCH",
            "/v1.0/roleManagement/directory/roles/r1",
            "limit=2",
            Some(serde_json::json!({"displayName": "x", "colour": "red", "@odata.type": "#microsoft.graph.role"})),
        ))
        .unwrap();
    let bad = bad.join("\n");
    assert!(
        bad.contains("`limit`") && bad.contains("`colour`") && !bad.contains("displayName"),
        "{bad}"
    );
    let (_, bad) = csdl
        .check(&req("PATCH", "/v1.0/roleManagement/directory/roles", "", None))
        .unwrap();
    assert!(bad[0].contains("not a method"), "{bad:?}");
    assert!(csdl
        .check(&req("GET", "/v1.0/roleManagement/nothing", "", None))
        .is_none());
}
