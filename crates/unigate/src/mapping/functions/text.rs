//! Text formats: HTML ⇄ Markdown, XML ⇄ objects (xml-js's compact form), CSV, and the
//! similarity of strings (`$diceCoefficient`, `$mostSimilar`).

use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::{arg, err, js_number, js_string, out, truthy};

// ── Similarity ───────────────────────────────────────────────────────────────

/// Truto's normalisation: lower case, letters and digits only.
fn normalise(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

/// The npm package `dice-coefficient`: Sørensen–Dice over bigrams (a one-character text is
/// its own bigram); two empty texts give `NaN`. The package pairs each bigram with an equal
/// one not yet paired, which counts, per bigram, the smaller of its two numbers of
/// occurrences: counted so here, in linear time.
fn dice(a: &str, b: &str) -> f64 {
    use std::collections::HashMap;
    let pairs = |s: &str| -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() == 1 {
            return vec![s.to_string()];
        }
        chars.windows(2).map(|w| w.iter().collect()).collect()
    };
    let (left, right) = (pairs(a), pairs(b));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in &right {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    let mut hits = 0u32;
    for l in &left {
        if let Some(n) = counts.get_mut(l.as_str()).filter(|n| **n > 0) {
            *n -= 1;
            hits += 1;
        }
    }
    2.0 * f64::from(hits) / (left.len() + right.len()) as f64
}

fn text_arg(args: &[JValue], i: usize, name: &str) -> Result<String, EvaluatorError> {
    match arg(args, i) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(err(format!("${name}: argument {} must be a string", i + 1))),
    }
}

fn number_or_null(n: f64) -> JValue {
    if n.is_finite() {
        JValue::Number(n)
    } else {
        JValue::Null
    }
}

/// `$diceCoefficient(a, b)`: 1 for the same text, else the coefficient of the normalised
/// texts.
pub(super) fn dice_coefficient(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    // `value === value2` first: also two missing values.
    if arg(args, 0) == arg(args, 1) && !matches!(arg(args, 0), Some(Value::Object(_) | Value::Array(_))) {
        return Ok(JValue::Number(1.0));
    }
    let (a, b) = (
        text_arg(args, 0, "diceCoefficient")?,
        text_arg(args, 1, "diceCoefficient")?,
    );
    Ok(number_or_null(dice(&normalise(&a), &normalise(&b))))
}

/// `$mostSimilar(value, candidates, threshold = 0.8)`: the most similar candidate when its
/// coefficient reaches the threshold, else the value.
pub(super) fn most_similar(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = text_arg(args, 0, "mostSimilar")?;
    let threshold = arg(args, 2).and_then(|t| t.as_f64()).unwrap_or(0.8);
    let candidates: Vec<Value> = match arg(args, 1) {
        Some(Value::Array(items)) => items,
        Some(Value::Object(m)) => m.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    let norm = normalise(&value);
    let (mut best, mut best_value) = (0.0, Value::String(String::new()));
    for c in candidates {
        let Value::String(s) = &c else {
            return Err(err("$mostSimilar: candidates must be strings".into()));
        };
        let sim = dice(&norm, &normalise(s));
        if sim > best {
            best = sim;
            best_value = c;
        }
    }
    Ok(if best >= threshold {
        out(best_value)
    } else {
        JValue::string(value)
    })
}

// ── HTML and Markdown ────────────────────────────────────────────────────────

/// `$convertHtmlToMarkdown(html)`: htmd, a port of turndown (Truto's converter), with
/// turndown's defaults (setext headings, indented code blocks, `*` bullets) and its
/// `gfm` plugin's strikethrough; GitHub tables are not converted (docs/jsonata-functions.md).
pub(super) fn html_to_markdown(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let html = match arg(args, 0) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(v) => js_string(&v),
    };
    use htmd::options::{
        BrStyle, BulletListMarker, CodeBlockFence, CodeBlockStyle, HeadingStyle, HrStyle, LinkReferenceStyle,
        LinkStyle, Options,
    };
    let converter = htmd::HtmlToMarkdown::builder()
        .options(Options {
            heading_style: HeadingStyle::Setex,
            hr_style: HrStyle::Asterisks,
            br_style: BrStyle::TwoSpaces,
            link_style: LinkStyle::Inlined,
            link_reference_style: LinkReferenceStyle::Full,
            code_block_style: CodeBlockStyle::Indented,
            code_block_fence: CodeBlockFence::Backticks,
            bullet_list_marker: BulletListMarker::Asterisk,
            preformatted_code: false,
        })
        // turndown's `gfm` plugin: strikethrough and tables. Cells and rows are marked with
        // separator characters, and the table lays them out once it has them all.
        .add_handler(vec!["del", "s", "strike"], |e: htmd::Element| {
            Some(format!("~~{}~~", e.content))
        })
        .add_handler(vec!["th", "td"], |e: htmd::Element| {
            let head = if e.tag == "th" { HEAD } else { "" };
            Some(format!(
                "{CELL}{head}{}",
                e.content.trim().replace('\n', " ").replace('|', "\\\\|")
            ))
        })
        .add_handler(vec!["tr"], |e: htmd::Element| Some(format!("{ROW}{}", e.content)))
        .add_handler(vec!["thead", "tbody", "tfoot"], |e: htmd::Element| {
            Some(e.content.to_string())
        })
        .add_handler(vec!["table"], |e: htmd::Element| Some(markdown_table(e.content)))
        .build();
    converter
        .convert(&html)
        .map(JValue::string)
        .map_err(|e| err(format!("$convertHtmlToMarkdown: {e}")))
}

