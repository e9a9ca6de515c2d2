//! A direct evaluator for the part of JSONata the catalog's mappings are written in.
//!
//! jsonata-core works on its own value type: every evaluation converts the parts of the
//! input it reads, walks a general tree (sequences, focus and tuple bindings, a signature
//! check per builtin call) and converts its result back. That was most of what a mapping
//! cost (`bench/ANALYSIS.md`, "Third pass"). A catalog mapping is mostly names, object and
//! array constructors, a conditional, a filter, a few builtins and a local
//! `$iso := function($t) {...}`; this module evaluates those on the `serde_json::Value` in
//! place, borrowing what it passes through.
//!
//! It is written by hand because no crate evaluates JSONata on `serde_json` values; it is
//! kept small by two rules that keep every result jsonata-core's:
//! - [`Fast::compile`] accepts only the constructs listed on [`Node`]; an expression with
//!   anything else has no fast form and always runs on jsonata-core.
//! - Evaluation gives up ([`Bail`]) on every value whose JSONata meaning is subtle (a name
//!   step over an array, a fractional number made into text, an equality between arrays,
//!   any error), and the caller runs jsonata-core on the same input instead, so errors and
//!   edge cases are jsonata-core's own.
//!
//! The property tests below run every expression of the built-in catalog, and a set of
//! hand-written ones, on random inputs both ways and require the same answer.
//!
//! One file of about a thousand lines, tests included: the compiler, the evaluator and the
//! bail-out rules are one job whose parts must change together (a construct added to
//! [`Node`] needs its evaluation and its bail-outs beside it).

use std::borrow::Cow;
use std::collections::HashMap;

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::value::JValue;
use serde_json::{Map, Value};

use super::functions::{self, HostFn};
use super::{number, to_jvalue, to_value};

/// Deeper expressions are left to jsonata-core (which has its own stack guard).
const MAX_DEPTH: usize = 64;

/// An expression in the fast subset.
#[derive(Debug)]
pub struct Fast {
    root: Node,
    lambdas: Vec<Lambda>,
    slots: usize,
}

/// The evaluation met a value this module does not decide; jsonata-core must.
#[derive(Debug, PartialEq)]
pub struct Bail;

#[derive(Debug)]
enum Node {
    /// A string, number, boolean or null literal.
    Const(Value),
    /// `$`: the context.
    Context,
    /// `$$`: the input.
    Root,
    /// A local variable (a block binding or a lambda parameter).
    Var(usize),
    /// Name steps from a start, optionally ending in an object constructor step.
    Path {
        start: Start,
        names: Vec<String>,
        object: Option<Box<ObjectStep>>,
    },
    /// `path[predicate]`: a name path whose last step filters (a predicate that is not a
    /// number), evaluated on each item with the item as context.
    Filter(Box<Node>, Box<Node>),
    /// `(expression)[n].a.b`: a path starting from any expression, optionally taking its
    /// `n`th item (a literal index), then name steps.
    From(Box<Node>, Option<usize>, Vec<String>),
    /// `{ "k": v, ... }` with literal, distinct keys.
    Object(Vec<(String, Node)>),
    /// `[a, b]`; the flag marks an item that is itself an array constructor.
    Array(Vec<(Node, bool)>),
    Conditional(Box<Node>, Box<Node>, Option<Box<Node>>),
    /// `=` (true) or `!=` (false).
    Equal(Box<Node>, Box<Node>, bool),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Builtin(Builtin, Vec<Node>),
    Host(HostFn, Vec<Node>),
    /// A call of a lambda bound in a block.
    Call(usize, Vec<Node>),
    /// `(a; b; c)`: bindings run in order, the last item's value is the block's.
    Block(Vec<Node>),
    /// `$x := value` (not a lambda: those are bound at compile time).
    Bind(usize, Box<Node>),
}

#[derive(Debug, Clone, Copy)]
enum Start {
    Context,
    Root,
    Var(usize),
}

#[derive(Debug)]
struct ObjectStep {
    fields: Vec<(String, Node)>,
    keep_array: bool,
}

#[derive(Debug)]
struct Lambda {
    params: Vec<usize>,
    body: Node,
}

#[derive(Debug, Clone, Copy)]
enum Builtin {
    String,
    Exists,
    Type,
    Substring,
    SubstringAfter,
    Merge,
}

impl Builtin {
    fn named(name: &str, args: usize) -> Option<Builtin> {
        Some(match (name, args) {
            ("string", 1) => Builtin::String,
            ("exists", 1) => Builtin::Exists,
            ("type", 1) => Builtin::Type,
            ("substring", 2 | 3) => Builtin::Substring,
            ("substringAfter", 2) => Builtin::SubstringAfter,
            ("merge", 1) => Builtin::Merge,
            _ => return None,
        })
    }
}

/// What a name means where it is used.
#[derive(Clone, Copy)]
enum Binding {
    Slot(usize),
    Lambda(usize),
}

