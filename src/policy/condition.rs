//! Conditions (`{"path", "op", "value"}`) used by `require` and `deny_if`.
//!
//! Paths: see `path.rs` (`args.<a>.<b>...` with `*` for every element of an
//! array, and `request.method`, `request.tool`, `request.grant`,
//! `request.session`). How a `*` is quantified is `conjunction.rs`'s part:
//! a condition here tests one value.
//!
//! Semantics: no coercion (`"250000"` is a string, not a number); numbers
//! compare by value (`1 == 1.0`), exactly between integers and exactly
//! between an integer and a float. A comparison on a missing path is false;
//! `exists` tests presence (a `null` value is present). `eq` between
//! different JSON types is false and `neq` is true. A type mismatch (`gt` on
//! a string, `regex` on a number, `contains` on a number) is an evaluation
//! error, which callers turn into a denial (fail closed). Within one list of
//! conditions, evaluation stops at the first condition that is false, since
//! the outcome is then decided.

use std::cmp::Ordering;
use std::fmt;

use regex_lite::{Regex, RegexBuilder};

use super::regex_prefilter::Prefilter;
use serde_json::{Number, Value};

use super::error::Issues;
use super::path::{self, ArgsPath, Path};
use super::show;
use crate::json::pointer;

/// Compiled regexes are capped well below regex-lite's default size limit.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const OPS: &str = "eq, neq, in, not_in, lt, lte, gt, gte, regex, contains, exists";

/// What a condition reads from a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context<'a> {
    pub method: &'a str,
    pub tool: &'a str,
    pub arguments: Option<&'a Value>,
    pub grant: &'a str,
    pub session: Option<&'a str>,
    /// Longer strings are not matched against a regex: an evaluation error.
    pub max_regex_subject_bytes: usize,
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Order {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Order::Lt => ordering == Ordering::Less,
            Order::Lte => ordering != Ordering::Greater,
            Order::Gt => ordering == Ordering::Greater,
            Order::Gte => ordering != Ordering::Less,
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::Lt => "lt",
            Order::Lte => "lte",
            Order::Gt => "gt",
            Order::Gte => "gte",
        })
    }
}

#[derive(Debug)]
enum Op {
    Eq(Value),
    Neq(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Order(Order, Number),
    Regex(Regex, Option<Prefilter>),
    Contains(Value),
    Exists(bool),
}

/// One compiled condition.
#[derive(Debug)]
pub(crate) struct Condition {
    path: Path,
    op: Op,
    /// The condition as written (`args.currency in ["PES","DOL"]`), its
    /// operand shortened, for messages.
    text: String,
    /// The condition's JSON pointer, e.g. `/tools/x/deny_if/0/conditions/1`.
    pub rule: String,
}

/// A value found at a condition's path.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Found<'a> {
    Json(&'a Value),
    Str(&'a str),
}

impl<'a> Found<'a> {
    fn type_name(self) -> &'static str {
        match self {
            Found::Str(_) => "a string",
            Found::Json(value) => type_name(value),
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            Found::Str(s) => Some(s),
            Found::Json(value) => value.as_str(),
        }
    }

    fn equals(self, other: &Value) -> bool {
        match self {
            Found::Str(s) => other.as_str() == Some(s),
            Found::Json(value) => json_eq(value, other),
        }
    }
}

/// A JSON type with its article, for messages ("a string", "an array").
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON equality where numbers compare by value (`1 == 1.0`), recursively.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON number as an exact integer when it is one.
enum Num {
    Int(i128),
    Float(f64),
}

fn num(n: &Number) -> Option<Num> {
    if let Some(i) = n.as_i64() {
        Some(Num::Int(i128::from(i)))
    } else if let Some(u) = n.as_u64() {
        Some(Num::Int(i128::from(u)))
    } else {
        n.as_f64().map(Num::Float)
    }
}

/// Exact comparison of an integer (from an i64 or u64) with a float.
fn compare_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Every i is in [-2^63, 2^64).
    if f >= 18_446_744_073_709_551_616.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // Exact: `whole` is an integer within range.
    let whole_int = whole as i128;
    match i.cmp(&whole_int) {
        Ordering::Equal => whole.partial_cmp(&f),
        other => Some(other),
    }
}

