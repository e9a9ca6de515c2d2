//! The benchmarks are not part of the test run, but a smoke version of each is, so they
//! cannot rot: the criterion workloads run once each, and the whole suite (`bench/suite.py`,
//! what `bench/run.sh` runs) runs in `--smoke` mode on the debug binaries: tiny durations,
//! 1k records, and a printed note for each tool (wrk, nginx, node) this machine lacks.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

#[path = "../../benches/support/mod.rs"]
mod support;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_providers_organization_mapping_evaluates_to_a_record() {
    let registry = unigate::catalog::load_registry(None).unwrap();
    let cases = support::mapping_cases(&registry).unwrap();

    assert!(
        cases.len() >= 4,
        "expected the mapping benchmark to cover the catalog, got {}",
        cases.len()
    );
    for case in &cases {
        let out = support::eval_mapping(case);
        assert!(
            out.as_ref().is_some_and(|v| v.get("id").is_some()),
            "{}: the organizations get mapping gave no id on its emulator's first record: {out:?}",
            case.provider
        );
        // The evaluation converts only the fields the mapping reads (`mapping::reads`).
        assert_eq!(
            out,
            case.expr.eval_unprojected(&case.input).unwrap(),
            "{}: the projected input gave another result than the whole input",
            case.provider
        );
    }
}

#[test]
fn every_pipeline_workload_runs() {
    let registry = unigate::catalog::load_registry(None).unwrap();
    let p = support::pipeline(&registry);

    assert_eq!(support::parse_query(support::QUERY), 2);
    assert!(support::cursor_round_trip(&p));
    assert!(support::cursor_decode(&p));
    let normalized = support::normalize(&p).unwrap();
    assert_eq!(normalized["id"], "6811672");
    assert!(normalized.get("remote_data").is_none());
    let excluded = support::exclude(&p);
    assert!(excluded["remote_data"].get("plan").is_none());
    assert!(excluded["remote_data"]["urls"][0].get("href").is_none());
}

#[test]
fn the_whole_suite_runs_in_smoke_mode() {
    if Command::new("python3").arg("--version").output().is_err() {
        println!("note: python3 is missing; the suite's smoke run is skipped");
        return;
    }
    // `cargo test` builds the examples next to the test binaries' `deps` folder.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let driver = profile_dir
        .join("examples")
        .join(format!("bench{}", std::env::consts::EXE_SUFFIX));
    if !driver.exists() {
        println!(
            "note: {} is not built (run `cargo test` without target filters, or `cargo build -p unigate \
             --example bench`); the suite's smoke run is skipped",
            driver.display()
        );
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let report = out_dir.path().join("BENCHMARKS.md");

    let output = Command::new("python3")
        .arg(repo_root().join("bench/suite.py"))
        .arg("--smoke")
        .arg("--gateway-bin")
        .arg(env!("CARGO_BIN_EXE_unigate"))
        .arg("--driver-bin")
        .arg(&driver)
        .arg("--out")
        .arg(&report)
        .current_dir(repo_root())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(output.status.success(), "bench/suite.py --smoke failed:\n{stderr}");
    let text = std::fs::read_to_string(&report).unwrap();
    for section in [
        "## Machine",
        "## 1. Gateway overhead",
        "## 2. Mapping engine",
        "## 3. List streaming",
        "## 4. Footprint",
        "## Targets",
    ] {
        assert!(text.contains(section), "the report lacks {section}:\n{text}");
    }
    assert!(
        text.contains("| stream | 1,000 | 1,000 |"),
        "the 1k stream did not deliver every record:\n{text}"
    );
    assert!(
        text.contains("| pages | 1,000 | 1,000 |"),
        "the 1k paged list did not deliver every record:\n{text}"
    );
    assert!(text.contains("| github |"), "the mapping table lacks GitHub:\n{text}");
}