const CELL: char = '\u{1f}';
const ROW: char = '\u{1e}';
const HEAD: &str = "\u{1d}";

/// A GitHub table from the marked rows and cells, as Truto's `gfm` plugin writes it: each
/// cell padded to 3 characters, the first row as the header, `---` under each header cell.
fn markdown_table(content: &str) -> String {
    let rows: Vec<Vec<String>> = content
        .split(ROW)
        .skip(1)
        .map(|row| {
            row.split(CELL)
                .skip(1)
                .map(|c| c.trim().trim_start_matches(HEAD).trim().to_string())
                .collect()
        })
        .filter(|cells: &Vec<String>| !cells.is_empty())
        .collect();
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut lines = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        lines.push(line(row.iter().map(|c| format!("{c:<3}")).collect()));
        if r == 0 {
            lines.push(line(row.iter().map(|_| "---".to_string()).collect()));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("\n\n{}\n\n", lines.join("\n"))
}

/// `$convertMarkdownToHtml(markdown)`: GitHub-flavoured Markdown (tables, strikethrough,
/// task lists, bare URLs as links) to HTML as `marked` (Truto's converter) writes it: HTML5
/// void tags (`<hr>`), quotes escaped in text, tables and task lists in its layout.
/// pulldown-cmark parses; the events are rewritten where `marked` writes differently.
pub(super) fn markdown_to_html(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    use pulldown_cmark::{Alignment, CowStr, Event, Tag, TagEnd};
    let Some(Value::String(md)) = arg(args, 0) else {
        return Err(err("$convertMarkdownToHtml: the argument must be a string".into()));
    };
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    options.insert(pulldown_cmark::Options::ENABLE_TASKLISTS);
    let html = |s: String| Event::Html(CowStr::from(s));
    let mut events = Vec::new();
    let (mut in_image, mut in_link, mut in_code_block) = (0usize, 0usize, false);
    let mut alignments: Vec<Alignment> = Vec::new();
    let (mut in_head, mut cell, mut body_open) = (false, 0usize, false);
    for event in pulldown_cmark::Parser::new_ext(&md, options) {
        match event {
            Event::Start(Tag::Image { .. }) => {
                in_image += 1;
                events.push(event);
            }
            Event::End(TagEnd::Image) => {
                in_image = in_image.saturating_sub(1);
                events.push(event);
            }
            Event::Start(Tag::Link { .. }) => {
                in_link += 1;
                events.push(event);
            }
            Event::End(TagEnd::Link) => {
                in_link = in_link.saturating_sub(1);
                events.push(event);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code_block = true;
                events.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                events.push(event);
            }
            Event::Text(t) if in_image == 0 => {
                if in_link == 0 && !in_code_block {
                    events.push(html(autolink(&t)));
                } else {
                    events.push(html(escape_html(&t)));
                }
            }
            Event::Code(t) if in_image == 0 => events.push(html(format!("<code>{}</code>", escape_html(&t)))),
            Event::TaskListMarker(done) => events.push(html(if done {
                r#"<input checked="" disabled="" type="checkbox"> "#.to_string()
            } else {
                r#"<input disabled="" type="checkbox"> "#.to_string()
            })),
            Event::Start(Tag::Table(a)) => {
                alignments = a;
                body_open = false;
                events.push(html("<table>\n".into()));
            }
            Event::End(TagEnd::Table) => {
                events.push(html(if body_open { "</tbody></table>\n" } else { "</table>\n" }.into()))
            }
            Event::Start(Tag::TableHead) => {
                in_head = true;
                cell = 0;
                events.push(html("<thead>\n<tr>\n".into()));
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                events.push(html("</tr>\n</thead>\n".into()));
            }
            Event::Start(Tag::TableRow) => {
                cell = 0;
                let open = if body_open { "" } else { "<tbody>" };
                body_open = true;
                events.push(html(format!("{open}<tr>\n")));
            }
            Event::End(TagEnd::TableRow) => events.push(html("</tr>\n".into())),
            Event::Start(Tag::TableCell) => {
                let tag = if in_head { "th" } else { "td" };
                let align = match alignments.get(cell) {
                    Some(Alignment::Left) => r#" align="left""#,
                    Some(Alignment::Center) => r#" align="center""#,
                    Some(Alignment::Right) => r#" align="right""#,
                    _ => "",
                };
                events.push(html(format!("<{tag}{align}>")));
            }
            Event::End(TagEnd::TableCell) => {
                events.push(html(if in_head { "</th>\n" } else { "</td>\n" }.into()));
                cell += 1;
            }
            other => events.push(other),
        }
    }
    let mut out = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    let out = void_tags().replace_all(&out, |c: &regex::Captures<'_>| {
        format!("<{}{}>", &c[1], c.get(2).map_or("", |m| m.as_str().trim_end()))
    });
    Ok(JValue::string(out.into_owned()))
}

