//! Condition paths: parsing, walking the arguments, and naming the concrete
//! place a path reached (`args.invoices.1.amount_total`).
//!
//! `args` is the whole `arguments` object and `args.<a>.<b>...` a dotted path
//! into it: a member name, an array index (`items.0`, which also names the
//! member `"0"` of an object) or `*`, every element of an array. `*` is a
//! whole segment of an `args` path, never the first one (the arguments are
//! an object), and a path has at most [`MAX_WILDCARDS`] of them. Member
//! names containing `.` or equal to `*` cannot be addressed.

use serde_json::Value;

/// `*` segments one path may have. It bounds every recursion over a path's
/// `*`s (see `conjunction.rs`), whatever the depth of the arguments.
pub(crate) const MAX_WILDCARDS: usize = 8;

const WILDCARD: &str = "*";

/// Where a condition reads its value.
#[derive(Debug)]
pub(crate) enum Path {
    Args(ArgsPath),
    Method,
    Tool,
    Grant,
    Session,
}

/// `args` and its segments, cut at each `*`: `args.a.*.b.*.c` holds
/// `[[a], [b], [c]]`, `args.a.*` holds `[[a], []]` and `args` holds `[[]]`.
/// There is always one part more than there are `*`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArgsPath {
    parts: Vec<Vec<String>>,
}

impl ArgsPath {
    /// How many `*` segments the path has.
    pub fn wildcards(&self) -> usize {
        self.parts.len().saturating_sub(1)
    }

    /// The keys before `*` number `index` (from the arguments, or from the
    /// element of the previous `*`), or after the last `*` when `index` is
    /// [`wildcards`](Self::wildcards).
    pub fn part(&self, index: usize) -> &[String] {
        self.parts.get(index).map_or(&[], Vec::as_slice)
    }

    /// The path's first `parts` parts, with `*` number `k` replaced by
    /// `index(k)` (kept as `*` where that is `None`). `parts` past the end
    /// means the whole path.
    pub fn render(&self, parts: usize, index: impl Fn(usize) -> Option<usize>) -> String {
        let mut out = String::from("args");
        for (k, keys) in self.parts.iter().take(parts).enumerate() {
            if k > 0 {
                out.push('.');
                match index(k - 1) {
                    Some(i) => out.push_str(&i.to_string()),
                    None => out.push_str(WILDCARD),
                }
            }
            for key in keys {
                out.push('.');
                out.push_str(key);
            }
        }
        out
    }

    /// The value at the path from `arguments`, taking element `indices[k]`
    /// at `*` number `k` (missing where an index is `None` or absent).
    pub fn resolve<'a>(
        &self,
        arguments: Option<&'a Value>,
        indices: &[Option<usize>],
    ) -> Option<&'a Value> {
        let mut current = walk(arguments, self.part(0));
        for k in 0..self.wildcards() {
            let index = indices.get(k).copied().flatten()?;
            current = match current? {
                Value::Array(items) => items.get(index),
                _ => None,
            };
            current = walk(current, self.part(k + 1));
        }
        current
    }
}