/// Compares JSON numbers by value; exact for integers of any size JSON
/// gives us (i64/u64) and for integer-vs-float.
pub(crate) fn compare_numbers(x: &Number, y: &Number) -> Option<Ordering> {
    match (num(x)?, num(y)?) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        (Num::Int(a), Num::Float(b)) => compare_int_float(a, b),
        (Num::Float(a), Num::Int(b)) => compare_int_float(b, a).map(Ordering::reverse),
    }
}

impl Condition {
    /// Compiles the condition at `pointer`, reporting every problem. Members
    /// named in `extra` are the caller's (a requirement's `on_deny`).
    pub fn compile(
        value: &Value,
        pointer: &str,
        extra: &[&str],
        issues: &mut Issues,
    ) -> Option<Condition> {
        let Some(object) = value.as_object() else {
            issues.value(
                pointer,
                format!(
                    "a condition must be an object {{\"path\", \"op\", \"value\"}}, not {}",
                    type_name(value)
                ),
            );
            return None;
        };
        for key in object.keys() {
            if !matches!(key.as_str(), "path" | "op" | "value") && !extra.contains(&key.as_str()) {
                let expected = ["path", "op", "value"]
                    .iter()
                    .chain(extra)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                let hint = if key == "on_deny" {
                    "; a deny_if entry's message is the entry's on_deny, beside its conditions"
                } else {
                    ""
                };
                issues.key(
                    pointer::join(pointer, key),
                    format!(
                        "unknown field {key:?} in a condition; expected one of: {expected}{hint}"
                    ),
                );
            }
        }
        let path_pointer = pointer::join(pointer, "path");
        let path = match object.get("path") {
            None => {
                issues.value(pointer, "missing required field \"path\"");
                None
            }
            Some(Value::String(text)) => match path::parse(text) {
                Ok(path) => Some((path, text.as_str())),
                Err(message) => {
                    issues.value(&path_pointer, message);
                    None
                }
            },
            Some(other) => {
                issues.value(
                    &path_pointer,
                    format!("path must be a string, not {}", type_name(other)),
                );
                None
            }
        };
        let op_pointer = pointer::join(pointer, "op");
        let op_name = match object.get("op") {
            None => {
                issues.value(pointer, "missing required field \"op\"");
                None
            }
            Some(Value::String(name)) if OPS.split(", ").any(|op| op == name) => {
                Some(name.as_str())
            }
            Some(other) => {
                issues.value(&op_pointer, format!("op must be one of {OPS}, not {other}"));
                None
            }
        };
        let value_pointer = pointer::join(pointer, "value");
        let op = match (op_name, object.get("value")) {
            (None, _) => None,
            (Some(name), None) => {
                issues.value(
                    pointer,
                    format!("missing required field \"value\" (op {name})"),
                );
                None
            }
            (Some(name), Some(operand)) => match compile_op(name, operand) {
                Ok(op) => Some((op, name, operand)),
                Err(message) => {
                    issues.value(&value_pointer, message);
                    None
                }
            },
        };
        let ((path, path_text), (op, op_name, operand)) = (path?, op?);
        Some(Condition {
            path,
            op,
            text: format!("{path_text} {op_name} {}", show::json(operand)),
            rule: pointer.to_owned(),
        })
    }

    /// The `args` path, when the condition reads the arguments.
    pub fn args_path(&self) -> Option<&ArgsPath> {
        match &self.path {
            Path::Args(path) => Some(path),
            _ => None,
        }
    }