/// `<hr />`, `<br />`, `<img ... />` written as HTML5's `<hr>`, as `marked` writes them.
fn void_tags() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    RE.get_or_init(|| regex::Regex::new(r"<(hr|br|img)((?:\s[^<>]*?)?)\s*/>").unwrap())
}

/// `marked`'s escaping of text: `&`, `<`, `>`, `"` and `'`; safe in HTML content and in
/// quoted attribute values (the `/docs` page uses it too).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text with its bare `http(s)://` and `www.` addresses as links (GFM's autolink
/// literals; trailing punctuation stays outside the link).
fn autolink(text: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    let re = RE.get_or_init(|| regex::Regex::new(r"(?:https?://|www\.)[^\s<]*[^\s<?!.,:*_~'\x22)]").unwrap());
    let mut out = String::new();
    let mut last = 0;
    for m in re.find_iter(text) {
        out.push_str(&escape_html(&text[last..m.start()]));
        let url = m.as_str();
        let href = if url.starts_with("www.") {
            format!("http://{url}")
        } else {
            url.to_string()
        };
        out.push_str(&format!("<a href=\"{}\">{}</a>", escape_html(&href), escape_html(url)));
        last = m.end();
    }
    out.push_str(&escape_html(&text[last..]));
    out
}

// ── XML (xml-js) ─────────────────────────────────────────────────────────────

struct XmlOptions {
    compact: bool,
    trim: bool,
    native_type: bool,
    ignore_declaration: bool,
    ignore_attributes: bool,
    ignore_comment: bool,
    ignore_cdata: bool,
    ignore_text: bool,
    ignore_doctype: bool,
    ignore_instruction: bool,
    always_array: bool,
}

/// xml-js's `nativeType`: numeric text as a number, `true`/`false` as booleans.
fn native(text: String) -> Value {
    let t = text.trim();
    let n = if t.is_empty() {
        Some(0.0)
    } else {
        super::js_to_number(Some(&Value::String(text.clone()))).into()
    }
    .filter(|n: &f64| !n.is_nan());
    if let Some(n) = n {
        return serde_json::Number::from_f64(n).map_or(Value::String(text.clone()), |_| super::number_value(n));
    }
    match text.to_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text),
    }
}