struct Compiler {
    scopes: Vec<HashMap<String, Binding>>,
    lambdas: Vec<Lambda>,
    slots: usize,
    /// Inside a lambda body: the context there is the one where the lambda was defined, which
    /// this module does not track, so the body may not read it.
    in_lambda: bool,
}

impl Fast {
    /// The fast form of `ast`, if it has one.
    pub fn compile(ast: &AstNode) -> Option<Fast> {
        let mut c = Compiler {
            scopes: vec![HashMap::new()],
            lambdas: Vec::new(),
            slots: 0,
            in_lambda: false,
        };
        let root = c.node(ast, 0)?;
        Some(Fast {
            root,
            lambdas: c.lambdas,
            slots: c.slots,
        })
    }

    /// Evaluates against `input`.
    pub fn eval(&self, input: &Value) -> Result<Option<Value>, Bail> {
        self.run(Ctx::Value(Some(input)))
    }

    /// Evaluates against the object made of `fields` (a later field replaces an earlier one).
    pub fn eval_fields(&self, fields: &[(&str, &Value)]) -> Result<Option<Value>, Bail> {
        self.run(Ctx::Fields(fields))
    }

    fn run(&self, root: Ctx<'_>) -> Result<Option<Value>, Bail> {
        let mut run = Run {
            fast: self,
            root,
            env: vec![None; self.slots],
        };
        Ok(run.eval(&self.root, root)?.map(own))
    }
}

impl Compiler {
    fn lookup(&self, name: &str) -> Option<Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn slot(&mut self) -> usize {
        self.slots += 1;
        self.slots - 1
    }

    fn nodes(&mut self, asts: &[AstNode], depth: usize) -> Option<Vec<Node>> {
        asts.iter().map(|a| self.node(a, depth)).collect()
    }

    fn boxed(&mut self, ast: &AstNode, depth: usize) -> Option<Box<Node>> {
        self.node(ast, depth).map(Box::new)
    }

    fn node(&mut self, ast: &AstNode, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let d = depth + 1;
        Some(match ast {
            AstNode::String(s) => Node::Const(Value::String(s.clone())),
            AstNode::Number(n) => Node::Const(number(*n)),
            AstNode::Boolean(b) => Node::Const(Value::Bool(*b)),
            AstNode::Null => Node::Const(Value::Null),
            AstNode::Variable(v) if v.is_empty() => {
                if self.in_lambda {
                    return None;
                }
                Node::Context
            }
            AstNode::ParentVariable(v) if v.is_empty() => Node::Root,
            AstNode::Variable(v) => match self.lookup(v)? {
                Binding::Slot(s) => Node::Var(s),
                Binding::Lambda(_) => return None,
            },
            AstNode::Name(n) => self.path(&[PathStep::new(AstNode::Name(n.clone()))], d)?,
            AstNode::Path { steps } => self.path(steps, d)?,
            AstNode::Object(pairs) => Node::Object(self.fields(pairs, d)?),
            AstNode::Array(items) => Node::Array(
                items
                    .iter()
                    .map(|i| Some((self.node(i, d)?, matches!(i, AstNode::Array(_)))))
                    .collect::<Option<_>>()?,
            ),
            AstNode::Conditional {
                condition,
                then_branch,
                else_branch,
            } => Node::Conditional(
                self.boxed(condition, d)?,
                self.boxed(then_branch, d)?,
                match else_branch {
                    Some(e) => Some(self.boxed(e, d)?),
                    None => None,
                },
            ),
            AstNode::Binary { op, lhs, rhs } => match op {
                BinaryOp::Equal => Node::Equal(self.boxed(lhs, d)?, self.boxed(rhs, d)?, true),
                BinaryOp::NotEqual => Node::Equal(self.boxed(lhs, d)?, self.boxed(rhs, d)?, false),
                BinaryOp::And => Node::And(self.boxed(lhs, d)?, self.boxed(rhs, d)?),
                BinaryOp::Or => Node::Or(self.boxed(lhs, d)?, self.boxed(rhs, d)?),
                BinaryOp::Concatenate => Node::Concat(self.boxed(lhs, d)?, self.boxed(rhs, d)?),
                _ => return None,
            },
            AstNode::Function { name, args, .. } => self.call(name, args, d)?,
            AstNode::Block(items) => self.block(items, d)?,
            _ => return None,
        })
    }

