//! Encodings, hashes and identifiers: `$base64encode`/`$base64decode` (with Truto's
//! URL-safe flag), `$digest`, `$sign`, `$uuid`, `$parseUrl`, `$parseQuery`,
//! `$stringifyQuery`.

use base64::Engine;
use hmac::{Hmac, Mac};
use indexmap::IndexMap;
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use serde_json::{Map, Value};
use sha2::Digest;

use super::{arg, err, js_string, out, truthy};

/// The text Truto's functions encode: `TextEncoder` takes `undefined` as empty.
fn text_of(v: Option<Value>) -> String {
    v.map_or_else(String::new, |v| js_string(&v))
}

const STANDARD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const URL_SAFE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `$base64encode(text[, urlSafe])`: UTF-8 bytes in base64; URL-safe without padding.
pub(super) fn base64_encode(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = text_of(arg(args, 0));
    let url_safe = arg(args, 1).as_ref().is_some_and(truthy);
    Ok(JValue::string(if url_safe {
        URL_SAFE.encode(text)
    } else {
        STANDARD.encode(text)
    }))
}

/// `$base64decode(text[, urlSafe])`: as the browser's `atob` (whitespace ignored, padding
/// optional), the bytes read as UTF-8 with a replacement character for invalid sequences.
pub(super) fn base64_decode(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    // `atob(undefined)` decodes the text "undefined" (and fails).
    let mut text = arg(args, 0).map_or_else(|| "undefined".to_string(), |v| js_string(&v));
    if arg(args, 1).as_ref().is_some_and(truthy) {
        text = text.replace('-', "+").replace('_', "/");
    }
    let mut clean: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r'))
        .collect();
    if clean.len() % 4 == 0 {
        for _ in 0..2 {
            if clean.ends_with('=') {
                clean.pop();
            }
        }
    }
    let invalid = || err("$base64decode: the string to be decoded is not correctly encoded".into());
    if clean.len() % 4 == 1 || clean.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/')) {
        return Err(invalid());
    }
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(clean.as_bytes())
        .or_else(|_| {
            // `atob` ignores the unused bits of the last character; the engine does not.
            base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
            )
            .decode(clean.as_bytes())
        })
        .map_err(|_| invalid())?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    Ok(JValue::string(String::from_utf8_lossy(bytes).into_owned()))
}