/// Follows member names and array indices from `start`; `None` when a step
/// is missing or meets a value that is neither an object nor an array.
pub(crate) fn walk<'a>(start: Option<&'a Value>, keys: &[String]) -> Option<&'a Value> {
    let mut current = start?;
    for key in keys {
        current = match current {
            Value::Object(members) => members.get(key)?,
            Value::Array(items) => items.get(array_index(key)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `0`, `1`, `42`: an array index (no sign, no leading zero).
fn array_index(segment: &str) -> Option<usize> {
    let canonical = !segment.is_empty()
        && segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    if !canonical {
        return None;
    }
    segment
        .parse::<u64>()
        .ok()
        .and_then(|i| usize::try_from(i).ok())
}

/// Parses a condition's `path`, or says what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<Path, String> {
    match text {
        "args" => {
            return Ok(Path::Args(ArgsPath {
                parts: vec![Vec::new()],
            }))
        }
        "request.method" => return Ok(Path::Method),
        "request.tool" => return Ok(Path::Tool),
        "request.grant" => return Ok(Path::Grant),
        "request.session" => return Ok(Path::Session),
        _ => {}
    }
    let Some(rest) = text.strip_prefix("args.") else {
        if text.starts_with("request.") && text.contains('*') {
            return Err(format!(
                "path {text:?}: \"*\" (every element of an array) applies only to args paths"
            ));
        }
        return Err(format!(
            "path must be \"args\", \"args.<field>[.<field>...]\" (a field may be \"*\", every element \
             of an array), \"request.method\", \"request.tool\", \"request.grant\" or \"request.session\", \
             not {text:?}"
        ));
    };
    let mut parts = vec![Vec::new()];
    for (position, segment) in rest.split('.').enumerate() {
        if segment.is_empty() {
            return Err(format!("path {text:?} has an empty segment"));
        }
        if segment == WILDCARD {
            if position == 0 {
                return Err(format!(
                    "path {text:?}: the arguments are an object, so \"*\" (every element of an array) \
                     cannot follow args directly; name the array first (args.<array>.*)"
                ));
            }
            parts.push(Vec::new());
            continue;
        }
        if segment.contains('*') {
            return Err(format!(
                "path {text:?}: \"*\" must be a whole segment (args.items.*.price), not part of {segment:?}"
            ));
        }
        if let Some(last) = parts.last_mut() {
            last.push(segment.to_owned());
        }
    }
    if parts.len() > MAX_WILDCARDS + 1 {
        return Err(format!(
            "path {text:?} has {} \"*\" segments; at most {MAX_WILDCARDS} are allowed",
            parts.len() - 1
        ));
    }
    Ok(Path::Args(ArgsPath { parts }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(text: &str) -> ArgsPath {
        match parse(text) {
            Ok(Path::Args(path)) => path,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parts_are_cut_at_each_wildcard() {
        assert_eq!(args("args").parts, vec![Vec::<String>::new()]);
        assert_eq!(args("args.a.b").parts, vec![vec!["a", "b"]]);
        assert_eq!(
            args("args.orders.*.items.*.price").parts,
            vec![vec!["orders"], vec!["items"], vec!["price"]]
        );
        assert_eq!(args("args.a.*.*").parts, vec![vec!["a"], vec![], vec![]]);
        assert_eq!(args("args.a.*.*").wildcards(), 2);
        assert_eq!(args("args.a.*").part(1), &[] as &[String]);
        assert_eq!(args("args.a.*").part(7), &[] as &[String]);
    }

    #[test]
    fn malformed_paths() {
        let error = |text: &str| match parse(text) {
            Err(message) => message,
            Ok(path) => panic!("{text} parsed as {path:?}"),
        };
        assert!(error("args.*").contains("cannot follow args directly"));
        assert!(error("args.*.x").contains("cannot follow args directly"));
        assert!(error("args.a.**").contains("whole segment"));
        assert!(error("args.a.b*").contains("whole segment"));
        assert!(error("args.a..*").contains("empty segment"));
        assert!(error("args.a.*.").contains("empty segment"));
        assert!(error("request.*").contains("applies only to args paths"));
        assert!(error("request.tool.*").contains("applies only to args paths"));
        assert!(error("*").starts_with("path must be"));
        assert!(error(&format!("args.a{}", ".*".repeat(9))).contains("at most 8"));
        assert_eq!(args(&format!("args.a{}", ".*".repeat(8))).wildcards(), 8);
    }

    #[test]
    fn render_fills_in_indices() {
        let path = args("args.orders.*.items.*.price");
        assert_eq!(
            path.render(usize::MAX, |_| None),
            "args.orders.*.items.*.price"
        );
        assert_eq!(
            path.render(usize::MAX, |k| Some(k + 1)),
            "args.orders.1.items.2.price"
        );
        assert_eq!(path.render(2, |_| Some(0)), "args.orders.0.items");
        assert_eq!(path.render(1, |_| Some(0)), "args.orders");
        assert_eq!(args("args").render(usize::MAX, |_| None), "args");
        assert_eq!(args("args.a.*.*").render(usize::MAX, Some), "args.a.0.1");
    }

    #[test]
    fn resolve_follows_indices() {
        let value =
            json!({"orders": [{"items": [{"price": 1}]}, {"items": [{"price": 2}, {"price": 3}]}]});
        let path = args("args.orders.*.items.*.price");
        assert_eq!(
            path.resolve(Some(&value), &[Some(1), Some(1)]),
            Some(&json!(3))
        );
        assert_eq!(path.resolve(Some(&value), &[Some(0), Some(1)]), None);
        assert_eq!(path.resolve(Some(&value), &[Some(0)]), None);
        assert_eq!(path.resolve(Some(&value), &[None, Some(0)]), None);
        assert_eq!(
            args("args.orders").resolve(Some(&value), &[]),
            value.get("orders")
        );
        assert_eq!(args("args").resolve(None, &[]), None);
    }

    #[test]
    fn walk_reads_members_and_canonical_indices() {
        let value = json!({"a": [10, {"0": "zero"}], "s": "x"});
        let keys = |path: &str| -> Vec<String> { path.split('.').map(str::to_owned).collect() };
        assert_eq!(walk(Some(&value), &keys("a.0")), Some(&json!(10)));
        assert_eq!(walk(Some(&value), &keys("a.1.0")), Some(&json!("zero")));
        assert_eq!(walk(Some(&value), &keys("a.01")), None);
        assert_eq!(walk(Some(&value), &keys("a.-1")), None);
        assert_eq!(walk(Some(&value), &keys("s.x")), None);
        assert_eq!(walk(Some(&value), &[]), Some(&value));
        assert_eq!(walk(None, &[]), None);
    }
}