    fn fields(&mut self, pairs: &[(AstNode, AstNode)], depth: usize) -> Option<Vec<(String, Node)>> {
        let mut out: Vec<(String, Node)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let AstNode::String(k) = k else { return None };
            if out.iter().any(|(seen, _)| seen == k) {
                return None;
            }
            out.push((k.clone(), self.node(v, depth)?));
        }
        Some(out)
    }

    fn path(&mut self, steps: &[PathStep], depth: usize) -> Option<Node> {
        let plain = |s: &PathStep| {
            s.focus.is_none() && s.index_var.is_none() && s.ancestor_label.is_none() && !s.is_tuple && !s.inner_tuple
        };
        if !steps.iter().all(plain) {
            return None;
        }
        let (first, rest) = steps.split_first()?;
        // A filter on the last name step (`a.b[type = "x"]`).
        if let Some((last, init)) = steps.split_last() {
            if let ([Stage::Filter(pred)], AstNode::Name(n)) = (last.stages.as_slice(), &last.node) {
                if matches!(**pred, AstNode::Number(_)) {
                    return None;
                }
                let mut unfiltered: Vec<PathStep> = init.to_vec();
                unfiltered.push(PathStep::new(AstNode::Name(n.clone())));
                let path = self.path(&unfiltered, depth)?;
                let pred = self.boxed(pred, depth)?;
                return Some(Node::Filter(Box::new(path), pred));
            }
        }
        // Any other expression as the first step (`(...)[0].a`), then names.
        if !matches!(
            first.node,
            AstNode::Name(_) | AstNode::Variable(_) | AstNode::ParentVariable(_)
        ) {
            let index = match first.stages.as_slice() {
                [] => None,
                [Stage::Filter(i)] => match **i {
                    AstNode::Number(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e9 => Some(n as usize),
                    _ => return None,
                },
                _ => return None,
            };
            return Some(Node::From(self.boxed(&first.node, depth)?, index, plain_names(rest)?));
        }
        let (start, mut rest) = match &first.node {
            AstNode::Name(_) => {
                if self.in_lambda {
                    return None;
                }
                (Start::Context, steps)
            }
            AstNode::Variable(v) if v.is_empty() && !self.in_lambda && first.stages.is_empty() => {
                (Start::Context, rest)
            }
            AstNode::ParentVariable(v) if v.is_empty() && first.stages.is_empty() => (Start::Root, rest),
            AstNode::Variable(v) if first.stages.is_empty() => match self.lookup(v)? {
                Binding::Slot(s) => (Start::Var(s), rest),
                Binding::Lambda(_) => return None,
            },
            _ => return None,
        };
        let mut object = None;
        if let Some((last, init)) = rest.split_last() {
            if let AstNode::Object(pairs) = &last.node {
                let keep_array = match last.stages.as_slice() {
                    [] => false,
                    [Stage::KeepArray] => true,
                    _ => return None,
                };
                object = Some(Box::new(ObjectStep {
                    fields: self.fields(pairs, depth)?,
                    keep_array,
                }));
                rest = init;
            }
        }
        Some(Node::Path {
            start,
            names: plain_names(rest)?,
            object,
        })
    }

    fn call(&mut self, name: &str, args: &[AstNode], depth: usize) -> Option<Node> {
        if let Some(binding) = self.lookup(name) {
            // A local of a helper's or builtin's name: which one jsonata-core calls is its
            // business.
            if functions::host(name).is_some() || Builtin::named(name, args.len()).is_some() {
                return None;
            }
            let Binding::Lambda(l) = binding else { return None };
            if args.len() != self.lambdas[l].params.len() {
                return None;
            }
            return Some(Node::Call(l, self.nodes(args, depth)?));
        }
        if let Some(f) = functions::host(name) {
            return Some(Node::Host(f, self.nodes(args, depth)?));
        }
        Some(Node::Builtin(
            Builtin::named(name, args.len())?,
            self.nodes(args, depth)?,
        ))
    }

    fn block(&mut self, items: &[AstNode], depth: usize) -> Option<Node> {
        self.scopes.push(HashMap::new());
        let out = self.block_items(items, depth);
        self.scopes.pop();
        out.map(Node::Block)
    }

    fn block_items(&mut self, items: &[AstNode], depth: usize) -> Option<Vec<Node>> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let AstNode::Binary {
                op: BinaryOp::ColonEqual,
                lhs,
                rhs,
            } = item
            else {
                out.push(self.node(item, depth)?);
                continue;
            };
            let AstNode::Variable(name) = &**lhs else { return None };
            // Rebinding a name in the same block changes what an earlier lambda sees;
            // jsonata-core handles that.
            if name.is_empty() || self.scopes.last()?.contains_key(name) {
                return None;
            }
            if let AstNode::Lambda {
                params,
                body,
                signature: None,
                ..
            } = &**rhs
            {
                // A lambda as the block's value is a function value: not in the subset.
                if i + 1 == items.len() {
                    return None;
                }
                let lambda = self.lambda(params, body, depth)?;
                self.lambdas.push(lambda);
                let l = self.lambdas.len() - 1;
                self.scopes.last_mut()?.insert(name.clone(), Binding::Lambda(l));
                continue;
            }
            let value = self.boxed(rhs, depth)?;
            let s = self.slot();
            self.scopes.last_mut()?.insert(name.clone(), Binding::Slot(s));
            out.push(Node::Bind(s, value));
        }
        Some(out)
    }

    fn lambda(&mut self, params: &[String], body: &AstNode, depth: usize) -> Option<Lambda> {
        let mut scope = HashMap::new();
        let mut slots = Vec::with_capacity(params.len());
        for p in params {
            let s = self.slot();
            if scope.insert(p.clone(), Binding::Slot(s)).is_some() {
                return None;
            }
            slots.push(s);
        }
        self.scopes.push(scope);
        let was = std::mem::replace(&mut self.in_lambda, true);
        let body = self.node(body, depth);
        self.in_lambda = was;
        self.scopes.pop();
        Some(Lambda {
            params: slots,
            body: body?,
        })
    }
}

