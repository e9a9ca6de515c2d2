//! Which parts of its input an expression can read, found once at compile time, so that an
//! evaluation converts only those parts to jsonata-core's values.
//!
//! Converting the input was most of a mapping's cost: a provider record has dozens of fields
//! and a mapping reads a handful (GitHub's organization: 30 fields, 5 read). The JavaScript
//! reference reads its object in place; here every field converted costs a hashed insert and
//! an allocation or two. So [`Reads`] is the tree of field paths an expression reaches from
//! its input (`response.plan.name`), and the evaluation input is projected on it.
//!
//! The analysis is conservative: a field path is followed only through plain name steps from
//! the input (`response.plan.name`, `$.response`, `$$.context.org`); whatever a path reaches
//! is then included whole (`$removeEmpty(response.settings)` gets all of `settings`), and so
//! is the start of any step that is not a plain name (a filter, a wildcard, a function step),
//! since those may read anything below it. Whatever it cannot follow reads the whole input:
//! the parent operator `%`, focus and index bindings, `$eval`, transforms, and builtins that
//! may take the input itself as an implicit argument (`$string()`, `$lookup("k")`). The
//! tests in `mapping::tests` and `tests/bench_smoke` check that every catalog mapping gives
//! the same result projected as on its whole input.

use std::collections::BTreeMap;

use jsonata_core::ast::{AstNode, PathStep, Stage};

/// What an expression reads below one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reads {
    /// The whole value.
    All,
    /// Only these fields (of the value, or of each object in it when it is an array).
    Fields(BTreeMap<String, Reads>),
}

/// Where an expression is evaluated: on the input itself, or somewhere inside a part of it
/// that is already included whole (a step after a non-plain step, a filter, a sort term).
#[derive(Clone, Copy, PartialEq)]
enum At {
    Input,
    Inside,
}

/// Builtins that may be handed the context (at the top, the whole input) as their first
/// argument, with how many arguments they may be called with for that to happen.
const CONTEXT_FIRST: &[(&str, usize)] = &[("lookup", 1), ("each", 1), ("sift", 1)];
/// Builtins that take no argument and do not read the context.
const NO_CONTEXT: &[&str] = &["now", "millis", "random"];

/// The parts of the input `ast` can read.
pub fn analyse(ast: &AstNode) -> Reads {
    let mut reads = Reads::Fields(BTreeMap::new());
    match walk(ast, At::Input, &mut reads) {
        Ok(()) => reads,
        Err(Unknown) => Reads::All,
    }
}

struct Unknown;

impl Reads {
    /// Marks `path` (from this value) as read whole.
    fn include(&mut self, path: &[&str]) {
        let Reads::Fields(fields) = self else { return };
        match path.split_first() {
            None => *self = Reads::All,
            Some((first, rest)) => fields
                .entry((*first).to_string())
                .or_insert_with(|| Reads::Fields(BTreeMap::new()))
                .include(rest),
        }
    }
}

fn plain(step: &PathStep) -> bool {
    step.stages.is_empty()
        && step.focus.is_none()
        && step.index_var.is_none()
        && step.ancestor_label.is_none()
        && !step.is_tuple
        && !step.inner_tuple
}