fn encode_bytes(bytes: &[u8], format: &str) -> JValue {
    match format {
        "hex" => JValue::string(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        "base64" => JValue::string(STANDARD.encode(bytes)),
        "base64-urlSafe" => JValue::string(URL_SAFE.encode(bytes)),
        _ => JValue::Undefined,
    }
}

/// `$digest(text, algorithm = "SHA-256", format = "hex")`: MD5, SHA-1, SHA-256, SHA-384
/// or SHA-512 of the UTF-8 text, as hex, base64 or URL-safe base64.
pub(super) fn digest(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = text_of(arg(args, 0));
    let algorithm = arg(args, 1).map_or_else(|| "SHA-256".to_string(), |a| js_string(&a));
    let format = arg(args, 2).map_or_else(|| "hex".to_string(), |f| js_string(&f));
    let bytes: Vec<u8> = if algorithm == "MD5" || algorithm == "md5" {
        md5::Md5::digest(text.as_bytes()).to_vec()
    } else {
        match algorithm.to_ascii_uppercase().as_str() {
            "SHA-1" => sha1::Sha1::digest(text.as_bytes()).to_vec(),
            "SHA-256" => sha2::Sha256::digest(text.as_bytes()).to_vec(),
            "SHA-384" => sha2::Sha384::digest(text.as_bytes()).to_vec(),
            "SHA-512" => sha2::Sha512::digest(text.as_bytes()).to_vec(),
            _ => return Err(err(format!("$digest: unrecognized algorithm name {algorithm}"))),
        }
    };
    // Truto's MD5 branch writes base64 for any format but hex.
    if (algorithm == "MD5" || algorithm == "md5") && format != "hex" && format != "base64-urlSafe" {
        return Ok(encode_bytes(&bytes, "base64"));
    }
    Ok(encode_bytes(&bytes, &format))
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], text: &[u8]) -> Vec<u8> {
    let mut mac =
        <M as Mac>::new_from_slice(key).unwrap_or_else(|_| <M as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(text);
    mac.finalize().into_bytes().to_vec()
}

/// `$sign(text, algorithm = "SHA-256", secret, format = "hex")`: an HMAC with SHA-1,
/// SHA-256, SHA-384 or SHA-512, or with `RS256` an RSASSA-PKCS1-v1_5 SHA-256 signature
/// with the PKCS#8 PEM private key in `secret` (as a JWT's `RS256`).
pub(super) fn sign(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = text_of(arg(args, 0));
    let algorithm = arg(args, 1)
        .filter(|a| !a.is_null())
        .map_or_else(|| "SHA-256".to_string(), |a| js_string(&a).trim().to_ascii_uppercase());
    let algorithm = if algorithm.is_empty() {
        "SHA-256".to_string()
    } else {
        algorithm
    };
    let secret = text_of(arg(args, 2));
    let format = arg(args, 3).map_or_else(|| "hex".to_string(), |f| js_string(&f));
    if secret.is_empty() {
        return Err(err("$sign: the secret must not be empty".into()));
    }
    let (key, data) = (secret.as_bytes(), text.as_bytes());
    let bytes = match algorithm.as_str() {
        "SHA-1" => hmac::<Hmac<sha1::Sha1>>(key, data),
        "SHA-256" => hmac::<Hmac<sha2::Sha256>>(key, data),
        "SHA-384" => hmac::<Hmac<sha2::Sha384>>(key, data),
        "SHA-512" => hmac::<Hmac<sha2::Sha512>>(key, data),
        "RS256" => rs256(&secret, data)?,
        other => return Err(err(format!("$sign: unrecognized algorithm name {other}"))),
    };
    Ok(encode_bytes(&bytes, &format))
}

/// An RS256 signature of `data` with the key in `pem`, read as Truto's library reads it:
/// literal `\n` sequences (a key pasted into JSON) become line breaks, the PEM must be
/// an unencrypted PKCS#8 `BEGIN PRIVATE KEY`, and its base64 body is decoded whatever its
/// line lengths.
fn rs256(pem: &str, data: &[u8]) -> Result<Vec<u8>, EvaluatorError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let pem = pem.replace("\\n", "\n");
    if !pem.contains(BEGIN) {
        return Err(err(
            "$sign: RS256 requires a PKCS#8 PEM private key (BEGIN PRIVATE KEY)".into(),
        ));
    }
    let body: String = pem
        .replacen(BEGIN, "", 1)
        .replacen(END, "", 1)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| err("$sign: the RS256 key's base64 is not correctly encoded".into()))?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        err(format!(
            "$sign: RS256 key import failed. Ensure an unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY) of an RSA key of 2048 to 8192 bits: {e}"
        ))
    })?;
    let mut signature = vec![0; key.public().modulus_len()];
    // PKCS#1 v1.5 is deterministic; ring asks for a random source all the same.
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        data,
        &mut signature,
    )
    .map_err(|_| err("$sign: RS256 signing failed".into()))?;
    Ok(signature)
}

/// `$uuid()`: a random (version 4) UUID.
pub(super) fn uuid(_: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(JValue::string(uuid::Uuid::new_v4().to_string()))
}

/// `$parseUrl(url)`: the parts of a WHATWG URL, as the browser's `URL` names them.
/// `searchParams` has only its `size`: its methods cannot be returned by a host function
/// (`$parseQuery($parseUrl(u).search, {"ignoreQueryPrefix": true})` reads the query).
pub(super) fn parse_url(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = text_of(arg(args, 0));
    let url = url::Url::parse(&text).map_err(|_| err(format!("$parseUrl: Invalid URL: {text}")))?;
    let port = url.port().map(|p| p.to_string()).unwrap_or_default();
    let hostname = url.host_str().unwrap_or_default().to_string();
    let host = if port.is_empty() {
        hostname.clone()
    } else {
        format!("{hostname}:{port}")
    };
    let search = url
        .query()
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let hash = url
        .fragment()
        .filter(|f| !f.is_empty())
        .map(|f| format!("#{f}"))
        .unwrap_or_default();
    let mut m = IndexMap::new();
    let s = |v: &str| JValue::string(v.to_string());
    m.insert("href".into(), s(url.as_str()));
    m.insert("origin".into(), s(&url.origin().ascii_serialization()));
    m.insert("protocol".into(), s(&format!("{}:", url.scheme())));
    m.insert("username".into(), s(url.username()));
    m.insert("password".into(), s(url.password().unwrap_or_default()));
    m.insert("host".into(), s(&host));
    m.insert("hostname".into(), s(&hostname));
    m.insert("port".into(), s(&port));
    m.insert("pathname".into(), s(url.path()));
    m.insert("hash".into(), s(&hash));
    m.insert("search".into(), s(&search));
    let mut params = IndexMap::new();
    params.insert("size".to_string(), JValue::Number(url.query_pairs().count() as f64));
    m.insert("searchParams".into(), JValue::object(params));
    Ok(JValue::object(m))
}

