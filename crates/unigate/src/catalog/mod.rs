//! The catalog: unified models and integration definitions, as data.
//!
//! `types` is the file format; `registry` validates a set of files and compiles them
//! (templates parsed, JSONata parsed, cross references resolved) into an immutable
//! [`Registry`] shared by `Arc`. The shipped catalog is embedded in the binary; a
//! directory given with `--catalog` overrides or extends it file by file. `coverage`
//! computes, from a registry, which integration supports which unified method and field.
//! `openapi` builds the OpenAPI 3.1 document of the API a registry describes.

mod compile;
pub mod coverage;
pub mod lint;
pub mod mcp;
pub mod openapi;
pub mod overrides;
pub mod registry;
pub mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use registry::{CatalogError, Integration, Model, Registry, Resource, UnifiedMapping};

static EMBEDDED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../catalog");

/// Why [`load_registry`] found no catalog to serve.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read catalog directory {}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, not just the first.
    #[error("the catalog is invalid:\n  {}", one_a_line(.0))]
    Invalid(Vec<CatalogError>),
}

fn one_a_line(errors: &[CatalogError]) -> String {
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    list.join("\n  ")
}

/// Loads the built-in catalog, overlaid with `dir` if given.
pub fn load_registry(dir: Option<&Path>) -> Result<Registry, LoadError> {
    Registry::build(&sources(dir)?).map_err(LoadError::Invalid)
}

/// The built-in catalog's files, overlaid with `dir`'s.
fn sources(dir: Option<&Path>) -> Result<Sources, LoadError> {
    let mut sources = Sources::embedded();
    if let Some(dir) = dir {
        let extra = Sources::from_dir(dir).map_err(|source| LoadError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        sources = sources.overlay(extra);
    }
    Ok(sources)
}

/// As [`load_registry`], with the warnings of [`lint::lint`] (`unigate validate`).
pub fn load_and_lint(dir: Option<&Path>) -> Result<(Registry, Vec<CatalogError>), LoadError> {
    let sources = sources(dir)?;
    let registry = Registry::build(&sources).map_err(LoadError::Invalid)?;
    let warnings = lint::lint(&registry, &sources.files);
    Ok((registry, warnings))
}

/// The catalog's files, by path relative to the catalog root (`models/x.yaml`,
/// `integrations/github/integration.yaml`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<String, String>,
}

impl Sources {
    /// The catalog built into the binary.
    pub fn embedded() -> Self {
        let mut files = BTreeMap::new();
        collect_embedded(&EMBEDDED, &mut files);
        Sources { files }
    }

    /// Every `.yaml` file below `dir`.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let mut files = BTreeMap::new();
        collect_dir(dir, dir, &mut files)?;
        Ok(Sources { files })
    }

    /// Files of `other` replace files of `self` with the same path; new ones are added.
    pub fn overlay(mut self, other: Sources) -> Self {
        self.files.extend(other.files);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }
}

fn collect_embedded(dir: &include_dir::Dir<'static>, out: &mut BTreeMap<String, String>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        if path.ends_with(".yaml") {
            if let Some(text) = file.contents_utf8() {
                out.insert(path, text.to_string());
            }
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_dir(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

/// What a catalog directory holds now, cheaply: every file's path, size and modification
/// time. Two equal fingerprints mean nothing was written in between (as far as the file
/// system's timestamps tell), so a watcher reloads only on a change.
pub fn fingerprint(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, Option<std::time::SystemTime>)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                out.push((entry.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    Ok(out)
}
