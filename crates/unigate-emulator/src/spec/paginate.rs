//! Paging of a `list`: the styles (page number, offset, cursor, `Range` header), where
//! their parameters are read, page sizes, and the envelope and headers of a page.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::template::{StrTemplate, Template};

/// Paging of a `list`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaginateSpec {
    pub style: PageStyle,
    /// Where the paging parameters are read: the query string or the JSON body.
    #[serde(default)]
    pub params_in: ParamsIn,
    /// `page` style: page number parameter.
    #[serde(default = "default_page_param")]
    pub page_param: String,
    /// Page size parameter (all styles), e.g. `per_page`, `size`, `limit`.
    #[serde(default = "default_size_param")]
    pub size_param: String,
    /// The page size comes from a `key=N` item of a request header instead (OData's
    /// `Prefer: odata.maxpagesize=N`); without that item, `size_param` applies.
    #[serde(default)]
    pub size_header: Option<SizeHeader>,
    /// `offset` style: offset parameter.
    #[serde(default = "default_offset_param")]
    pub offset_param: String,
    /// `cursor` style: the parameter carrying the cursor from the previous page.
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// `cursor` style: keyset paging. The cursor is this field's value in the last record
    /// of the previous page (NinjaOne's `after`, Stripe's `starting_after`), not an opaque
    /// offset; an unknown value is a `bad_request`.
    #[serde(default)]
    pub cursor_field: Option<String>,
    /// Number of the first page: 1 (GitHub) or 0 (Spring).
    #[serde(default = "one")]
    pub first_page: u64,
    #[serde(default = "default_size")]
    pub default_size: u64,
    /// Larger requested sizes are clamped to this.
    #[serde(default = "max_size")]
    pub max_size: u64,
    /// Add an RFC 8288 `Link` header (first, prev, next, last) with absolute URLs.
    #[serde(default)]
    pub link_header: bool,
    /// Response body; variables `items`, `page`, `size`, `total`, `total_pages`, `count`,
    /// `first`, `last`, `empty`, `has_more`, `offset`, `next_cursor`, `next_page`, `prev_page`,
    /// `next_url`. Default: the bare array (or `response.wrap`).
    #[serde(default)]
    pub envelope: Option<Template>,
    /// Extra headers (templates over the same variables), e.g. `X-Total-Count`.
    #[serde(default)]
    pub headers: IndexMap<String, StrTemplate>,
    /// `range` style: the unit of `Range: <unit>=0-49` and `Content-Range`. Default `items`.
    #[serde(default = "default_range_unit")]
    pub range_unit: String,
    /// `range` style: answer `Content-Range: items 0-49/*`, without the total.
    #[serde(default)]
    pub hide_total: bool,
}

fn default_range_unit() -> String {
    "items".into()
}

/// `size_header: { name: Prefer, key: odata.maxpagesize }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SizeHeader {
    /// Header name (case-insensitive); every value of it is read.
    pub name: String,
    /// The item carrying the size, matched case-insensitively.
    pub key: String,
}

fn default_page_param() -> String {
    "page".into()
}
fn default_size_param() -> String {
    "per_page".into()
}
fn default_offset_param() -> String {
    "offset".into()
}
fn default_cursor_param() -> String {
    "cursor".into()
}
fn one() -> u64 {
    1
}
fn default_size() -> u64 {
    30
}
fn max_size() -> u64 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PageStyle {
    /// Page number + size.
    Page,
    /// Offset + limit.
    Offset,
    /// Opaque cursor returned with each page.
    Cursor,
    /// The `Range` request header (`Range: items=0-49`), answered `206` with
    /// `Content-Range: items 0-49/200`; a range past the end is a `416`.
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ParamsIn {
    #[default]
    Query,
    Body,
}