    /// The condition as written, for messages.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value the condition tests: for an `args` path, the keys after its
    /// last `*` from `element` (the arguments, or the element that `*` is at).
    pub fn found<'a>(&self, element: Option<&'a Value>, ctx: &Context<'a>) -> Option<Found<'a>> {
        match &self.path {
            Path::Method => Some(Found::Str(ctx.method)),
            Path::Tool => Some(Found::Str(ctx.tool)),
            Path::Grant => Some(Found::Str(ctx.grant)),
            Path::Session => ctx.session.map(Found::Str),
            Path::Args(path) => path::walk(element, path.part(path.wildcards())).map(Found::Json),
        }
    }

    /// The value at the path from the arguments, with element `indices[k]`
    /// at `*` number `k`.
    pub fn found_at<'a>(&self, ctx: &Context<'a>, indices: &[Option<usize>]) -> Option<Found<'a>> {
        match &self.path {
            Path::Args(path) => path.resolve(ctx.arguments, indices).map(Found::Json),
            _ => self.found(None, ctx),
        }
    }

    /// The path with element `indices[k]` at `*` number `k`.
    pub fn place(&self, indices: &[Option<usize>]) -> String {
        match &self.path {
            Path::Args(path) => path.render(usize::MAX, |k| indices.get(k).copied().flatten()),
            Path::Method => "request.method".to_owned(),
            Path::Tool => "request.tool".to_owned(),
            Path::Grant => "request.grant".to_owned(),
            Path::Session => "request.session".to_owned(),
        }
    }

    /// `<place> is <value>` (`args.invoices.1.currency is "EUR"`), with
    /// element `indices[k]` at `*` number `k`.
    pub fn fact(&self, ctx: &Context<'_>, indices: &[Option<usize>]) -> String {
        let shown = match self.found_at(ctx, indices) {
            None => show::value(None),
            Some(Found::Json(value)) => show::value(Some(value)),
            Some(Found::Str(s)) => show::string(s),
        };
        format!("{} is {shown}", self.place(indices))
    }

    /// Whether the condition holds for `found` (`None`: missing), or what
    /// went wrong (a type mismatch). `place` names where `found` is.
    pub fn test(
        &self,
        found: Option<Found<'_>>,
        place: &dyn Fn() -> String,
        ctx: &Context<'_>,
    ) -> Result<bool, String> {
        if let Op::Exists(expected) = self.op {
            return Ok(found.is_some() == expected);
        }
        let Some(found) = found else {
            return Ok(false);
        };
        match &self.op {
            Op::Exists(_) => Ok(true),
            Op::Eq(value) => Ok(found.equals(value)),
            Op::Neq(value) => Ok(!found.equals(value)),
            Op::In(values) => Ok(values.iter().any(|v| found.equals(v))),
            Op::NotIn(values) => Ok(!values.iter().any(|v| found.equals(v))),
            Op::Order(order, bound) => match found {
                Found::Json(Value::Number(n)) => Ok(compare_numbers(n, bound).is_some_and(|o| order.holds(o))),
                _ => Err(format!("{order} needs a number but {} is {}", place(), found.type_name())),
            },
            Op::Regex(regex, prefilter) => match found.as_str() {
                Some(s) if s.len() > ctx.max_regex_subject_bytes => Err(format!(
                    "regex subject {} is {} bytes, over the {}-byte limit (max_regex_subject_bytes)",
                    place(),
                    s.len(),
                    ctx.max_regex_subject_bytes
                )),
                Some(s) => Ok(prefilter.as_ref().is_none_or(|p| p.may_match(s)) && regex.is_match(s)),
                None => Err(format!("regex needs a string but {} is {}", place(), found.type_name())),
            },
            Op::Contains(needle) => match found {
                Found::Json(Value::Array(items)) => Ok(items.iter().any(|item| json_eq(item, needle))),
                _ => match (found.as_str(), needle) {
                    (Some(haystack), Value::String(needle)) => Ok(haystack.contains(needle.as_str())),
                    (Some(_), other) => Err(format!(
                        "contains on a string needs a string value, but the condition's value is {} ({} is a string)",
                        type_name(other),
                        place()
                    )),
                    (None, _) => Err(format!("contains needs a string or an array but {} is {}", place(), found.type_name())),
                },
            },
        }
    }
}