/// Adds `value` under `key`, turning a repeated key into an array (xml-js's `addField`).
fn add_field(target: &mut Map<String, Value>, key: &str, value: Value, always_array: bool) {
    match target.get_mut(key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let prev = std::mem::take(existing);
            *existing = Value::Array(vec![prev, value]);
        }
        None => {
            target.insert(
                key.to_string(),
                if always_array { Value::Array(vec![value]) } else { value },
            );
        }
    }
}

/// `$xmlToJs(xml, options = {"compact": true})`: xml-js's compact form (an element is a
/// key, repeated elements an array, text `_text`, attributes `_attributes`, and
/// `_declaration`, `_cdata`, `_comment`, `_doctype`, `_instruction`), or with options that do
/// not say `compact: true`, its full form (`{"elements": [{"type": "element", "name", ...}]}`).
pub(super) fn xml_to_js(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let xml = match arg(args, 0) {
        Some(Value::String(s)) => s,
        // xml-js reads null (and a number) as an empty document.
        Some(Value::Null | Value::Number(_) | Value::Bool(_)) => String::new(),
        // An array or object as JavaScript writes it as text (`""`, `[object Object]`).
        Some(v) => js_string(&v),
        None => return Err(err("$xmlToJs: the argument must be a string".into())),
    };
    let options = arg(args, 1);
    let o = options.as_ref();
    let flag = |k: &str| o.and_then(|o| o.get(k)).is_some_and(truthy);
    let opts = XmlOptions {
        compact: o.is_none() || flag("compact"),
        trim: flag("trim"),
        native_type: flag("nativeType"),
        ignore_declaration: flag("ignoreDeclaration"),
        ignore_attributes: flag("ignoreAttributes"),
        ignore_comment: flag("ignoreComment"),
        ignore_cdata: flag("ignoreCdata"),
        ignore_text: flag("ignoreText"),
        ignore_doctype: flag("ignoreDoctype"),
        ignore_instruction: flag("ignoreInstruction"),
        always_array: o.and_then(|o| o.get("alwaysArray")) == Some(&Value::Bool(true)),
    };
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().trim_text(false);
    // The open elements, innermost last, each with its name.
    let mut stack: Vec<(String, Map<String, Value>)> = vec![(String::new(), Map::new())];
    let text_value = |t: String| -> Option<Value> {
        if t.trim().is_empty() {
            return None;
        }
        let t = if opts.trim { t.trim().to_string() } else { t };
        Some(if opts.native_type { native(t) } else { Value::String(t) })
    };
    let trimmed = |t: String| if opts.trim { t.trim().to_string() } else { t };
    loop {
        let event = reader.read_event().map_err(|e| err(format!("$xmlToJs: {e}")))?;
        let top = stack.len() - 1;
        match event {
            Event::Eof => break,
            Event::Decl(d) => {
                if opts.ignore_declaration {
                    continue;
                }
                let body = String::from_utf8_lossy(&d).into_owned();
                let attrs: Map<String, Value> = decl_attrs(&body)
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                let mut decl = Map::new();
                if !attrs.is_empty() {
                    decl.insert(opts.key("attributes"), Value::Object(attrs));
                }
                stack[top].1.insert(opts.key("declaration"), Value::Object(decl));
            }
            Event::Start(e) => stack.push(open(&e, &opts)?),
            Event::Empty(e) => {
                stack.push(open(&e, &opts)?);
                close(&mut stack, &opts);
            }
            Event::End(_) => {
                if stack.len() > 1 {
                    close(&mut stack, &opts);
                }
            }
            Event::Text(t) => {
                if opts.ignore_text {
                    continue;
                }
                // An unknown entity (`&nbsp;`): xml-js's parser drops the text.
                let Ok(t) = t.unescape() else { continue };
                if top == 0 && !t.trim().is_empty() {
                    return Err(err("$xmlToJs: Text data outside of root node.".into()));
                }
                if let Some(v) = text_value(t.into_owned()) {
                    opts.add(&mut stack[top].1, "text", v);
                }
            }
            Event::CData(c) => {
                if !opts.ignore_cdata {
                    let t = trimmed(String::from_utf8_lossy(&c).into_owned());
                    opts.add(&mut stack[top].1, "cdata", Value::String(t));
                }
            }
            Event::Comment(c) => {
                if !opts.ignore_comment {
                    let t = trimmed(String::from_utf8_lossy(&c).into_owned());
                    opts.add(&mut stack[top].1, "comment", Value::String(t));
                }
            }
            Event::DocType(d) => {
                if !opts.ignore_doctype {
                    let t = String::from_utf8_lossy(&d).into_owned();
                    let t = trimmed(t.strip_prefix(' ').unwrap_or(&t).to_string());
                    opts.add(&mut stack[top].1, "doctype", Value::String(t));
                }
            }
            Event::PI(p) => {
                if !opts.ignore_instruction {
                    let body = String::from_utf8_lossy(&p).into_owned();
                    let (name, rest) = body.split_once(char::is_whitespace).unwrap_or((&body, ""));
                    let rest = if opts.trim { rest.trim() } else { rest.trim_start() };
                    if opts.compact {
                        let mut m = Map::new();
                        m.insert(name.to_string(), Value::String(rest.to_string()));
                        opts.add(&mut stack[top].1, "instruction", Value::Object(m));
                    } else {
                        let mut m = Map::new();
                        m.insert("type".into(), Value::String("instruction".into()));
                        m.insert("name".into(), Value::String(name.to_string()));
                        m.insert("instruction".into(), Value::String(rest.to_string()));
                        push_element(&mut stack[top].1, Value::Object(m));
                    }
                }
            }
        }
    }
    while stack.len() > 1 {
        close(&mut stack, &opts);
    }
    Ok(out(Value::Object(stack.pop().map(|(_, m)| m).unwrap_or_default())))
}