// ── qs ───────────────────────────────────────────────────────────────────────
//
// `$parseQuery`/`$stringifyQuery` are the npm package `qs` (bracket notation). No crate
// reads and writes it with qs's rules (serde_qs maps to types), so its core rules are here.

struct ParseOptions {
    delimiter: String,
    depth: usize,
    array_limit: usize,
    allow_dots: bool,
    parse_arrays: bool,
    comma: bool,
    ignore_prefix: bool,
    parameter_limit: usize,
}

fn opt_bool(o: Option<&Value>, k: &str, default: bool) -> bool {
    o.and_then(|o| o.get(k)).map_or(default, truthy)
}

fn opt_num(o: Option<&Value>, k: &str, default: usize) -> usize {
    o.and_then(|o| o.get(k))
        .and_then(Value::as_f64)
        .map_or(default, |n| n.max(0.0) as usize)
}

/// `decodeURIComponent` after `+` → space; text that does not decode stays as it is.
fn qs_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map_or(plus.clone(), |c| c.into_owned())
}

/// `$parseQuery(text[, options])`: `a[b][]=1&a[b][]=2&c=3` → `{"a": {"b": ["1", "2"]}, "c": "3"}`.
pub(super) fn parse_query(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let options = arg(args, 1);
    let o = options.as_ref();
    let opts = ParseOptions {
        delimiter: o
            .and_then(|o| o.get("delimiter"))
            .and_then(Value::as_str)
            .unwrap_or("&")
            .to_string(),
        depth: opt_num(o, "depth", 5),
        array_limit: opt_num(o, "arrayLimit", 20),
        allow_dots: opt_bool(o, "allowDots", false),
        parse_arrays: opt_bool(o, "parseArrays", true),
        comma: opt_bool(o, "comma", false),
        ignore_prefix: opt_bool(o, "ignoreQueryPrefix", false),
        parameter_limit: opt_num(o, "parameterLimit", 1000),
    };
    let text = match arg(args, 0) {
        None | Some(Value::Null) => return Ok(out(Value::Object(Map::new()))),
        Some(Value::String(s)) => s,
        Some(v @ Value::Object(_)) => return Ok(out(v)),
        Some(_) => return Ok(out(Value::Object(Map::new()))),
    };
    let text = if opts.ignore_prefix {
        text.strip_prefix('?').unwrap_or(&text).to_string()
    } else {
        text
    };
    // Duplicate keys gather into arrays first, as qs does.
    let mut flat: IndexMap<String, Value> = IndexMap::new();
    let delimiter = if opts.delimiter.is_empty() {
        "&".to_string()
    } else {
        opts.delimiter.clone()
    };
    for part in text.split(delimiter.as_str()).take(opts.parameter_limit) {
        if part.is_empty() {
            continue;
        }
        let split = part.find("]=").map(|i| i + 1).or_else(|| part.find('='));
        let (key, value) = match split {
            Some(i) => (qs_decode(&part[..i]), {
                let raw = &part[i + 1..];
                if opts.comma && raw.contains(',') {
                    Value::Array(raw.split(',').map(|v| Value::String(qs_decode(v))).collect())
                } else {
                    Value::String(qs_decode(raw))
                }
            }),
            None => (qs_decode(part), Value::String(String::new())),
        };
        if key.is_empty() {
            continue;
        }
        match flat.get_mut(&key) {
            Some(existing) => {
                let prev = std::mem::take(existing);
                *existing = match (prev, value) {
                    (Value::Array(mut a), Value::Array(b)) => {
                        a.extend(b);
                        Value::Array(a)
                    }
                    (Value::Array(mut a), b) => {
                        a.push(b);
                        Value::Array(a)
                    }
                    (a, Value::Array(b)) => Value::Array(std::iter::once(a).chain(b).collect()),
                    (a, b) => Value::Array(vec![a, b]),
                };
            }
            None => {
                flat.insert(key, value);
            }
        }
    }
    let mut result = Value::Object(Map::new());
    for (key, value) in flat {
        let built = build_keys(&key, value, &opts);
        merge(&mut result, built);
    }
    Ok(out(compact_arrays(result)))
}