fn compile_op(name: &str, operand: &Value) -> Result<Op, String> {
    let order = |order: Order| match operand {
        Value::Number(n) => Ok(Op::Order(order, n.clone())),
        other => Err(format!(
            "{order} needs a number value (ordering compares numbers only), not {}",
            describe(other)
        )),
    };
    match name {
        "eq" => Ok(Op::Eq(operand.clone())),
        "neq" => Ok(Op::Neq(operand.clone())),
        "in" | "not_in" => match operand {
            Value::Array(values) if name == "in" => Ok(Op::In(values.clone())),
            Value::Array(values) => Ok(Op::NotIn(values.clone())),
            other => Err(format!(
                "{name} needs an array value, not {}",
                describe(other)
            )),
        },
        "lt" => order(Order::Lt),
        "lte" => order(Order::Lte),
        "gt" => order(Order::Gt),
        "gte" => order(Order::Gte),
        "regex" => match operand {
            Value::String(pattern) => RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(|regex| Op::Regex(regex, Prefilter::of(pattern)))
                .map_err(|e| format!("invalid regex {pattern:?}: {e}")),
            other => Err(format!(
                "regex needs a string value, not {}",
                describe(other)
            )),
        },
        "contains" => Ok(Op::Contains(operand.clone())),
        "exists" => match operand {
            Value::Bool(expected) => Ok(Op::Exists(*expected)),
            other => Err(format!(
                "exists needs true or false, not {}",
                describe(other)
            )),
        },
        other => Err(format!("op must be one of {OPS}, not {other:?}")),
    }
}