fn walk(node: &AstNode, at: At, reads: &mut Reads) -> Result<(), Unknown> {
    match node {
        AstNode::String(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. } => Ok(()),
        // Variables hold values computed by expressions walked where they were bound.
        AstNode::Variable(name) if !name.is_empty() => Ok(()),
        AstNode::Name(name) => {
            if at == At::Input {
                reads.include(&[name]);
            }
            Ok(())
        }
        // `$` and wildcards at the top read the whole input; inside, a part already whole.
        AstNode::Variable(_) | AstNode::Wildcard | AstNode::Descendant => {
            if at == At::Input {
                reads.include(&[]);
            }
            Ok(())
        }
        // `$$` is the input wherever it appears.
        AstNode::ParentVariable(_) => {
            reads.include(&[]);
            Ok(())
        }
        AstNode::Path { steps } => walk_path(steps, at, reads),
        AstNode::Binary { lhs, rhs, .. } => {
            walk(lhs, at, reads)?;
            walk(rhs, at, reads)
        }
        AstNode::Unary { operand, .. } => walk(operand, at, reads),
        AstNode::FunctionApplication(inner) => walk(inner, at, reads),
        AstNode::Function { name, args, .. } => {
            if name == "eval" {
                return Err(Unknown);
            }
            let implicit = (args.is_empty() && !NO_CONTEXT.contains(&name.as_str()))
                || CONTEXT_FIRST.iter().any(|(n, max)| n == name && args.len() <= *max);
            if implicit && at == At::Input {
                reads.include(&[]);
            }
            args.iter().try_for_each(|a| walk(a, at, reads))
        }
        AstNode::Call { procedure, args } => {
            walk(procedure, at, reads)?;
            args.iter().try_for_each(|a| walk(a, at, reads))
        }
        // A lambda's body reads from the input it was defined on.
        AstNode::Lambda { body, .. } => walk(body, at, reads),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter().try_for_each(|i| walk(i, at, reads))
        }
        AstNode::Object(pairs) => pairs.iter().try_for_each(|(k, v)| {
            walk(k, at, reads)?;
            walk(v, at, reads)
        }),
        AstNode::ObjectTransform { input, pattern } => {
            walk(input, at, reads)?;
            pattern.iter().try_for_each(|(k, v)| {
                walk(k, At::Inside, reads)?;
                walk(v, At::Inside, reads)
            })
        }
        AstNode::Sort { input, terms } => {
            walk(input, at, reads)?;
            terms.iter().try_for_each(|(t, _)| walk(t, At::Inside, reads))
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            walk(condition, at, reads)?;
            walk(then_branch, at, reads)?;
            else_branch.as_deref().map_or(Ok(()), |e| walk(e, at, reads))
        }
        AstNode::Parent(_) | AstNode::Transform { .. } => Err(Unknown),
    }
}

fn walk_path(steps: &[PathStep], at: At, reads: &mut Reads) -> Result<(), Unknown> {
    if steps
        .iter()
        .any(|s| s.focus.is_some() || s.index_var.is_some() || s.ancestor_label.is_some() || s.is_tuple)
    {
        return Err(Unknown);
    }
    // The field path this path follows from the input, if it starts there.
    let mut prefix: Vec<&str> = Vec::new();
    let mut rest = steps;
    let from_input = match steps.first().map(|s| &s.node) {
        Some(AstNode::ParentVariable(v)) if v.is_empty() => true,
        Some(AstNode::Variable(v)) if v.is_empty() && at == At::Input => true,
        Some(AstNode::Name(_)) if at == At::Input => {
            rest = steps;
            true
        }
        _ => false,
    };
    if !from_input {
        let Some((first, after)) = steps.split_first() else {
            return Ok(());
        };
        walk_step(first, at, reads)?;
        return after.iter().try_for_each(|s| walk_step(s, At::Inside, reads));
    }
    if matches!(
        steps.first().map(|s| &s.node),
        Some(AstNode::ParentVariable(_) | AstNode::Variable(_))
    ) {
        if !plain(&steps[0]) {
            reads.include(&[]);
            return steps.iter().try_for_each(|s| walk_step(s, At::Inside, reads));
        }
        rest = &steps[1..];
    }
    let mut i = 0;
    while let Some(step) = rest.get(i) {
        match &step.node {
            AstNode::Name(name) => {
                prefix.push(name);
                i += 1;
                if !plain(step) {
                    // Filters and `[]` act on this field's value: include it whole.
                    break;
                }
            }
            _ => break,
        }
    }
    reads.include(&prefix);
    // The stages of the last name step, and every later step, work inside what was included.
    if let Some(last) = i.checked_sub(1).and_then(|j| rest.get(j)) {
        walk_stages(&last.stages, reads)?;
    }
    rest[i..].iter().try_for_each(|s| walk_step(s, At::Inside, reads))
}

fn walk_step(step: &PathStep, at: At, reads: &mut Reads) -> Result<(), Unknown> {
    walk(&step.node, at, reads)?;
    walk_stages(&step.stages, reads)
}