/// The names of steps that are plain names, if all are.
fn plain_names(steps: &[PathStep]) -> Option<Vec<String>> {
    steps
        .iter()
        .map(|s| match &s.node {
            AstNode::Name(n) if s.stages.is_empty() => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// Where names are looked up.
#[derive(Clone, Copy)]
enum Ctx<'a> {
    /// The input given as fields (`Expr::eval_fields`).
    Fields(&'a [(&'a str, &'a Value)]),
    Value(Option<&'a Value>),
}

type Out<'a> = Result<Option<Cow<'a, Value>>, Bail>;

struct Run<'f, 'a> {
    fast: &'f Fast,
    root: Ctx<'a>,
    env: Vec<Option<Cow<'a, Value>>>,
}

impl<'f, 'a> Run<'f, 'a> {
    fn eval(&mut self, node: &'f Node, ctx: Ctx<'a>) -> Out<'a> {
        Ok(match node {
            Node::Const(v) => Some(Cow::Owned(v.clone())),
            Node::Context => value_of(ctx)?.map(Cow::Borrowed),
            Node::Root => value_of(self.root)?.map(Cow::Borrowed),
            Node::Var(s) => self.env[*s].clone(),
            Node::Path { start, names, object } => {
                let mut at = match start {
                    Start::Context => ctx,
                    Start::Root => self.root,
                    Start::Var(s) => match &self.env[*s] {
                        None => Ctx::Value(None),
                        Some(Cow::Borrowed(v)) => Ctx::Value(Some(*v)),
                        Some(Cow::Owned(_)) => return Err(Bail),
                    },
                };
                for name in names {
                    at = Ctx::Value(lookup(at, name)?);
                }
                let value = value_of(at)?;
                match object {
                    None => value.map(Cow::Borrowed),
                    Some(step) => self.object_step(step, value)?,
                }
            }
            Node::Filter(path, pred) => match self.eval(path, ctx)? {
                None => None,
                Some(Cow::Owned(_)) => return Err(Bail),
                Some(Cow::Borrowed(Value::Array(items))) => {
                    let mut kept = Vec::new();
                    for item in items {
                        if item.is_array() {
                            return Err(Bail);
                        }
                        if self.keeps(pred, item)? {
                            kept.push(item);
                        }
                    }
                    match kept.as_slice() {
                        [] => None,
                        [one] => Some(Cow::Borrowed(*one)),
                        many => Some(Cow::Owned(Value::Array(many.iter().map(|v| normalized(v)).collect()))),
                    }
                }
                Some(Cow::Borrowed(v)) => self.keeps(pred, v)?.then_some(Cow::Borrowed(v)),
            },
            Node::From(base, index, names) => {
                let mut at = match (self.eval(base, ctx)?, index) {
                    (v, None) => v,
                    (None, Some(_)) => None,
                    (Some(Cow::Borrowed(Value::Array(items))), Some(i)) => {
                        if items.iter().any(Value::is_array) {
                            return Err(Bail);
                        }
                        items.get(*i).map(Cow::Borrowed)
                    }
                    (Some(Cow::Owned(Value::Array(items))), Some(i)) => {
                        if items.iter().any(Value::is_array) {
                            return Err(Bail);
                        }
                        items.into_iter().nth(*i).map(Cow::Owned)
                    }
                    (Some(v), Some(i)) => (*i == 0).then_some(v),
                };
                for name in names {
                    at = match at {
                        None => None,
                        Some(Cow::Borrowed(v)) => lookup(Ctx::Value(Some(v)), name)?.map(Cow::Borrowed),
                        Some(Cow::Owned(Value::Object(mut m))) => m.shift_remove(name).map(Cow::Owned),
                        Some(Cow::Owned(Value::Array(_))) => return Err(Bail),
                        Some(Cow::Owned(_)) => None,
                    };
                }
                at
            }
            Node::Object(fields) => {
                if matches!(ctx, Ctx::Value(Some(Value::Array(_)))) {
                    // Over an array, an object constructor groups its items.
                    return Err(Bail);
                }
                Some(Cow::Owned(self.object(fields, ctx)?))
            }
            Node::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (item, nested) in items {
                    match self.eval(item, ctx)? {
                        None => {}
                        Some(v) if *nested => out.push(own(v)),
                        Some(Cow::Borrowed(Value::Array(a))) => out.extend(a.iter().map(normalized)),
                        Some(Cow::Owned(Value::Array(a))) => out.extend(a),
                        Some(v) => out.push(own(v)),
                    }
                }
                Some(Cow::Owned(Value::Array(out)))
            }
            Node::Conditional(c, then, otherwise) => {
                let test = self.eval(c, ctx)?;
                if truthy(test.as_deref()) {
                    self.eval(then, ctx)?
                } else if let Some(e) = otherwise {
                    self.eval(e, ctx)?
                } else {
                    None
                }
            }
            Node::Equal(l, r, equal) => {
                let (l, r) = (self.eval(l, ctx)?, self.eval(r, ctx)?);
                let out = match (l.as_deref(), r.as_deref()) {
                    (Some(l), Some(r)) => scalar_equal(l, r)? == *equal,
                    _ => false,
                };
                Some(Cow::Owned(Value::Bool(out)))
            }
            Node::And(l, r) => {
                let out = truthy(self.eval(l, ctx)?.as_deref()) && truthy(self.eval(r, ctx)?.as_deref());
                Some(Cow::Owned(Value::Bool(out)))
            }
            Node::Or(l, r) => {
                let out = truthy(self.eval(l, ctx)?.as_deref()) || truthy(self.eval(r, ctx)?.as_deref());
                Some(Cow::Owned(Value::Bool(out)))
            }
            Node::Concat(l, r) => {
                let mut out = String::new();
                for side in [l, r] {
                    if let Some(v) = self.eval(side, ctx)? {
                        out.push_str(&text(&v)?);
                    }
                }
                Some(Cow::Owned(Value::String(out)))
            }
            Node::Builtin(b, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, ctx)?);
                }
                builtin(*b, values)?
            }
            Node::Host(f, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, ctx)?.map_or(JValue::Undefined, |v| to_jvalue(&v)));
                }
                let out = f(&values).map_err(|_| Bail)?;
                (!out.is_undefined()).then(|| Cow::Owned(to_value(&out)))
            }
            Node::Call(l, args) => {
                let lambda = &self.fast.lambdas[*l];
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a, ctx)?);
                }
                for (slot, v) in lambda.params.iter().zip(values) {
                    self.env[*slot] = v;
                }
                self.eval(&lambda.body, Ctx::Value(None))?
            }
            Node::Block(items) => {
                let mut last = None;
                for item in items {
                    last = self.eval(item, ctx)?;
                }
                last
            }
            Node::Bind(s, value) => {
                let v = self.eval(value, ctx)?;
                self.env[*s] = v.clone();
                v
            }
        })
    }

    /// Whether a filter keeps `item`. A number (or numbers) would select by position.
    fn keeps(&mut self, pred: &'f Node, item: &'a Value) -> Result<bool, Bail> {
        match self.eval(pred, Ctx::Value(Some(item)))? {
            Some(v) if matches!(&*v, Value::Number(_) | Value::Array(_)) => Err(Bail),
            v => Ok(truthy(v.as_deref())),
        }
    }

    fn object(&mut self, fields: &'f [(String, Node)], ctx: Ctx<'a>) -> Result<Value, Bail> {
        let mut out = Map::with_capacity(fields.len());
        for (k, node) in fields {
            if let Some(v) = self.eval(node, ctx)? {
                out.insert(k.clone(), own(v));
            }
        }
        Ok(Value::Object(out))
    }

    /// `value.{...}`: one object per item of an array, else one.
    fn object_step(&mut self, step: &'f ObjectStep, value: Option<&'a Value>) -> Out<'a> {
        let mut out = match value {
            None => return Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if item.is_array() {
                        return Err(Bail);
                    }
                    out.push(self.object(&step.fields, Ctx::Value(Some(item)))?);
                }
                out
            }
            Some(v) => vec![self.object(&step.fields, Ctx::Value(Some(v)))?],
        };
        Ok(match out.len() {
            0 => None,
            1 if !step.keep_array => out.pop().map(Cow::Owned),
            _ => Some(Cow::Owned(Value::Array(out))),
        })
    }
}