/// A value's type, and the value itself when it is short.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("a string ({s:?})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::Bool(b) => format!("a boolean ({b})"),
        other => type_name(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(spec: Value) -> Condition {
        let mut issues = Issues::default();
        let compiled = Condition::compile(&spec, "/c", &[], &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.0);
        compiled.unwrap()
    }

    fn errors(spec: Value) -> Vec<(String, String)> {
        let mut issues = Issues::default();
        let compiled = Condition::compile(&spec, "/c", &[], &mut issues);
        assert!(compiled.is_none());
        issues.0.into_iter().map(|i| (i.path, i.message)).collect()
    }

    fn ctx(args: &Value) -> Context<'_> {
        Context {
            method: "tools/call",
            tool: "create_invoice",
            arguments: Some(args),
            grant: "alice-laptop",
            session: Some("s-1"),
            max_regex_subject_bytes: 64,
        }
    }

    #[test]
    fn a_regex_subject_over_the_cap_is_an_evaluation_error() {
        let args = json!({"long": "a".repeat(65), "short": "a".repeat(64)});
        assert_eq!(eval("args.short", "regex", json!("b"), &args), Ok(false));
        assert_eq!(
            eval("args.long", "regex", json!("b"), &args),
            Err("regex subject args.long is 65 bytes, over the 64-byte limit (max_regex_subject_bytes)".into())
        );
    }

    /// One condition on the value its path (without `*`) reaches.
    fn eval_in(c: &Condition, ctx: &Context<'_>) -> Result<bool, String> {
        c.test(c.found(ctx.arguments, ctx), &|| c.place(&[]), ctx)
    }

    fn eval(path: &str, op: &str, value: Value, args: &Value) -> Result<bool, String> {
        eval_in(
            &condition(json!({"path": path, "op": op, "value": value})),
            &ctx(args),
        )
    }

    #[test]
    fn eq_and_neq() {
        let args =
            json!({"s": "x", "n": 1, "f": 1.5, "b": true, "z": null, "a": [1, 2], "o": {"k": 1}});
        assert_eq!(eval("args.s", "eq", json!("x"), &args), Ok(true));
        assert_eq!(eval("args.n", "eq", json!(1.0), &args), Ok(true));
        assert_eq!(eval("args.f", "eq", json!(1.5), &args), Ok(true));
        assert_eq!(eval("args.b", "eq", json!(true), &args), Ok(true));
        assert_eq!(eval("args.z", "eq", json!(null), &args), Ok(true));
        assert_eq!(eval("args.a", "eq", json!([1.0, 2]), &args), Ok(true));
        assert_eq!(eval("args.o", "eq", json!({"k": 1.0}), &args), Ok(true));
        assert_eq!(
            eval("args.o", "eq", json!({"k": 1, "j": 2}), &args),
            Ok(false)
        );
        // Different types: eq false, neq true, never an error.
        assert_eq!(eval("args.n", "eq", json!("1"), &args), Ok(false));
        assert_eq!(eval("args.n", "neq", json!("1"), &args), Ok(true));
        assert_eq!(eval("args.s", "neq", json!("x"), &args), Ok(false));
        // Missing: both false.
        assert_eq!(eval("args.missing", "eq", json!(null), &args), Ok(false));
        assert_eq!(eval("args.missing", "neq", json!(1), &args), Ok(false));
    }

    #[test]
    fn in_and_not_in() {
        let args = json!({"c": "EUR", "n": 2});
        assert_eq!(eval("args.c", "in", json!(["USD", "EUR"]), &args), Ok(true));
        assert_eq!(eval("args.c", "in", json!(["USD"]), &args), Ok(false));
        assert_eq!(eval("args.n", "in", json!([1, 2.0]), &args), Ok(true));
        assert_eq!(eval("args.n", "in", json!(["2"]), &args), Ok(false));
        assert_eq!(eval("args.c", "not_in", json!(["USD"]), &args), Ok(true));
        assert_eq!(eval("args.c", "not_in", json!(["EUR"]), &args), Ok(false));
        assert_eq!(eval("args.missing", "in", json!([null]), &args), Ok(false));
        assert_eq!(
            eval("args.missing", "not_in", json!(["x"]), &args),
            Ok(false)
        );
    }

    #[test]
    fn ordering() {
        let args = json!({"amount": 250000, "f": 0.5, "s": "250000", "neg": -3});
        assert_eq!(eval("args.amount", "gt", json!(100000), &args), Ok(true));
        assert_eq!(eval("args.amount", "gte", json!(250000), &args), Ok(true));
        assert_eq!(eval("args.amount", "gt", json!(250000), &args), Ok(false));
        assert_eq!(eval("args.amount", "lt", json!(250000.5), &args), Ok(true));
        assert_eq!(
            eval("args.amount", "lte", json!(249999.5), &args),
            Ok(false)
        );
        assert_eq!(eval("args.f", "lt", json!(1), &args), Ok(true));
        assert_eq!(eval("args.neg", "lt", json!(0), &args), Ok(true));
        assert_eq!(eval("args.missing", "gt", json!(0), &args), Ok(false));
        // Numbers as strings are not numbers.
        assert_eq!(
            eval("args.s", "gt", json!(1), &args),
            Err("gt needs a number but args.s is a string".into())
        );
        assert_eq!(
            eval("args", "lt", json!(1), &args),
            Err("lt needs a number but args is an object".into())
        );
    }

    #[test]
    fn numbers_compare_exactly() {
        let cmp = |a: Value, b: Value| match (a, b) {
            (Value::Number(x), Value::Number(y)) => compare_numbers(&x, &y),
            _ => None,
        };
        // 2^53 + 1 is not equal to 2^53 as a float, though `as f64` would say so.
        assert_eq!(
            cmp(
                json!(9_007_199_254_740_993_i64),
                json!(9_007_199_254_740_992.0)
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(json!(u64::MAX), json!(i64::MIN)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(json!(u64::MAX), json!(1.8446744073709552e19)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(json!(i64::MIN), json!(-9.223_372_036_854_776e18)),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp(json!(-1), json!(-0.5)), Some(Ordering::Less));
        assert_eq!(cmp(json!(-1), json!(-1.5)), Some(Ordering::Greater));
        assert_eq!(cmp(json!(3), json!(3.0)), Some(Ordering::Equal));
        assert_eq!(cmp(json!(1e300), json!(u64::MAX)), Some(Ordering::Greater));
    }

    #[test]
    fn regex_is_unanchored_and_unicode_aware() {
        let args = json!({"email": "bob@example.com", "name": "Zoë Ångström", "n": 5, "emoji": "pay 💶 now"});
        assert_eq!(
            eval("args.email", "regex", json!("@example\\.com$"), &args),
            Ok(true)
        );
        assert_eq!(
            eval("args.email", "regex", json!("^example"), &args),
            Ok(false)
        );
        assert_eq!(
            eval("args.email", "regex", json!("example"), &args),
            Ok(true)
        );
        assert_eq!(eval("args.name", "regex", json!("^Zo. Å"), &args), Ok(true));
        assert_eq!(
            eval("args.emoji", "regex", json!("pay . now"), &args),
            Ok(true)
        );
        assert_eq!(eval("args.missing", "regex", json!("x"), &args), Ok(false));
        assert_eq!(
            eval("args.n", "regex", json!("5"), &args),
            Err("regex needs a string but args.n is a number".into())
        );
        assert_eq!(
            eval("request.grant", "regex", json!("^alice-"), &args),
            Ok(true)
        );
    }

    #[test]
    fn contains_on_strings_and_arrays() {
        let args =
            json!({"s": "Grüße aus Köln", "tags": ["a", 2, {"k": 1}], "n": 1, "o": {}, "z": null});
        assert_eq!(eval("args.s", "contains", json!("aus Kö"), &args), Ok(true));
        assert_eq!(eval("args.s", "contains", json!("koln"), &args), Ok(false));
        assert_eq!(eval("args.tags", "contains", json!("a"), &args), Ok(true));
        assert_eq!(eval("args.tags", "contains", json!(2.0), &args), Ok(true));
        assert_eq!(
            eval("args.tags", "contains", json!({"k": 1}), &args),
            Ok(true)
        );
        assert_eq!(eval("args.tags", "contains", json!("2"), &args), Ok(false));
        assert_eq!(
            eval("args.missing", "contains", json!("x"), &args),
            Ok(false)
        );
        assert_eq!(
            eval("args.n", "contains", json!(1), &args),
            Err("contains needs a string or an array but args.n is a number".into())
        );
        assert_eq!(
            eval("args.o", "contains", json!("k"), &args),
            Err("contains needs a string or an array but args.o is an object".into())
        );
        assert_eq!(
            eval("args.z", "contains", json!("k"), &args),
            Err("contains needs a string or an array but args.z is null".into())
        );
        assert!(eval("args.s", "contains", json!(1), &args)
            .is_err_and(|e| e.contains("needs a string value")));
    }

    #[test]
    fn exists() {
        let args = json!({"z": null, "a": [0]});
        assert_eq!(eval("args.z", "exists", json!(true), &args), Ok(true));
        assert_eq!(eval("args.z", "exists", json!(false), &args), Ok(false));
        assert_eq!(eval("args.q", "exists", json!(false), &args), Ok(true));
        assert_eq!(eval("args.a.0", "exists", json!(true), &args), Ok(true));
        assert_eq!(eval("args.a.1", "exists", json!(true), &args), Ok(false));
        assert_eq!(eval("args", "exists", json!(true), &args), Ok(true));
        assert_eq!(
            eval("request.session", "exists", json!(true), &args),
            Ok(true)
        );
        let c = condition(json!({"path": "args", "op": "exists", "value": false}));
        let no_args = Context {
            arguments: None,
            session: None,
            ..ctx(&args)
        };
        assert_eq!(eval_in(&c, &no_args), Ok(true));
        let c = condition(json!({"path": "request.session", "op": "exists", "value": true}));
        assert_eq!(eval_in(&c, &no_args), Ok(false));
    }

    #[test]
    fn nested_paths_and_arrays() {
        let args = json!({"items": [{"unit_price": 10}, {"unit_price": 99.5, "tags": [["x"]]}], "m": {"0": "zero"}, "s": "str"});
        assert_eq!(
            eval("args.items.0.unit_price", "eq", json!(10), &args),
            Ok(true)
        );
        assert_eq!(
            eval("args.items.1.unit_price", "gt", json!(99), &args),
            Ok(true)
        );
        assert_eq!(
            eval("args.items.1.tags.0.0", "eq", json!("x"), &args),
            Ok(true)
        );
        assert_eq!(
            eval("args.items.2.unit_price", "gt", json!(0), &args),
            Ok(false)
        );
        assert_eq!(
            eval("args.items.01.unit_price", "exists", json!(true), &args),
            Ok(false)
        );
        assert_eq!(
            eval("args.items.-1", "exists", json!(true), &args),
            Ok(false)
        );
        assert_eq!(
            eval(
                "args.items.99999999999999999999999",
                "exists",
                json!(true),
                &args
            ),
            Ok(false)
        );
        assert_eq!(eval("args.m.0", "eq", json!("zero"), &args), Ok(true));
        assert_eq!(eval("args.s.x", "exists", json!(true), &args), Ok(false));
        assert_eq!(eval("args", "eq", args.clone(), &args), Ok(true));
    }

    #[test]
    fn request_paths() {
        let args = json!({});
        assert_eq!(
            eval("request.method", "eq", json!("tools/call"), &args),
            Ok(true)
        );
        assert_eq!(
            eval("request.tool", "eq", json!("create_invoice"), &args),
            Ok(true)
        );
        assert_eq!(
            eval("request.grant", "in", json!(["alice-laptop"]), &args),
            Ok(true)
        );
        assert_eq!(eval("request.session", "eq", json!("s-1"), &args), Ok(true));
        assert_eq!(
            eval("request.tool", "contains", json!("invoice"), &args),
            Ok(true)
        );
        assert_eq!(
            eval("request.tool", "gt", json!(1), &args),
            Err("gt needs a number but request.tool is a string".into())
        );
    }

    #[test]
    fn load_errors() {
        assert_eq!(
            errors(json!({"path": "state.x", "op": "eq", "value": 1}))[0].0,
            "/c/path"
        );
        assert_eq!(
            errors(json!({"path": "args..x", "op": "eq", "value": 1}))[0].0,
            "/c/path"
        );
        assert_eq!(
            errors(json!({"path": "args.", "op": "eq", "value": 1}))[0].0,
            "/c/path"
        );
        assert_eq!(
            errors(json!({"path": "request.body", "op": "eq", "value": 1}))[0].0,
            "/c/path"
        );
        assert_eq!(
            errors(json!({"path": 1, "op": "eq", "value": 1}))[0].0,
            "/c/path"
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "like", "value": 1}))[0].0,
            "/c/op"
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "in", "value": "x"}))[0],
            (
                "/c/value".into(),
                "in needs an array value, not a string (\"x\")".into()
            )
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "not_in", "value": 1}))[0].0,
            "/c/value"
        );
        assert_eq!(
            errors(json!({"path": "args.amount", "op": "gt", "value": "250000"}))[0].1,
            "gt needs a number value (ordering compares numbers only), not a string (\"250000\")"
        );
        assert!(
            errors(json!({"path": "args", "op": "regex", "value": "(unclosed"}))[0]
                .1
                .starts_with("invalid regex")
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "regex", "value": 5}))[0].0,
            "/c/value"
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "exists", "value": "yes"}))[0].0,
            "/c/value"
        );
        assert_eq!(
            errors(json!({"path": "args", "op": "exists"}))[0],
            (
                "/c".into(),
                "missing required field \"value\" (op exists)".into()
            )
        );
        assert_eq!(
            errors(json!({"op": "eq", "value": 1}))[0].1,
            "missing required field \"path\""
        );
        assert_eq!(
            errors(json!({"path": "args", "value": 1}))[0].1,
            "missing required field \"op\""
        );
        assert_eq!(errors(json!("args.x > 1"))[0].0, "/c");
        let all = errors(json!({"path": "nope", "op": "gt", "value": "1", "extra": true}));
        let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["/c/extra", "/c/path", "/c/value"]);
    }
}
