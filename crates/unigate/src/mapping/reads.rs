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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