/// The context as a value: the input given as fields has none here.
fn value_of(ctx: Ctx<'_>) -> Result<Option<&Value>, Bail> {
    match ctx {
        Ctx::Value(v) => Ok(v),
        Ctx::Fields(_) => Err(Bail),
    }
}

/// A name step from one value. Over an array a step maps and flattens: left to jsonata-core.
fn lookup<'a>(ctx: Ctx<'a>, name: &str) -> Result<Option<&'a Value>, Bail> {
    match ctx {
        Ctx::Fields(fields) => Ok(fields.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)),
        Ctx::Value(Some(Value::Object(m))) => Ok(member(m, name)),
        Ctx::Value(Some(Value::Array(_))) => Err(Bail),
        Ctx::Value(_) => Ok(None),
    }
}

/// `m`'s member `name`. A small object's entries are compared in order: a lookup hashes the
/// name with serde_json's map hasher (SipHash, about 160 instructions), a scan of a few
/// entries costs less, and most objects a mapping reads here are the projected parse's,
/// which hold only the members the mapping reads. (Names are unique in a map, so both find
/// the same entry.)
fn member<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    const SCANNED: usize = 8;
    if m.len() <= SCANNED {
        m.iter().find_map(|(k, v)| (k == name).then_some(v))
    } else {
        m.get(name)
    }
}