/// The segments of `a[b][c]` (qs's `parseKeys`), at most `depth` of them in brackets and
/// the rest as one last segment.
fn key_segments(key: &str, opts: &ParseOptions) -> Vec<String> {
    let key = if opts.allow_dots {
        let re = dots_regex();
        re.replace_all(key, "[$1]").into_owned()
    } else {
        key.to_string()
    };
    let (parent, mut rest) = match key.find('[') {
        Some(0) => ("", key.as_str()),
        Some(i) => (&key[..i], &key[i..]),
        None => (key.as_str(), ""),
    };
    let mut segs = Vec::new();
    if !parent.is_empty() {
        segs.push(parent.to_string());
    }
    let mut n = 0;
    while n < opts.depth {
        let Some(start) = rest.find('[') else { break };
        let Some(end) = rest[start..].find(']') else { break };
        segs.push(rest[start..start + end + 1].to_string());
        rest = &rest[start + end + 1..];
        n += 1;
    }
    if !rest.is_empty() && rest.contains('[') {
        segs.push(format!("[{rest}]"));
    }
    if segs.is_empty() {
        segs.push(key.clone());
    }
    segs
}

fn dots_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    RE.get_or_init(|| regex::Regex::new(r"\.([^.\[]+)").unwrap())
}

fn build_keys(key: &str, value: Value, opts: &ParseOptions) -> Value {
    let segs = key_segments(key, opts);
    let mut leaf = value;
    for (i, seg) in segs.iter().enumerate().rev() {
        if i == 0 && !seg.starts_with('[') {
            let mut m = Map::new();
            m.insert(seg.clone(), leaf);
            leaf = Value::Object(m);
            continue;
        }
        let inner = &seg[1..seg.len().saturating_sub(1).max(1)];
        if inner.is_empty() && opts.parse_arrays {
            leaf = match leaf {
                Value::Array(a) => Value::Array(a),
                other => Value::Array(vec![other]),
            };
            continue;
        }
        let mut m = Map::new();
        match inner.parse::<usize>() {
            Ok(index) if opts.parse_arrays && index.to_string() == inner && index <= opts.array_limit => {
                m.insert(format!("{INDEX}{index}"), leaf);
            }
            _ => {
                m.insert(
                    if inner.is_empty() {
                        "0".to_string()
                    } else {
                        inner.to_string()
                    },
                    leaf,
                );
            }
        }
        leaf = Value::Object(m);
    }
    leaf
}

/// An array index read from `a[1]`: kept as an object key until every pair is merged, then
/// an object of indexes alone becomes the array of its values in index order (qs compacts
/// sparse arrays), and one mixed with names an object keyed by the index.
const INDEX: &str = "\u{0}qs-index:";

