//! The `unigate` binary: `validate` on the shipped catalog and on broken ones, `token`, and
//! the runtime `serve` picks.

use std::process::Command;

fn unigate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unigate"))
}

#[test]
fn the_shipped_catalog_validates_strictly() {
    let out = unigate().args(["validate", "--strict"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("catalog OK"));
}

/// A copy of a shipped integration under another name, changed by `edit` (file name and its
/// text), in a fresh catalog overlay.
fn copy_integration(dir: &std::path::Path, from: &str, to: &str, edit: impl Fn(&str, String) -> String) {
    let src = crate::helpers::catalog_dir().join("integrations").join(from);
    let dst = dir.join("integrations").join(to);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text =
            std::fs::read_to_string(&path)
                .unwrap()
                .replacen(&format!("name: {from}\n"), &format!("name: {to}\n"), 1);
        std::fs::write(dst.join(&file), edit(&file, text)).unwrap();
    }
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(dir: &std::path::Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_mapping_key_the_model_lacks_is_a_warning_and_an_error_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    copy_integration(dir.path(), "github", "gh-typo", |file, text| {
        if file == "user-directory.yaml" {
            text.replacen("\"name\": response.name ?", "\"nam\": response.name ?", 1)
        } else {
            text
        }
    });
    let file = "integrations/gh-typo/user-directory.yaml";
    let out = unigate().arg("validate").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a warning only: {err}");
    let line = line_of(dir.path(), file, "get:") + 2;
    assert!(
        err.contains(&format!(
            "warning: {file}:{line}: organizations.get.response_mapping builds `nam`"
        )),
        "{err}"
    );
    let out = unigate()
        .args(["validate", "--strict"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--strict"));
}

#[test]
fn errors_point_at_their_own_lines_and_one_broken_file_hides_no_other() {
    let dir = tempfile::tempdir().unwrap();
    // An unknown key inside `pagination` (a tagged enum, where serde gives no position).
    copy_integration(dir.path(), "github", "gh-pages", |file, text| {
        if file == "integration.yaml" {
            text.replacen("pagination:\n", "pagination:\n  bogus_key: 1\n", 1)
        } else {
            text
        }
    });
    // The same bad `response_path` on two resources.
    let paths_dir = dir.path().join("integrations/two-paths");
    std::fs::create_dir_all(&paths_dir).unwrap();
    std::fs::write(
        paths_dir.join("integration.yaml"),
        "name: two-paths\nlabel: Two paths\nbase_url: https://api.example.com\ncredentials:\n  format: api_key\n  fields:\n    - name: token\nauthorization:\n  format: bearer\n  value: \"{{context.token}}\"\nresources:\n  users:\n    list:\n      method: get\n      path: /users\n      response_path: \"items[\"\n  groups:\n    list:\n      method: get\n      path: /groups\n      response_path: \"items[\"\n",
    )
    .unwrap();
    let out = unigate().arg("validate").arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let pages = "integrations/gh-pages/integration.yaml";
    let bogus = line_of(dir.path(), pages, "bogus_key");
    assert!(
        err.contains(&format!("{pages}:{bogus}: unknown field `bogus_key`")),
        "{err}"
    );
    let paths = "integrations/two-paths/integration.yaml";
    let text = std::fs::read_to_string(dir.path().join(paths)).unwrap();
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("response_path: \"items[\""))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        assert!(err.contains(&format!("{paths}:{line}:")), "line {line} reported: {err}");
    }
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

#[tokio::test]
async fn a_token_minted_by_the_cli_opens_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = unigate()
        .args(["token", "create", "--name", "ci", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("ug_") && token.len() == 67, "{token}");

    let config = unigate::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let app = unigate::startup::Application::build(config, Default::default())
        .await
        .unwrap();
    assert!(app.bootstrap_token.is_none(), "the environment already exists");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let list_accounts = || async {
        reqwest::Client::new()
            .get(format!("{base}/integrated-account"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(list_accounts().await, 200);

    // Listed (never shown again), then revoked: the API refuses it.
    let out = unigate()
        .args(["token", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!listed.contains(&token), "{listed}");
    let line = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("ci"))
        .expect("the ci token is listed");
    let id = line.split('\t').next().unwrap();
    let out = unigate()
        .args(["token", "revoke", id, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = unigate()
        .args(["token", "revoke", id, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second revoke finds nothing");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no API token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Real time: the token cache's expiry reads std::time::Instant, which a paused clock does not move.
    tokio::time::sleep(unigate::tokens::TOKEN_CACHE_TTL).await;
    assert_eq!(list_accounts().await, 401);
}

#[test]
fn keys_rotate_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = unigate()
        .args(["keys", "rotate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 0 of 0 account(s)"));
}

/// The threads of a running `unigate serve` whose name is `name`, after it answered `/health`;
/// its "listening" line must report the runtime `worker_threads` asks for.
#[cfg(target_os = "linux")]
fn serve_threads_named(worker_threads: &str, name: &str) -> usize {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = unigate()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("UNIGATE_WORKER_THREADS", worker_threads)
        .env("UNIGATE_LOG", "info")
        .env("UNIGATE_LOG_FORMAT", "json")
        .env_remove("UNIGATE_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The JSON line announcing the address, read on a thread so a gateway that never
    // logs it fails the test instead of hanging it.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if v["fields"]["message"] == "unigate is listening" {
                let _ = tx.send(v["fields"].clone());
                return;
            }
        }
    });
    let fields = rx.recv_timeout(std::time::Duration::from_secs(60));
    let Ok(fields) = fields else {
        child.kill().unwrap();
        panic!("serve did not log its address within a minute");
    };
    assert_eq!(fields["worker_threads"].to_string(), worker_threads, "{fields}");
    let flavor = if worker_threads == "1" {
        "current_thread"
    } else {
        "multi_thread"
    };
    assert_eq!(fields["runtime"], flavor, "{fields}");
    assert_eq!(fields["runtime_workers"].to_string(), worker_threads, "{fields}");
    let address = fields["address"].as_str().unwrap().to_string();
    let mut conn = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let count = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count();
    child.kill().unwrap();
    child.wait().unwrap();
    count
}

#[test]
#[cfg(target_os = "linux")]
fn serve_runs_one_worker_on_the_current_thread_and_more_on_worker_threads() {
    // The runtime's own report is checked in `serve_threads_named`. The thread count is a
    // floor, not an equality: tokio names its blocking-pool threads like its workers, and
    // one may be alive for a moment (a DNS lookup, a file read) when the threads are counted.
    serve_threads_named("1", "tokio-rt-worker");
    assert!(serve_threads_named("2", "tokio-rt-worker") >= 2);
}

/// The secrets rule has no catalog exception: a field named like a credential cannot be
/// declared public.
#[test]
fn a_credential_named_field_cannot_be_public() {
    let dir = tempfile::tempdir().unwrap();
    copy_integration(dir.path(), "confluent", "cf-public-key", |file, text| {
        if file == "integration.yaml" {
            text.replacen(
                "label: Cloud API key\n",
                "label: Cloud API key\n      secret: false\n",
                1,
            )
        } else {
            text
        }
    });
    let file = "integrations/cf-public-key/integration.yaml";
    let out = unigate().arg("validate").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    let line = line_of(dir.path(), file, "- name: api_key");
    assert!(
        err.contains(&format!(
            "{file}:{line}: credential field `api_key` is named like a credential"
        )),
        "{err}"
    );
}