impl XmlOptions {
    /// The key of a node kind: `_text` in the compact form, `text` in the full one.
    fn key(&self, kind: &str) -> String {
        if self.compact {
            format!("_{kind}")
        } else {
            kind.to_string()
        }
    }

    /// Adds a text, CDATA, comment, doctype or instruction node to an element.
    fn add(&self, target: &mut Map<String, Value>, kind: &str, value: Value) {
        if self.compact {
            add_field(target, &self.key(kind), value, false);
        } else {
            let mut m = Map::new();
            m.insert("type".into(), Value::String(kind.to_string()));
            m.insert(kind.to_string(), value);
            push_element(target, Value::Object(m));
        }
    }
}

/// Appends a node to an element's `elements` (the full form).
fn push_element(target: &mut Map<String, Value>, node: Value) {
    match target.entry("elements").or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(node),
        other => *other = Value::Array(vec![node]),
    }
}

fn open(
    e: &quick_xml::events::BytesStart<'_>,
    opts: &XmlOptions,
) -> Result<(String, Map<String, Value>), EvaluatorError> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut element = Map::new();
    if !opts.compact {
        element.insert("type".into(), Value::String("element".into()));
        element.insert("name".into(), Value::String(name.clone()));
    }
    let mut attrs = Map::new();
    for a in e.attributes() {
        let a = a.map_err(|e| err(format!("$xmlToJs: {e}")))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
        let value = if opts.trim { value.trim().to_string() } else { value };
        attrs.insert(key, Value::String(value));
    }
    if !opts.ignore_attributes && !attrs.is_empty() {
        element.insert(opts.key("attributes"), Value::Object(attrs));
    }
    Ok((name, element))
}

/// Ends the innermost element: it becomes a field of its parent (compact) or one of its
/// `elements` (full).
fn close(stack: &mut Vec<(String, Map<String, Value>)>, opts: &XmlOptions) {
    if let Some((name, element)) = stack.pop() {
        if let Some((_, parent)) = stack.last_mut() {
            if opts.compact {
                add_field(parent, &name, Value::Object(element), opts.always_array);
            } else {
                push_element(parent, Value::Object(element));
            }
        }
    }
}

