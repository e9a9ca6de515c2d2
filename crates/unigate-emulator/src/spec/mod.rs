//! The `emulator.yaml` format: plain serde structs (`deny_unknown_fields` everywhere), parsed
//! and checked once when the file is loaded, so the request path never meets a bad definition.
//!
//! Values that can be checked alone (regexes, path patterns, methods, templates) are checked
//! inside their `Deserialize` impls, so `serde_norway` reports them with line and column.
//! Cross-references (a route naming an unknown collection, ...) are checked afterwards in
//! `EmulatorSpec::validate` (`file.rs`); their line is found by locating the offending text in
//! the file.
//!
//! `crates/unigate-emulator/README.md` documents every key with examples.
//!
//! One file per part of the format, each importing only the ones below it:
//!
//! - `file`: the top-level keys, loading ([`EmulatorSpec`]), cross-field checks, [`SpecError`].
//! - `auth`: authentication schemes and header rules.
//! - `route`: routes, soft deletes, the answer's shape; `paginate`: paging of a `list`;
//!   `write`: write rules and field checks; `path`: path patterns.
//! - `collection`: collections, ids, timestamps and versions.
//! - `errors`: error kinds and the provider's error templates.
//! - `oauth`: the OAuth2 authorization server's settings.

mod auth;
mod collection;
mod errors;
mod file;
mod oauth;
mod paginate;
mod path;
mod route;
mod write;

pub use errors::ErrorKind;
pub use file::{EmulatorSpec, SpecError};

pub(crate) use collection::{CollectionSpec, IdGenerator, TimeFormat};
pub(crate) use oauth::{Grant, OAuthSpec, Pkce};
pub(crate) use paginate::{PageStyle, PaginateSpec, ParamsIn};
pub(crate) use route::{BodyFormat, FilterExpressionSpec, Op, ResponseSpec, RouteSpec, SearchQuerySpec};
pub(crate) use write::{FieldRule, FieldType, ReadOnlyMode, WriteSpec};