/// JSONata's `$boolean`.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => items.iter().any(|i| truthy(Some(i))),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// `=` between scalars; arrays and objects are left to jsonata-core.
fn scalar_equal(l: &Value, r: &Value) -> Result<bool, Bail> {
    Ok(match (l, r) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => return Err(Bail),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    })
}

/// `$string` of a value, where the result is plain: strings, booleans, null, and whole
/// numbers below 10^15 (JSONata prints other numbers to 15 significant digits).
fn text(v: &Value) -> Result<Cow<'_, str>, Bail> {
    Ok(match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Null => Cow::Borrowed("null"),
        Value::Number(n) => {
            let f = n.as_f64().ok_or(Bail)?;
            if f.fract() != 0.0 || f.abs() >= 1e15 {
                return Err(Bail);
            }
            Cow::Owned(format!("{}", f as i64))
        }
        Value::Array(_) | Value::Object(_) => return Err(Bail),
    })
}

fn builtin<'a>(b: Builtin, mut args: Vec<Option<Cow<'a, Value>>>) -> Out<'a> {
    let first = args.first_mut().and_then(Option::take);
    let str_arg = |v: &Option<Cow<'a, Value>>| match v.as_deref() {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Bail),
    };
    Ok(match b {
        Builtin::Exists => Some(Cow::Owned(Value::Bool(first.is_some()))),
        Builtin::String => match first {
            None => None,
            Some(v) => Some(Cow::Owned(Value::String(text(&v)?.into_owned()))),
        },
        Builtin::Type => first.map(|v| {
            let t = match &*v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            Cow::Owned(Value::String(t.to_string()))
        }),
        Builtin::Substring => {
            let Some(s) = first else { return Ok(None) };
            let Value::String(s) = &*s else { return Err(Bail) };
            let index = |v: Option<&Option<Cow<'a, Value>>>| match v.and_then(|v| v.as_deref()) {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or(Bail),
                _ => Err(Bail),
            };
            if !s.is_ascii() {
                return Err(Bail);
            }
            let start = index(args.get(1))?.min(s.len());
            let end = match args.get(2) {
                None => s.len(),
                Some(_) => start.saturating_add(index(args.get(2))?).min(s.len()),
            };
            Some(Cow::Owned(Value::String(s[start..end].to_string())))
        }
        Builtin::SubstringAfter => {
            if first.is_none() {
                return Ok(None);
            }
            let (s, chars) = (str_arg(&first)?, str_arg(&args[1])?);
            let out = match s.find(&chars) {
                Some(i) => s[i + chars.len()..].to_string(),
                None => s,
            };
            Some(Cow::Owned(Value::String(out)))
        }
        Builtin::Merge => {
            let Some(v) = first else { return Ok(None) };
            let mut out = Map::new();
            let mut add = |o: &Value| match o {
                Value::Object(m) => {
                    for (k, v) in m {
                        out.insert(k.clone(), normalized(v));
                    }
                    Ok(())
                }
                _ => Err(Bail),
            };
            match &*v {
                Value::Array(items) => items.iter().try_for_each(&mut add)?,
                o => add(o)?,
            }
            Some(Cow::Owned(Value::Object(out)))
        }
    })
}

/// A result value: what was built is already in output form; what was borrowed from the
/// input is copied with its numbers as jsonata-core gives them back (doubles, whole ones
/// written as integers).
fn own(v: Cow<'_, Value>) -> Value {
    match v {
        Cow::Borrowed(v) => normalized(v),
        Cow::Owned(v) => v,
    }
}

fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() < 1 << 53 => Value::Number(n.clone()),
            _ => number(n.as_f64().unwrap_or(0.0)),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeSet;
    use std::path::Path;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use serde_json::json;

    use super::*;
    use crate::mapping::reads::Reads;
    use crate::mapping::Expr;

    /// Expressions written to reach every construct and every give-up of the subset, over
    /// inputs with the fields `a`, `b`, `c`.
    const SUBSET: &[&str] = &[
        "a",
        "a.b",
        "a.b.c",
        "$",
        "$.a",
        "$$.a.b",
        "a.{ \"x\": b, \"y\": $$.c }",
        "a.b.{ \"x\": c }[]",
        "[a.b.{ \"x\": c, \"k\": \"v\" }]",
        "[a, b]",
        "[[a], b, \"s\", 1, null, true]",
        "{ \"k\": a, \"l\": [b], \"m\": { \"n\": c } }",
        "a ? b : c",
        "a ? b",
        "a = b",
        "a != b",
        "a = 1 ? b",
        "a = \"x\" or b = true",
        "a and b",
        "a & b",
        "a & \"-\" & 7",
        "$string(a)",
        "$exists(a.b)",
        "$type(a)",
        "$substring(a, 0, 2)",
        "$substring(a, 1)",
        "$substringAfter(a, \"-\")",
        "$merge([a, b])",
        "$merge(a)",
        "$removeEmpty(a)",
        "$firstNonEmpty(a, b, c)",
        "$toNumber(a)",
        "$epochToIso(a)",
        "$hexToNumber(a)",
        "$toMillis(a)",
        "$fromMillis($toMillis(a), \"[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z\")",
        "$toMillis(a, \"[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01][Z0000]\")",
        "($x := a; $x.b)",
        "($x := a; ($x := b; $x) & $string($x))",
        "($f := function($t) { $t ? $string($t) }; { \"p\": $f(a), \"q\": $f($f(b)) })",
        "($f := function($t, $u) { $t = $u }; $f(a, b))",
        "a[b = \"x\"]",
        "a.b[c]",
        "(a.b[c = 1 or c = \"x\"])[0].c",
        "(a.b[c != 1])[1]",
        "$merge([a, b]).c",
        "(a).b.c",
        "(a.b)[0]",
        "(a)[1].b",
        "{ \"k\": (a.b[c = true])[0].c }",
    ];

    /// Every string of the built-in catalog that compiles to a fast form: mappings,
    /// pagination and rate-limit expressions (and some plain words, harmlessly).
    fn catalog_expressions() -> Vec<String> {
        fn strings(v: &serde_json::Value, out: &mut BTreeSet<String>) {
            match v {
                Value::String(s) => {
                    out.insert(s.clone());
                }
                Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
                Value::Object(m) => m.values().for_each(|i| strings(i, out)),
                _ => {}
            }
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/integrations");
        let mut out = BTreeSet::new();
        for provider in std::fs::read_dir(dir).unwrap() {
            for file in std::fs::read_dir(provider.unwrap().path()).unwrap() {
                let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
                strings(&doc, &mut out);
            }
        }
        out.into_iter()
            .filter(|s| Expr::compile(s).is_ok_and(|e| e.is_fast()))
            .collect()
    }

    /// Any JSON value, keys and strings drawn from `words` and from texts the helpers treat
    /// specially (dates, hex, numbers as text, non-ASCII).
    fn any_json(words: Vec<String>) -> BoxedStrategy<Value> {
        let mut texts: Vec<String> = [
            "",
            "x",
            "-",
            "a-b",
            "é-ü",
            "0x1f",
            "12",
            " 3.5 ",
            "2015-03-05T21:46:42+0000",
            "2024-02-29T23:59:59.123Z",
            "2024-01-02T03:04:05.000+0530",
            "2024-01-02T03:04:05-07:00",
            "20240102",
            "true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.extend(words.iter().cloned());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop::sample::select(vec![0i64, 1, -1, 42, 1_700_000_000, 1_700_000_000_123, 1 << 60])
                .prop_map(Value::from),
            prop::sample::select(vec![0.5f64, 1.0, -2.5, 1e21, 0.1]).prop_map(Value::from),
            prop::sample::select(texts).prop_map(Value::String),
        ];
        let keys = prop::sample::select(if words.is_empty() { vec!["k".to_string()] } else { words });
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// Inputs shaped like what `reads` reads, so that most cases reach the fields an
    /// expression uses, with every type (and absence) in each place.
    fn input_for(reads: &Reads, words: &[String], depth: u32) -> BoxedStrategy<Value> {
        let any = any_json(words.to_vec());
        let Reads::Fields(fields) = reads else { return any };
        if fields.is_empty() || depth > 4 {
            return any;
        }
        let members: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
            .iter()
            .map(|(k, r)| {
                let k = k.clone();
                prop::option::weighted(0.85, input_for(r, words, depth + 1))
                    .prop_map(move |v| v.map(|v| (k.clone(), v)))
                    .boxed()
            })
            .collect();
        let object = members
            .prop_map(|kv| Value::Object(kv.into_iter().flatten().collect()))
            .boxed();
        prop_oneof![
            8 => object.clone(),
            1 => prop::collection::vec(object, 0..3).prop_map(Value::Array),
            1 => any,
        ]
        .boxed()
    }

    fn words(source: &str) -> Vec<String> {
        let re = regex::Regex::new("[A-Za-z_][A-Za-z0-9_]*").unwrap();
        let set: BTreeSet<String> = re.find_iter(source).map(|m| m.as_str().to_string()).collect();
        set.into_iter().collect()
    }

    /// Runs `e` on random inputs, through the direct form and on jsonata-core alone, as a
    /// whole input and as fields; returns how many runs the direct form answered itself.
    fn differential(e: &Expr, cases: u32) -> (u32, u32) {
        let fast = Fast::compile(&e.ast).unwrap();
        let words = words(e.source());
        let reads = match &*e.reads {
            Reads::All => Reads::Fields(words.iter().map(|w| (w.clone(), Reads::All)).collect()),
            r => r.clone(),
        };
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let (ran, answered) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let strategy = input_for(&reads, &words, 0).prop_filter("an object input", Value::is_object);
        runner
            .run(&strategy, |input| {
                let want = e.eval_reference(&input).map_err(|err| err.to_string());
                let got = e.eval(&input).map_err(|err| err.to_string());
                prop_assert_eq!(&got, &want, "{} on {}", e.source(), input);
                let m = input.as_object().unwrap();
                let fields: Vec<(&str, &Value)> = m.iter().map(|(k, v)| (k.as_str(), v)).collect();
                let got = e.eval_fields(fields.iter().copied()).map_err(|err| err.to_string());
                prop_assert_eq!(&got, &want, "{} on fields of {}", e.source(), input);
                // Each field parsed only as far as the expression reads it, as a `get` parses
                // the provider's answer (`Expr::parse_input_field`).
                let parsed: Vec<(&str, Value)> = m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            e.parse_input_field(k, &serde_json::to_vec(v).unwrap()).unwrap(),
                        )
                    })
                    .collect();
                let got = e
                    .eval_fields(parsed.iter().map(|(k, v)| (*k, v)))
                    .map_err(|err| err.to_string());
                prop_assert_eq!(&got, &want, "{} on fields parsed for it from {}", e.source(), input);
                ran.set(ran.get() + 1);
                answered.set(answered.get() + u32::from(fast.eval(&input).is_ok()));
                Ok(())
            })
            .unwrap();
        (ran.get(), answered.get())
    }

    #[test]
    fn the_subset_compiles_to_direct_forms() {
        for src in SUBSET {
            assert!(Expr::compile(src).unwrap().is_fast(), "{src}");
        }
        for src in [
            "a[0]",
            "a.b[c = 1].d",
            "(a)[-1]",
            "a[$count(b)]",
            "a.*",
            "$map(a, function($v) { $v })",
            "($f := function($n) { $n ? $f($n - 1) }; $f(3))",
            "($x := 1; $x := 2; $x)",
            "a + 1",
            "$sum(a)",
            "{ a: b }",
            "{ \"k\": 1, \"k\": 2 }",
            "($f := function($t) { name }; $f(1))",
        ] {
            assert!(!Expr::compile(src).unwrap().is_fast(), "{src}");
        }
    }

    #[test]
    fn the_subset_answers_as_jsonata_core_does() {
        let (mut ran, mut answered) = (0, 0);
        for src in SUBSET {
            let (r, a) = differential(&Expr::compile(src).unwrap(), 256);
            ran += r;
            answered += a;
        }
        // Most random inputs are answered directly, so the comparison above tested the
        // direct form, not only the fall-back.
        assert!(answered * 2 > ran, "{answered} of {ran}");
    }

    #[test]
    fn every_catalog_expression_answers_as_jsonata_core_does() {
        let expressions = catalog_expressions();
        assert!(expressions.len() > 100, "{}", expressions.len());
        let mut total = (0, 0);
        for src in &expressions {
            let (r, a) = differential(&Expr::compile(src).unwrap(), 48);
            total = (total.0 + r, total.1 + a);
        }
        assert!(total.1 * 2 > total.0, "{total:?}");
    }

    #[test]
    fn values_pass_through_with_jsonata_numbers() {
        let e = Expr::compile("{ \"v\": a, \"w\": [a.b] }").unwrap();
        let input = json!({"a": {"b": 2.0, "c": [1, 9007199254740993u64, -0.5]}});
        let out = e.eval(&input).unwrap();
        assert_eq!(out, e.eval_reference(&input).unwrap());
        assert!(out.unwrap()["w"][0].is_i64());
        assert!(Fast::compile(&e.ast).unwrap().eval(&input).is_ok());
    }

    #[test]
    fn a_member_is_found_in_small_and_large_objects_alike() {
        let path = Fast::compile(&Expr::compile("k.m").unwrap().ast).unwrap();
        for size in [1, 8, 9, 40] {
            let members: Map<String, Value> = (0..size).map(|i| (format!("m{i}"), json!(i))).collect();
            let mut inner = members.clone();
            inner.insert("m".into(), json!("here"));
            let input = json!({ "k": inner });
            assert_eq!(path.eval(&input), Ok(Some(json!("here"))), "{size} members");
            let absent = json!({ "k": members });
            assert_eq!(path.eval(&absent), Ok(None), "{size} members");
        }
    }

    #[test]
    fn subtle_shapes_are_left_to_jsonata_core() {
        let path = Fast::compile(&Expr::compile("a.b").unwrap().ast).unwrap();
        assert_eq!(path.eval(&json!({"a": [{"b": 1}]})), Err(Bail));
        assert_eq!(path.eval(&json!({"a": {"b": [1]}})), Ok(Some(json!([1]))));
        let text = Fast::compile(&Expr::compile("$string(a)").unwrap().ast).unwrap();
        assert_eq!(text.eval(&json!({"a": 0.1})), Err(Bail));
        assert_eq!(text.eval(&json!({"a": 12})), Ok(Some(json!("12"))));
        let error = Expr::compile("$substring(a, 1)").unwrap();
        let input = json!({"a": 5});
        assert_eq!(Fast::compile(&error.ast).unwrap().eval(&input), Err(Bail));
        assert!(error.eval(&input).is_err());
    }
}
