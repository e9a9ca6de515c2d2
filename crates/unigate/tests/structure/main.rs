//! The import rules of ARCHITECTURE.md, checked on the source: every `crate::` path in a
//! module names a module of a lower layer (doc comments and test modules aside), so a change
//! that makes an arrow run back up the flow fails here, naming the file and the import.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// ARCHITECTURE.md's layers, top to bottom; a module may import only from later rows.
const LAYERS: &[&[&str]] = &[
    &["main", "startup", "telemetry"],
    &["http"],
    &["unified", "auth"],
    &["state"],
    &["accounts"],
    &["webhooks"],
    &["error"],
    &["upstream"],
    &["catalog"],
    &["pagination", "tokens", "request_log"],
    &[
        "mapping",
        "store",
        "crypto",
        "address_policy",
        "query_pairs",
        "config",
        "metrics",
    ],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::<module>` paths of a file's code: comments and `#[cfg(test)]` modules
/// left out (tests may reach anywhere).
fn crate_paths(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let ident = |s: &str| -> String {
                s.trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            };
            match rest.strip_prefix('{') {
                // `crate::{a, b::C}`: each path's first name.
                Some(group) => {
                    let group = group.split('}').next().unwrap_or_default();
                    out.extend(group.split(',').map(ident).filter(|n| !n.is_empty()));
                }
                None => out.push(ident(rest)),
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_from_layers_below_its_own() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let own = layer(&module).unwrap_or_else(|| {
            panic!(
                "{module} (src/{}) is in no layer: add it to ARCHITECTURE.md and LAYERS",
                relative.display()
            )
        });
        for used in crate_paths(&std::fs::read_to_string(file).unwrap()) {
            if used == module {
                continue;
            }
            match layer(&used) {
                Some(l) if l > own => {}
                Some(_) => wrong.push(format!("src/{} imports crate::{used}", relative.display())),
                None => wrong.push(format!(
                    "src/{} imports crate::{used}, which is in no layer",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the flow (ARCHITECTURE.md, 'Which module may import which'):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_paths_in_code_and_skips_comments_and_tests() {
    let text = "use crate::store::Store;\nuse crate::{config::Config, crypto};\n/// see `crate::http`\nfn f() { crate::mapping::object([]); } // crate::unified\n#[cfg(test)]\nmod tests { use crate::startup; }\n";
    assert_eq!(crate_paths(text), ["store", "config", "crypto", "mapping"]);
}
