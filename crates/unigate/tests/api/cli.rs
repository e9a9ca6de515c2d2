//! The `unigate` binary's `validate` command, on the shipped catalog and on broken ones.

use std::process::Command;

fn unigate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unigate"))
}

#[test]
fn the_shipped_catalog_validates() {
    let out = unigate().arg("validate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("catalog OK"));
}

#[test]
fn a_broken_catalog_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let gh = dir.path().join("integrations/github");
    std::fs::create_dir_all(&gh).unwrap();
    std::fs::write(
        gh.join("user-directory.yaml"),
        "organizations:\n  get:\n    resource: organizations.get\n    response_mapping: '{ \"id\": '\n  list:\n    resource: organizations.nope\n",
    )
    .unwrap();
    let bad = dir.path().join("integrations/bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("integration.yaml"),
        "name: bad\nlabel: Bad\nbase_url: https://x\nsurprise: 1\n",
    )
    .unwrap();

    let out = unigate().arg("validate").arg(dir.path()).output().unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("integrations/github/user-directory.yaml:4"), "{err}");
    assert!(err.contains("organizations.nope"), "{err}");
    assert!(err.contains("integrations/bad/integration.yaml"), "{err}");
    assert!(err.contains("surprise"), "{err}");
}