/// qs's `utils.merge`, on the shapes `build_keys` makes.
fn merge(target: &mut Value, source: Value) {
    if target.is_array() && source.is_object() {
        if let Value::Array(items) = std::mem::take(target) {
            *target = Value::Object(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{INDEX}{i}"), v))
                    .collect(),
            );
        }
    }
    match (target, source) {
        (Value::Object(t), Value::Object(s)) => {
            for (k, v) in s {
                match t.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(s)) => t.extend(s),
        (Value::Object(t), s) => {
            // qs adds a plain value to an object under its own text.
            if let Value::String(k) = &s {
                t.insert(k.clone(), Value::Bool(true));
            }
        }
        (t, s) => {
            let prev = std::mem::take(t);
            *t = match prev {
                Value::Array(mut a) => {
                    a.push(s);
                    Value::Array(a)
                }
                p => Value::Array(vec![p, s]),
            };
        }
    }
}

fn compact_arrays(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(compact_arrays).collect()),
        Value::Object(m) => {
            if !m.is_empty() && m.keys().all(|k| k.starts_with(INDEX)) {
                let mut items: Vec<(usize, Value)> = m
                    .into_iter()
                    .map(|(k, v)| (k[INDEX.len()..].parse().unwrap_or(0), compact_arrays(v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                return Value::Array(items.into_iter().map(|(_, v)| v).collect());
            }
            Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        let k = k.strip_prefix(INDEX).map_or_else(|| k.clone(), str::to_string);
                        (k, compact_arrays(v))
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

/// qs's encoder (RFC 3986: letters, digits and `-_.~` stay).
fn qs_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

struct StringifyOptions {
    encode: bool,
    values_only: bool,
    array_format: String,
    allow_dots: bool,
    skip_nulls: bool,
}

/// `$stringifyQuery(object[, options])`: `{"a": {"b": [1, 2]}}` → `a%5Bb%5D%5B0%5D=1&a%5Bb%5D%5B1%5D=2`.
pub(super) fn stringify_query(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let options = arg(args, 1);
    if options.as_ref().is_some_and(Value::is_array) {
        return Err(err("$stringifyQuery: the options must be an object".into()));
    }
    let o = options.as_ref();
    let opts = StringifyOptions {
        encode: opt_bool(o, "encode", true),
        values_only: opt_bool(o, "encodeValuesOnly", false),
        array_format: o
            .and_then(|o| o.get("arrayFormat"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                if o.and_then(|o| o.get("indices")) == Some(&Value::Bool(false)) {
                    "repeat".into()
                } else {
                    "indices".into()
                }
            }),
        allow_dots: opt_bool(o, "allowDots", false),
        skip_nulls: opt_bool(o, "skipNulls", false),
    };
    let delimiter = o
        .and_then(|o| o.get("delimiter"))
        .and_then(Value::as_str)
        .unwrap_or("&")
        .to_string();
    let prefix = if opt_bool(o, "addQueryPrefix", false) { "?" } else { "" };
    let mut pairs = Vec::new();
    match arg(args, 0) {
        Some(Value::Object(m)) => {
            for (k, v) in &m {
                stringify_value(k, v, &opts, &mut pairs);
            }
        }
        Some(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                stringify_value(&i.to_string(), v, &opts, &mut pairs);
            }
        }
        _ => {}
    }
    let joined = pairs.join(&delimiter);
    Ok(JValue::string(if joined.is_empty() {
        joined
    } else {
        format!("{prefix}{joined}")
    }))
}

fn stringify_value(prefix: &str, v: &Value, opts: &StringifyOptions, out: &mut Vec<String>) {
    let key = |k: &str| {
        if opts.encode && !opts.values_only {
            qs_encode(k)
        } else {
            k.to_string()
        }
    };
    let val = |s: &str| if opts.encode { qs_encode(s) } else { s.to_string() };
    match v {
        Value::Null => {
            if !opts.skip_nulls {
                out.push(format!("{}=", key(prefix)));
            }
        }
        Value::Array(items) => {
            if opts.array_format == "comma" {
                if !items.is_empty() {
                    let joined: Vec<String> = items
                        .iter()
                        .map(|x| if x.is_null() { String::new() } else { js_string(x) })
                        .collect();
                    out.push(format!("{}={}", key(prefix), val(&joined.join(","))));
                }
                return;
            }
            for (i, x) in items.iter().enumerate() {
                let k = match opts.array_format.as_str() {
                    "brackets" => format!("{prefix}[]"),
                    "repeat" => prefix.to_string(),
                    _ => format!("{prefix}[{i}]"),
                };
                stringify_value(&k, x, opts, out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let k = if opts.allow_dots {
                    format!("{prefix}.{k}")
                } else {
                    format!("{prefix}[{k}]")
                };
                stringify_value(&k, x, opts, out);
            }
        }
        other => out.push(format!("{}={}", key(prefix), val(&js_string(other)))),
    }
}

/// Extensions and their MIME types, from the npm package `mime` (Truto's `$getMimeType`).
const MIME_TYPES: &[(&str, &str)] = include!("mime_types.in");

/// `$getMimeType(fileName)`: the MIME type of a file name, path or bare extension (`mime`'s
/// `getType`); `null` when unknown.
pub(super) fn get_mime_type(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(Value::String(path)) = arg(args, 0) else {
        return Ok(JValue::Null);
    };
    let last = path.rsplit(['/', '\\']).next().unwrap_or_default().to_lowercase();
    let ext = last.rsplit('.').next().unwrap_or_default();
    let has_path = last.len() < path.len();
    let has_dot = ext.len() + 1 < last.len();
    if !has_dot && has_path {
        return Ok(JValue::Null);
    }
    Ok(MIME_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or(JValue::Null, |(_, t)| JValue::string(*t)))
}