fn walk_stages(stages: &[Stage], reads: &mut Reads) -> Result<(), Unknown> {
    stages.iter().try_for_each(|s| match s {
        Stage::Filter(expr) => walk(expr, At::Inside, reads),
        Stage::KeepArray | Stage::Index(_) => Ok(()),
    })
}

/// Parses JSON text keeping only what `reads` reads (every item of an array as the array
/// itself): the other members are skipped without being built. A mapping reads a handful of a
/// provider record's fields; building the whole record as a `serde_json::Value` (a hashed
/// insert and an allocation or two per member) was the largest cost of a unified `get`
/// (`bench/ANALYSIS.md`, "Third pass"). The text is checked as fully as by
/// `serde_json::from_slice`: invalid JSON anywhere is an error.
pub fn parse_projected(text: &[u8], reads: &Reads) -> serde_json::Result<serde_json::Value> {
    use serde::de::DeserializeSeed;
    // Skipped strings are not checked for UTF-8 by serde_json; the whole text is, first
    // (then strings need no check of their own): with SIMD, a third of the standard
    // library's cost on a 1.8 KB answer; the standard library's again for the message of
    // a text that is not UTF-8.
    let text = simdutf8::basic::from_utf8(text)
        .or_else(|_| std::str::from_utf8(text))
        .map_err(<serde_json::Error as serde::de::Error>::custom)?;
    // Nor are `\uXXXX` escapes decoded in them, so a lone surrogate would pass: text with
    // a surrogate escape gets the full parse, which checks pairs, and is cut down after.
    let b = text.as_bytes();
    let surrogate = memchr::memchr_iter(b'\\', b).any(|i| {
        b.get(i + 1) == Some(&b'u')
            && matches!(b.get(i + 2), Some(b'd' | b'D'))
            && matches!(b.get(i + 3), Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'))
    });
    if surrogate {
        return serde_json::from_str(text).map(|v| cut(v, reads));
    }
    // The fast path first (it reads only what serde_json accepts); serde_json decides the
    // rest, and gives the error.
    if let Reads::Fields(_) = reads {
        if let Some(value) = super::scan::projected(text, reads) {
            return Ok(value);
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Projected(reads).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Checks that `text` is JSON, as fully as `serde_json::from_slice` checks it, building
/// nothing of it: for an answer passed on as it is (`truto_response_format=raw`), where a
/// whole parse was a fifth of a call's instructions (`bench/ANALYSIS.md`, eleventh pass).
pub fn check(text: &[u8]) -> serde_json::Result<()> {
    const NOTHING: &Reads = &Reads::Fields(BTreeMap::new());
    parse_projected(text, NOTHING).map(drop)
}

/// `v` cut down to `reads`, as [`parse_projected`] builds it.
fn cut(v: serde_json::Value, reads: &Reads) -> serde_json::Value {
    use serde_json::Value;
    match (reads, v) {
        (Reads::Fields(f), Value::Object(m)) => Value::Object(
            m.into_iter()
                .filter_map(|(k, x)| f.get(&k).map(|r| (k, cut(x, r))))
                .collect(),
        ),
        (Reads::Fields(_), Value::Array(items)) => Value::Array(items.into_iter().map(|x| cut(x, reads)).collect()),
        (_, v) => v,
    }
}

/// The field names of an expression that is only a path of plain names (`response.data.items`,
/// `response`): no filter, index, wildcard or function step.
pub fn field_path(ast: &AstNode) -> Option<Vec<&str>> {
    match ast {
        AstNode::Name(name) => Some(vec![name.as_str()]),
        AstNode::Path { steps } => steps
            .iter()
            .map(|step| match &step.node {
                AstNode::Name(name) if plain(step) => Some(name.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The numbers the input's field `name` must equal for `ast` to be `true`, when the
/// expression says so in its shape: `name = 429`, `or` of such terms, `and` with such a
/// term on either side, parentheses. `None` when it does not (then any value may give
/// `true`). A rate-limit check `status = 429 or (status = 403 and ...)` is then skipped for
/// the 200s that are almost every answer, instead of being evaluated on each.
pub fn true_only_when(ast: &AstNode, name: &str) -> Option<Vec<f64>> {
    use jsonata_core::ast::BinaryOp;
    match ast {
        AstNode::Block(items) if items.len() == 1 => true_only_when(&items[0], name),
        AstNode::Binary {
            op: BinaryOp::Equal,
            lhs,
            rhs,
        } => match (&**lhs, &**rhs) {
            (field, AstNode::Number(n)) | (AstNode::Number(n), field)
                if field_path(field).is_some_and(|p| p == [name]) =>
            {
                Some(vec![*n])
            }
            _ => None,
        },
        AstNode::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => {
            let mut values = true_only_when(lhs, name)?;
            values.extend(true_only_when(rhs, name)?);
            Some(values)
        }
        AstNode::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => true_only_when(lhs, name).or_else(|| true_only_when(rhs, name)),
        _ => None,
    }
}

/// Where each record of a list page is in its text: the byte range of each item of the
/// array at the field `path` (an empty path: the whole text is the array), for writing each
/// record's `remote_data` as the provider wrote it, as a `get` does. No records when the
/// field is absent or `null`, as a JSONata path gives none. `None` when the path does not
/// lead through objects to an array of objects: then the caller serializes the parsed
/// records. `text` is one the caller has already parsed as JSON; duplicate names resolve
/// as there (the last one).
pub fn record_spans(text: &[u8], path: &[&str]) -> Option<Vec<std::ops::Range<usize>>> {
    use serde::de::DeserializeSeed;
    let items = match Spans(path)
        .deserialize(&mut serde_json::Deserializer::from_slice(text))
        .ok()?
    {
        Found::Items(items) => items,
        Found::Nothing => return Some(Vec::new()),
        Found::Other => return None,
    };
    let base = text.as_ptr().addr();
    items
        .into_iter()
        .map(|raw| {
            let item = raw.get();
            let start = item.as_ptr().addr().checked_sub(base)?;
            let end = start.checked_add(item.len()).filter(|&end| end <= text.len())?;
            item.starts_with('{').then_some(start..end)
        })
        .collect()
}

/// What [`record_spans`] finds at the end of its path.
enum Found<'de> {
    /// An array: each item's text.
    Items(Vec<&'de serde_json::value::RawValue>),
    /// Nothing there, or `null`.
    Nothing,
    /// Something else, or a path it does not follow.
    Other,
}

/// Follows a path of names through objects, skipping every other member.
struct Spans<'p>(&'p [&'p str]);

impl<'de> serde::de::DeserializeSeed<'de> for Spans<'_> {
    type Value = Found<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Spans<'_> {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Found::Nothing)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Found::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Found::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Found::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Found::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Found::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.0.is_empty() {
            // A name step over an array maps over its items (JSONata): not followed here.
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(Found::Other);
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de serde_json::value::RawValue>()? {
            items.push(item);
        }
        Ok(Found::Items(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((first, rest)) = self.0.split_first() else {
            // One record rather than an array of them.
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            return Ok(Found::Other);
        };
        let mut found = Found::Nothing;
        while let Some(Key(k)) = map.next_key()? {
            if *k == **first {
                found = map.next_value_seed(Spans(rest))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct Projected<'r>(&'r Reads);

impl<'de> serde::de::DeserializeSeed<'de> for Projected<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.0 {
            Reads::All => serde::Deserialize::deserialize(d),
            Reads::Fields(_) => d.deserialize_any(self),
        }
    }
}

/// A member name, borrowed from the text when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Builds what `serde_json::Value`'s own deserializer builds, for the parts read.
impl<'de> serde::de::Visitor<'de> for Projected<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(serde_json::Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(serde_json::Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(serde_json::Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(serde_json::Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Projected(self.0))? {
            out.push(v);
        }
        Ok(serde_json::Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        let Reads::Fields(fields) = self.0 else {
            // `deserialize` reads a whole value itself.
            return Err(serde::de::Error::custom("a projection of the whole value"));
        };
        // The lengths of the names read (one bit each, 63 for any longer): most members
        // of a provider record are not read, and most of those are told apart by length
        // alone, without a lookup comparing names.
        let lengths = fields.keys().fold(0u64, |m, k| m | 1 << k.len().min(63));
        while let Some(Key(k)) = map.next_key()? {
            let maybe_read = lengths & 1 << k.len().min(63) != 0;
            match if maybe_read { fields.get(&*k) } else { None } {
                Some(r) => {
                    let v = map.next_value_seed(Projected(r))?;
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn statuses(src: &str) -> Option<Vec<f64>> {
        true_only_when(&jsonata_core::parser::parse(src).unwrap(), "status")
    }

    /// Only shapes that cannot be true for other statuses give a list; anything else is
    /// evaluated on every answer.
    #[test]
    fn a_check_true_only_for_some_statuses_says_which() {
        assert_eq!(statuses("status = 429"), Some(vec![429.0]));
        assert_eq!(statuses("429 = status"), Some(vec![429.0]));
        assert_eq!(
            statuses("status = 429 or (status = 403 and headers.`x-ratelimit-remaining` = \"0\")"),
            Some(vec![429.0, 403.0])
        );
        assert_eq!(
            statuses("status = 429 or (status = 403 and $count(response.error.errors[reason = \"x\"]) > 0)"),
            Some(vec![429.0, 403.0])
        );
        assert_eq!(
            statuses("headers.`x-ratelimit-remaining` = \"0\" and status = 403"),
            Some(vec![403.0])
        );
        // Could be true for any status.
        assert_eq!(statuses("status = 429 or response.error = \"rate_limited\""), None);
        assert_eq!(statuses("status >= 429"), None);
        assert_eq!(statuses("status != 200"), None);
        assert_eq!(statuses("not(status = 200)"), None);
        assert_eq!(statuses("response.status = 429"), None);
        assert_eq!(statuses("$status = 429"), None);
    }

    fn reads(src: &str) -> String {
        let ast = jsonata_core::parser::parse(src).unwrap();
        fmt(&analyse(&ast))
    }

    fn fmt(r: &Reads) -> String {
        match r {
            Reads::All => "*".into(),
            Reads::Fields(f) => {
                let inner: Vec<String> = f.iter().map(|(k, v)| format!("{k}:{}", fmt(v))).collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }

    #[test]
    fn plain_paths_read_only_their_fields() {
        assert_eq!(
            reads(r#"{ "id": response.login, "plan": response.plan.name, "x": $string(id) }"#),
            "{id:*,response:{login:*,plan:{name:*}}}"
        );
        assert_eq!(
            reads("$.response.id & $$.context.org"),
            "{context:{org:*},response:{id:*}}"
        );
    }

    #[test]
    fn a_non_plain_step_includes_what_it_starts_from() {
        assert_eq!(reads("response.items[type = 'a'].id"), "{response:{items:*}}");
        assert_eq!(reads("response.*.id"), "{response:*}");
        assert_eq!(reads("response.items^(name).id"), "{response:{items:*}}");
        assert_eq!(
            reads("$map(response.items, function($v) { $v.id })"),
            "{response:{items:*}}"
        );
    }

    #[test]
    fn what_cannot_be_followed_reads_everything() {
        for src in [
            "$",
            "$$",
            "*",
            "**.id",
            "response.%.id",
            "response.items@$i.x",
            "response.items#$i.x",
            "$eval('response.id')",
            "$string()",
            "$lookup('response')",
            "$each(function($v, $k) { $k })",
            "$ ~> | response | {'a': 1} |",
            "response.items.{ 'x': $$ }",
        ] {
            assert_eq!(reads(src), "*", "{src}");
        }
    }

    #[test]
    fn names_inside_steps_and_filters_are_relative() {
        assert_eq!(
            reads("response.items[$$.query.kind = kind].{ 'id': id, 'org': $$.context.org }"),
            "{context:{org:*},query:{kind:*},response:{items:*}}"
        );
    }
    fn any_reads() -> impl proptest::strategy::Strategy<Value = Reads> {
        use proptest::prelude::*;
        let leaf = prop_oneof![Just(Reads::All), Just(Reads::Fields(BTreeMap::new()))];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop::collection::btree_map(
                prop::sample::select(vec!["a".to_string(), "b".into(), "é\"".into()]),
                inner,
                0..3,
            )
            .prop_map(Reads::Fields)
        })
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            // Long enough for several of the scanner's sixteen-byte chunks.
            ".{0,60}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["a".to_string(), "b".into(), "c".into(), "é\"".into()]),
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// The serde_json path alone, as `parse_projected` ran before the fast path.
    fn serde_projected(text: &str, reads: &Reads) -> serde_json::Result<serde_json::Value> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Projected(reads).deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    /// Bytes that change what JSON text means, for mutations.
    const EDITS: &[u8] = b"\"\\,:{}[]0-.eE+ \x01\tutfn9";

    proptest::proptest! {
        /// The fast path reads every text serde_json writes, as serde_json reads it.
        #[test]
        fn the_fast_path_reads_what_serde_json_writes(v in any_json(), r in any_reads(), pretty in proptest::bool::ANY) {
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
            if let Reads::Fields(_) = r {
                proptest::prop_assert_eq!(super::super::scan::projected(&text, &r), Some(cut(v, &r)));
            }
        }

        /// Whatever the fast path accepts, serde_json accepts, with the same value; the
        /// texts are written ones with bytes replaced, inserted or removed.
        #[test]
        fn the_fast_path_accepts_nothing_serde_json_refuses(
            v in any_json(),
            r in any_reads(),
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::sample::select(EDITS.to_vec()), 0..3u8), 1..4),
        ) {
            let mut text = serde_json::to_vec(&v).unwrap();
            for (at, byte, how) in edits {
                let at = at % (text.len() + 1);
                match how {
                    0 if at < text.len() => text[at] = byte,
                    1 if at < text.len() => { text.remove(at); }
                    _ => text.insert(at, byte),
                }
            }
            let Ok(text) = std::str::from_utf8(&text) else { return Ok(()) };
            if let Some(fast) = super::super::scan::projected(text, &r) {
                proptest::prop_assert_eq!(serde_projected(text, &r).ok(), Some(fast), "{}", text);
            }
        }
    }

    /// The scanner reads strings sixteen bytes at a time: a byte that ends, escapes or spoils
    /// a string is found wherever it falls in a chunk, and in the bytes after the last.
    /// (Raw bytes: a control character, a quote, a backslash, escapes good and bad.)
    #[test]
    fn the_fast_path_finds_special_bytes_at_every_place_in_a_string() {
        use super::super::scan::projected;
        let reads = Reads::Fields(BTreeMap::from([("a".to_string(), Reads::All)]));
        for len in [1, 15, 16, 17, 33, 47] {
            for at in 0..len {
                for special in ["\u{1}", "\u{1f}", "\t", "\"", "\\", "\\n", "\\q", "\\u00e9", "é"] {
                    let mut inner = "x".repeat(len);
                    inner.replace_range(at..=at, special);
                    // Read and skipped, and last in the text (fewer than sixteen bytes left).
                    for text in [
                        format!(r#"{{"a": "{inner}", "b": 1}}"#),
                        format!(r#"{{"b": "{inner}", "a": 1}}"#),
                        format!(r#"{{"a": 1, "b": "{inner}"}}"#),
                    ] {
                        // Refused by both, or read alike (no surrogate here: nothing for
                        // the fast path to leave to serde_json).
                        assert_eq!(
                            projected(&text, &reads),
                            serde_projected(&text, &reads).ok(),
                            "{text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_fast_path_leaves_to_serde_json_what_it_is_unsure_of() {
        use super::super::scan::projected;
        let reads = Reads::Fields(BTreeMap::from([
            ("a".to_string(), Reads::All),
            ("n".to_string(), Reads::All),
            (
                "o".to_string(),
                Reads::Fields(BTreeMap::from([("x".to_string(), Reads::All)])),
            ),
        ]));
        // Refused by both (serde_json's skip passes a lone surrogate: `parse_projected`
        // catches it first).
        for bad in [
            r#"{"b": "\ud800"}"#,
            "{\"b\": 1e}",
            "{\"b\": -}",
            "{\"b\": [1,]}",
            "{\"b\": {\"c\": 1,}}",
            "{\"b\": \"a\u{1}\"}",
            "{\"b\": \"\\x\"}",
            "{\"b\": \"\\u12\"}",
            "{\"a\": 1,}",
            "{\"a\": 1}}",
            " ",
            // Long strings.
            "{\"b\": \"https://example.com/a\u{1f}b\"}",
            "{\"b\": \"https://example.com/a\\qb\"}",
            "{\"b\": \"https://example.com/unterminated}",
        ] {
            assert_eq!(projected(bad, &reads), None, "{bad}");
            assert!(parse_projected(bad.as_bytes(), &reads).is_err(), "{bad}");
        }
        // A number out of range read is serde_json's error; skipped, serde_json skips it too.
        assert_eq!(projected(r#"{"n": 1e400}"#, &reads), None);
        assert!(serde_projected(r#"{"n": 1e400}"#, &reads).is_err());
        assert_eq!(projected(r#"{"b": 1e400}"#, &reads), Some(serde_json::json!({})));
        // Nesting deeper than the fast path goes is serde_json's to read (or refuse).
        let deep = format!("{{\"b\": {}{}}}", "[".repeat(120), "]".repeat(120));
        assert_eq!(projected(&deep, &reads), None);
        assert!(serde_projected(&deep, &reads).is_ok());
        // Long strings, with escapes past the scanner's first words.
        let text = r#"{"a": "https://example.com/orgs/octo\"org\u00e9/x", "b": "https://example.com/\\/\n"}"#;
        assert_eq!(
            projected(text, &reads),
            Some(serde_json::json!({"a": "https://example.com/orgs/octo\"orgé/x"}))
        );
        // Escaped names are the names they spell; the last of two equal names counts, in
        // the first one's place; numbers are serde_json's.
        let text = r#"{"\u0061": "x\n", "o": {"x": [1, -0, 2.50, 18446744073709551616]}, "a": 12345678901234567890}"#;
        assert_eq!(projected(text, &reads), Some(serde_projected(text, &reads).unwrap()));
        assert_eq!(
            projected(text, &reads).unwrap().to_string(),
            r#"{"a":12345678901234567890,"o":{"x":[1,-0.0,2.5,1.8446744073709552e+19]}}"#
        );
    }

    proptest::proptest! {
        #[test]
        fn a_projected_parse_is_the_parse_cut_down(v in any_json(), r in any_reads(), pretty in proptest::bool::ANY) {
            let text = if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) }.unwrap();
            let got = parse_projected(&text, &r).unwrap();
            proptest::prop_assert_eq!(got, cut(v, &r));
        }
    }

    /// A text that is not UTF-8 is refused wherever the fault is in a long answer (the
    /// check runs on whole vectors there), with the standard library's message.
    #[test]
    fn text_that_is_not_utf8_is_refused_anywhere_in_a_long_answer() {
        let reads = Reads::Fields(BTreeMap::from([("a".to_string(), Reads::All)]));
        let good = format!(r#"{{"a": "{}", "b": "{}"}}"#, "é€😀x".repeat(40), "y".repeat(300));
        assert!(parse_projected(good.as_bytes(), &reads).is_ok());
        // A lone continuation byte, a truncated sequence, an overlong encoding, a surrogate
        // code point, a byte never in UTF-8.
        for fault in [&b"\x80"[..], b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff"] {
            for at in (7..good.len() - 3).step_by(13).filter(|&i| good.is_char_boundary(i)) {
                let mut bad = good.as_bytes().to_vec();
                bad.splice(at..at, fault.iter().copied());
                let err = parse_projected(&bad, &reads).unwrap_err();
                let expected = std::str::from_utf8(&bad).unwrap_err();
                assert_eq!(err.to_string(), expected.to_string(), "at {at}");
            }
        }
    }

    #[test]
    fn a_projected_parse_and_a_check_reject_what_a_full_parse_rejects() {
        let reads = Reads::Fields(BTreeMap::from([("a".to_string(), Reads::All)]));
        for bad in [
            &b"{\"a\": 1, \"b\": [1,}"[..],
            b"{\"a\": 1} x",
            b"{\"b\": \"\xff\"}",
            b"{\"a\": 1",
            b"",
            b"{\"b\": \"\x01\"}",
            b"{\"b\": \"\\q\"}",
            b"{\"b\": \"\\ud800\"}",
            b"{\"b\": 01}",
            b"{\"b\": 1.}",
            b"{\"b\": tru}",
            b"{\"b\": [1 2]}",
            b"{\"b\": {\"c\" 1}}",
        ] {
            assert!(serde_json::from_slice::<serde_json::Value>(bad).is_err());
            assert!(
                parse_projected(bad, &reads).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert!(check(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        for good in [
            &br#"[{"a": [1, {"b": null}]}, 2.5e3, "\ud83d\ude00"]"#[..],
            b" null ",
            b"{}",
        ] {
            assert!(check(good).is_ok(), "{}", String::from_utf8_lossy(good));
        }
        let dup = parse_projected(br#"{"a": 1, "x": {"deep": [1, 2]}, "a": 2}"#, &reads).unwrap();
        assert_eq!(
            dup,
            serde_json::from_slice::<serde_json::Value>(br#"{"a": 2}"#).unwrap()
        );
        let pair = parse_projected(br#"{"a": "\ud83d\ude00", "b": "\ud83d\ude00"}"#, &reads).unwrap();
        assert_eq!(pair, serde_json::json!({"a": "\u{1F600}"}));
    }

    fn spans(text: &str, path: &[&str]) -> Option<Vec<String>> {
        record_spans(text.as_bytes(), path).map(|v| v.into_iter().map(|r| text[r].to_string()).collect())
    }

    #[test]
    fn record_spans_are_each_items_bytes_at_the_path() {
        let page =
            "{\"data\": {\"n\": 2, \"items\": [ {\"id\": 1.50}, \n {\"id\": \"b\",\n \"x\": [1e2]} ]}, \"items\": 7}";
        assert_eq!(
            spans(page, &["data", "items"]).unwrap(),
            ["{\"id\": 1.50}", "{\"id\": \"b\",\n \"x\": [1e2]}"]
        );
        assert_eq!(spans(" [{\"a\": 1} ,{}] ", &[]).unwrap(), ["{\"a\": 1}", "{}"]);
        // An escaped name is the same name; the last of two equal names counts.
        assert_eq!(
            spans(r#"{"it\u0065ms": [{"a": 1}], "items": [{"a": 2}]}"#, &["items"]).unwrap(),
            [r#"{"a": 2}"#]
        );
        // No records, as a JSONata path finds none.
        for none in [
            r#"{"data": null}"#,
            r#"{"other": []}"#,
            r#"{"data": {"items": null}}"#,
            "[]",
        ] {
            assert_eq!(
                spans(none, &["data", "items"]).or(spans(none, &[])).unwrap(),
                Vec::<String>::new(),
                "{none}"
            );
        }
    }

    #[test]
    fn record_spans_give_up_where_the_records_are_not_an_array_of_objects_along_names() {
        for (page, path) in [
            (r#"{"items": [{"a": 1}, 2]}"#, &["items"][..]),
            (r#"{"items": [[{"a": 1}]]}"#, &["items"]),
            (r#"{"items": {"a": 1}}"#, &["items"]),
            (r#"{"items": "x"}"#, &["items"]),
            (r#"[{"items": [{"a": 1}]}]"#, &["items"]),
            (r#"{"a": 1}"#, &[]),
        ] {
            assert_eq!(spans(page, path), None, "{page}");
        }
    }

    #[test]
    fn a_field_path_is_only_plain_names() {
        let path = |src: &str| {
            let ast = jsonata_core::parser::parse(src).unwrap();
            field_path(&ast).map(|p| p.join("."))
        };
        assert_eq!(path("response.data.items").as_deref(), Some("response.data.items"));
        assert_eq!(path("response").as_deref(), Some("response"));
        for src in [
            "response.items[id = 1]",
            "response.items[]",
            "response.*",
            "$.response",
            "response.items.{ 'a': a }",
            "$merge(response)",
        ] {
            assert_eq!(path(src), None, "{src}");
        }
    }
}