/// The `name="value"` pairs of an XML declaration.
fn decl_attrs(body: &str) -> Vec<(String, String)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    let re = RE.get_or_init(|| regex::Regex::new(r#"([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\w+))\s*"#).unwrap());
    re.captures_iter(body)
        .map(|c| {
            let v = c.get(2).or(c.get(3)).or(c.get(4)).map_or("", |m| m.as_str());
            (c[1].to_string(), v.to_string())
        })
        .collect()
}

struct ToXml {
    spaces: String,
    full_tag_empty: bool,
}

impl ToXml {
    /// xml-js's `writeElements` for the full form.
    fn full_elements(&self, elements: &[Value], depth: usize, first_line: bool) -> String {
        let mut xml = String::new();
        for e in elements {
            let indent = self.indentation(depth, first_line && xml.is_empty());
            let field = |k: &str| e.get(k).map(js_string).unwrap_or_default();
            match e.get("type").and_then(Value::as_str) {
                Some("element") => {
                    xml.push_str(&indent);
                    xml.push_str(&self.full_element(e, depth));
                }
                Some("comment") => xml.push_str(&format!("{indent}<!--{}-->", field("comment"))),
                Some("doctype") => xml.push_str(&format!("{indent}<!DOCTYPE {}>", field("doctype"))),
                Some("cdata") => xml.push_str(&format!(
                    "<![CDATA[{}]]>",
                    field("cdata").replacen("]]>", "]]]]><![CDATA[>", 1)
                )),
                Some("text") => xml.push_str(&Self::text(e.get("text").unwrap_or(&Value::Null))),
                Some("instruction") => {
                    let body = field("instruction");
                    let name = field("name");
                    xml.push_str(&if body.is_empty() {
                        format!("<?{name}?>")
                    } else {
                        format!("<?{name} {body}?>")
                    });
                }
                _ => {}
            }
        }
        xml
    }

    fn full_element(&self, e: &Value, depth: usize) -> String {
        let name = e.get("name").map(js_string).unwrap_or_default();
        let mut xml = format!("<{name}");
        if let Some(a) = e.get("attributes") {
            xml.push_str(&self.attributes(a));
        }
        let children = match e.get("elements") {
            Some(Value::Array(c)) if !c.is_empty() => Some(c),
            _ => None,
        };
        let preserve = e
            .get("attributes")
            .and_then(|a| a.get("xml:space"))
            .is_some_and(|s| s == "preserve");
        if children.is_none() && !preserve && !self.full_tag_empty {
            xml.push_str("/>");
            return xml;
        }
        xml.push('>');
        if let Some(children) = children {
            xml.push_str(&self.full_elements(children, depth + 1, false));
            let content = children.iter().any(|c| {
                !matches!(
                    c.get("type").and_then(Value::as_str),
                    Some("text" | "cdata" | "instruction")
                )
            });
            if content && !self.spaces.is_empty() {
                xml.push('\n');
                xml.push_str(&self.spaces.repeat(depth));
            }
        }
        xml.push_str(&format!("</{name}>"));
        xml
    }

    fn indentation(&self, depth: usize, first_line: bool) -> String {
        let newline = if !first_line && !self.spaces.is_empty() {
            "\n"
        } else {
            ""
        };
        format!("{newline}{}", self.spaces.repeat(depth))
    }

    fn attributes(&self, attrs: &Value) -> String {
        let Value::Object(m) = attrs else { return String::new() };
        let mut out = String::new();
        for (k, v) in m {
            if v.is_null() {
                continue;
            }
            out.push_str(&format!(" {k}=\"{}\"", js_string(v).replace('"', "&quot;")));
        }
        out
    }

    fn text(v: &Value) -> String {
        js_string(v)
            .replace("&amp;", "&")
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// xml-js's `hasContentCompact`: whether the element holds more than attributes (and,
    /// unless `any`, more than text).
    fn has_content(v: &Value, any: bool) -> bool {
        let Value::Object(m) = v else { return false };
        m.keys().any(|k| match k.as_str() {
            "_attributes" | "_parent" => false,
            "_text" | "_cdata" | "_instruction" => any,
            _ => true,
        })
    }

    fn element(&self, v: &Value, name: &str, depth: usize, indent: bool) -> String {
        if v.is_null() || v == "" {
            return if self.full_tag_empty {
                format!("<{name}></{name}>")
            } else {
                format!("<{name}/>")
            };
        }
        let mut xml = format!("<{name}");
        if !v.is_object() {
            xml.push_str(&format!(">{}</{name}>", Self::text(v)));
            return xml;
        }
        if let Some(a) = v.get("_attributes") {
            xml.push_str(&self.attributes(a));
        }
        let preserve = v
            .get("_attributes")
            .and_then(|a| a.get("xml:space"))
            .is_some_and(|s| s == "preserve");
        if !(Self::has_content(v, true) || preserve || self.full_tag_empty) {
            xml.push_str("/>");
            return xml;
        }
        xml.push('>');
        xml.push_str(&self.elements(v, depth + 1, false));
        if indent {
            xml.push_str(&self.indentation(depth, false));
        }
        xml.push_str(&format!("</{name}>"));
        xml
    }

    fn elements(&self, v: &Value, depth: usize, mut first_line: bool) -> String {
        let Value::Object(m) = v else { return String::new() };
        let mut parts: Vec<String> = Vec::new();
        for (key, value) in m {
            let nodes: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for node in nodes {
                match key.as_str() {
                    "_declaration" => {
                        let attrs = node.get("_attributes").map(|a| self.attributes(a)).unwrap_or_default();
                        parts.push(format!("<?xml{attrs}?>"));
                    }
                    "_instruction" => {
                        if let Value::Object(i) = node {
                            if let Some((name, body)) = i.iter().next() {
                                let body = if body.is_null() { String::new() } else { js_string(body) };
                                parts.push(if body.is_empty() {
                                    format!("<?{name}?>")
                                } else {
                                    format!("<?{name} {body}?>")
                                });
                            }
                        }
                    }
                    "_attributes" | "_parent" => {}
                    "_text" => parts.push(Self::text(node)),
                    "_cdata" => parts.push(format!(
                        "<![CDATA[{}]]>",
                        js_string(node).replacen("]]>", "]]]]><![CDATA[>", 1)
                    )),
                    "_doctype" => parts.push(format!(
                        "{}<!DOCTYPE {}>",
                        self.indentation(depth, first_line),
                        js_string(node)
                    )),
                    "_comment" => parts.push(format!(
                        "{}<!--{}-->",
                        self.indentation(depth, first_line),
                        js_string(node)
                    )),
                    name => parts.push(format!(
                        "{}{}",
                        self.indentation(depth, first_line),
                        self.element(node, name, depth, Self::has_content(node, false))
                    )),
                }
                first_line = first_line && parts.is_empty();
            }
        }
        parts.concat()
    }
}

/// `$jsToXml(object, options = {"compact": true, "spaces": 4})`: xml-js's writer, for the
/// compact form or (options without `compact: true`) the full one; `spaces` and
/// `fullTagEmptyElement` are read.
pub(super) fn js_to_xml(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = arg(args, 0).unwrap_or(Value::Null);
    let options = arg(args, 1);
    let o = options.as_ref();
    let compact = o.is_none() || o.and_then(|o| o.get("compact")).is_some_and(truthy);
    let spaces = match o.map_or(Some(&Value::from(4)), |o| o.get("spaces")) {
        Some(Value::Number(n)) => " ".repeat(n.as_u64().unwrap_or(0).min(16) as usize),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let writer = ToXml {
        spaces,
        full_tag_empty: o.and_then(|o| o.get("fullTagEmptyElement")).is_some_and(truthy),
    };
    if compact {
        return Ok(JValue::string(writer.elements(&value, 0, true)));
    }
    let mut xml = String::new();
    if let Some(decl) = value.get("declaration") {
        let attrs = decl.get("attributes").map(|a| writer.attributes(a)).unwrap_or_default();
        xml.push_str(&format!("<?xml{attrs}?>"));
    }
    if let Some(Value::Array(elements)) = value.get("elements") {
        let first = xml.is_empty();
        xml.push_str(&writer.full_elements(elements, 0, first));
    }
    Ok(JValue::string(xml))
}

// ── CSV (json2csv) ───────────────────────────────────────────────────────────

/// A CSV cell as json2csv writes it: text quoted (quotes doubled), numbers and booleans
/// bare, objects as quoted JSON, null and missing values empty.
fn csv_cell(v: Option<&Value>) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => quote(s),
        Some(Value::Number(n)) => js_number(n.as_f64().unwrap_or(0.0)),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => {
            let json = other.to_string();
            quote(&json)
        }
    }
}

/// `$jsonToCsv(records[, options])`: json2csv's `Parser` (options `fields` (names, paths
/// or `{label, value, default}`), `delimiter`, `eol`, `header`, `includeEmptyRows`,
/// `withBOM`, `defaultValue`).
pub(super) fn json_to_csv(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let rows: Vec<Value> = match arg(args, 0) {
        Some(Value::Array(items)) => items.into_iter().filter(truthy).collect(),
        Some(v) if truthy(&v) => vec![v],
        _ => Vec::new(),
    };
    if rows.is_empty() {
        return Ok(JValue::string(String::new()));
    }
    let options = arg(args, 1);
    let o = options.as_ref();
    let get_str = |k: &str, d: &str| {
        o.and_then(|o| o.get(k))
            .filter(|v| truthy(v))
            .map_or(d.to_string(), js_string)
    };
    let delimiter = get_str("delimiter", ",");
    let eol = get_str("eol", "\n");
    let header = o.and_then(|o| o.get("header")) != Some(&Value::Bool(false));
    let include_empty = o.and_then(|o| o.get("includeEmptyRows")).is_some_and(truthy);
    let with_bom = o.and_then(|o| o.get("withBOM")).is_some_and(truthy);
    let default_value = o.and_then(|o| o.get("defaultValue")).cloned();
    // (label, path, default)
    let fields: Vec<(String, String, Option<Value>)> = match o.and_then(|o| o.get("fields")) {
        Some(Value::Array(fields)) => fields
            .iter()
            .map(|f| match f {
                Value::Object(m) => {
                    let value = m.get("value").map(js_string).unwrap_or_default();
                    let label = m.get("label").map_or_else(|| value.clone(), js_string);
                    (
                        label,
                        value,
                        m.get("default").cloned().or_else(|| default_value.clone()),
                    )
                }
                other => (js_string(other), js_string(other), default_value.clone()),
            })
            .collect(),
        _ => {
            if !rows[0].is_object() && !rows[0].is_array() {
                return Err(err(
                    "$jsonToCsv: Data items should be objects or the \"fields\" option should be included".into(),
                ));
            }
            let mut names: Vec<String> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for r in &rows {
                if let Value::Object(m) = r {
                    for k in m.keys() {
                        if seen.insert(k.as_str()) {
                            names.push(k.clone());
                        }
                    }
                }
            }
            names
                .into_iter()
                .map(|n| (n.clone(), n, default_value.clone()))
                .collect()
        }
    };
    let mut lines = Vec::new();
    for row in &rows {
        let cells: Vec<String> = fields
            .iter()
            .map(|(_, path, default)| {
                let v = if path.contains('.') || path.contains('[') {
                    let parts: Vec<&str> = path.split(['.', '[', ']']).filter(|p| !p.is_empty()).collect();
                    parts.iter().try_fold(row, |v, k| match v {
                        Value::Object(m) => m.get(*k),
                        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                        _ => None,
                    })
                } else {
                    row.get(path.as_str())
                };
                // json2csv's default is for a missing value, not a null one.
                let v = v.or(default.as_ref());
                csv_cell(v)
            })
            .collect();
        if !include_empty && cells.iter().all(String::is_empty) {
            continue;
        }
        lines.push(cells.join(&delimiter));
    }
    let head = if header {
        fields
            .iter()
            .map(|(l, _, _)| format!("\"{}\"", l.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(&delimiter)
    } else {
        String::new()
    };
    let body = lines.join(&eol);
    let sep = if !head.is_empty() && !body.is_empty() {
        eol.as_str()
    } else {
        ""
    };
    Ok(JValue::string(format!(
        "{}{head}{sep}{body}",
        if with_bom { "\u{feff}" } else { "" }
    )))
}
