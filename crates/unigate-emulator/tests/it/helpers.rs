use std::path::PathBuf;

use unigate_emulator::{start, EmulatorSpec, RunningEmulator};

pub fn catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../catalog/integrations")
}

pub fn spec(provider: &str) -> EmulatorSpec {
    let path = catalog().join(provider).join("emulator.yaml");
    EmulatorSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub async fn spawn(provider: &str) -> RunningEmulator {
    start(spec(provider)).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[test]
fn every_emulator_in_the_catalog_loads() {
    let mut loaded = 0;
    for entry in std::fs::read_dir(catalog()).unwrap() {
        let path = entry.unwrap().path().join("emulator.yaml");
        if path.is_file() {
            EmulatorSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            loaded += 1;
        }
    }
    assert!(loaded >= 4, "only {loaded} emulators found");
}

#[test]
fn a_broken_file_is_reported_with_its_name_and_line() {
    let dir = std::env::temp_dir().join(format!("unigate-emulator-test-{}", std::process::id()));
    let folder = dir.join("broken");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("emulator.yaml");
    std::fs::write(&file, "routes:\n  - method: GET\n    path: /x\n    op: fetch\n").unwrap();
    let err = EmulatorSpec::from_file(&file).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with(&format!("{}:4:", file.display())), "{text}");
    assert!(text.contains("fetch"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
