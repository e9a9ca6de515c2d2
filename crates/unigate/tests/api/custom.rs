//! Providers defined by a test: a catalog folder overlaid on the built-in catalog
//! (`catalog_dir`) and an emulator of its own, for behaviour no shipped provider shows
//! (range pagination, request budgets, private addresses).

use serde_json::{json, Value};
use unigate::config::Config;
use unigate_emulator::{EmulatorSpec, RunningEmulator};

use crate::helpers::{spawn_app_with, TestApp};

pub struct CustomProvider {
    pub name: String,
    /// The catalog overlay; holds `integrations/<name>/integration.yaml`.
    pub dir: tempfile::TempDir,
    pub emulator: RunningEmulator,
}

/// The credentials every custom emulator checks (`Authorization: Bearer <token>`).
pub const TOKEN: &str = "custom-test-token";

/// Writes `integration` (YAML; `{{emulator}}` and `{{emulator_port}}` are replaced by the
/// emulator's base URL and port) as
/// the definition of `name`, and starts `emulator` (YAML) for it.
pub async fn custom_provider(name: &str, integration: &str, emulator: &str) -> CustomProvider {
    let spec = EmulatorSpec::from_yaml(name, emulator).unwrap();
    let running = unigate_emulator::start(spec).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("integrations").join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("integration.yaml"),
        integration
            .replace("{{emulator}}", &running.base_url())
            .replace("{{emulator_port}}", &running.local_addr().port().to_string()),
    )
    .unwrap();
    CustomProvider {
        name: name.to_string(),
        dir,
        emulator: running,
    }
}

/// The preamble every custom integration shares: bearer credentials under `token`.
pub fn integration_yaml(name: &str, base_url: &str, rest: &str) -> String {
    format!(
        "name: {name}\nlabel: {name}\nbase_url: {base_url}\ncredentials:\n  format: api_key\n  fields:\n    - name: token\nauthorization:\n  format: bearer\n  value: \"{{{{context.token}}}}\"\n{rest}"
    )
}

/// An emulator serving `count` records `{id: "1", name: "item 1"}`... under `routes`.
pub fn emulator_yaml(count: usize, routes: &str) -> String {
    let records: Vec<Value> = (1..=count)
        .map(|i| json!({ "id": i.to_string(), "name": format!("item {i}") }))
        .collect();
    format!(
        "credentials: {{ token: {TOKEN} }}\nauth:\n  - {{ header: Authorization, value: \"Bearer {{{{credentials.token}}}}\" }}\ncollections:\n  items:\n    records: {}\nroutes:\n{routes}",
        serde_json::to_string(&records).unwrap()
    )
}

/// The gateway with the provider's folder overlaid and, when `point_at_emulator`, its base
/// URL overridden to the emulator (as the operator's `base_url_overrides`).
pub async fn spawn_with(
    provider: &CustomProvider,
    point_at_emulator: bool,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_app_with(|c| {
        c.catalog_dir = Some(provider.dir.path().to_path_buf());
        if point_at_emulator {
            c.upstream
                .base_url_overrides
                .insert(provider.name.clone(), provider.emulator.base_url());
        }
        configure(c);
    })
    .await
}

/// Imports an account of the custom provider with the emulator's token, plus `extra`.
pub async fn connect(app: &TestApp, provider: &CustomProvider, extra: Value) -> String {
    let mut context = json!({ "token": TOKEN });
    if let (Value::Object(c), Value::Object(e)) = (&mut context, extra) {
        c.extend(e);
    }
    app.connect_with(&provider.name, context).await
}
