//! `mcp-policy ratelimit-config`: the limits configuration of a rate-limit
//! service, from the limits a policy has it count, for services that ignore
//! the filter's limit overrides (Limitador) or need their domain configured
//! (envoyproxy/ratelimit looks a domain up before it reads any override).
//!
//! The filter sends one descriptor per counter, with three entries
//! (`counter`, `scope`, `value`: see `rate_limit_service`), so a counter is
//! configured by its name and scope, and counted per `value`.
//! - envoyproxy/ratelimit: nested descriptors `counter` → `scope` → `value`
//!   (no value: one counter per value), `rate_limit: {unit, requests_per_unit}`.
//! - Limitador (2.x, CEL): one limit per counter, `namespace` the domain,
//!   `max_value`, `seconds`; Limitador binds a request's descriptors as a
//!   list and reads them by position, so the condition and the variable try
//!   each position a descriptor can have (as many as there are counters).

use std::fmt::Write;

use crate::policy::{Limit, Policy};
use crate::rate_limit_service::Unit;

/// One counter the service counts, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    pub counter: String,
    pub scope: String,
    pub unit: Unit,
    pub max: u32,
    /// Where it is defined: `<policy>` + the limit's rule.
    pub at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Envoyproxy,
    Limitador,
}

/// The counters the service counts in `policies` (each with the pointer of
/// its policy), each once. An error when one counter (name and scope) has
/// two limits: a service without overrides cannot tell them apart.
pub fn counted<'p>(
    policies: impl IntoIterator<Item = (String, &'p Policy)>,
) -> Result<Vec<Counted>, String> {
    let mut found: Vec<Counted> = Vec::new();
    for (source, policy) in policies {
        for limit in policy.limits() {
            let Some(counted) = counted_limit(&source, limit) else {
                continue;
            };
            match found
                .iter()
                .find(|known| known.counter == counted.counter && known.scope == counted.scope)
            {
                Some(known) if (known.unit, known.max) != (counted.unit, counted.max) => {
                    return Err(format!(
                        "counter {:?} (scope {}) is {} per {} at {} but {} per {} at {}: a service that ignores the filter's overrides cannot count both; give them different counter names",
                        counted.counter,
                        counted.scope,
                        known.max,
                        known.unit.name(),
                        known.at,
                        counted.max,
                        counted.unit.name(),
                        counted.at
                    ))
                }
                Some(_) => {}
                None => found.push(counted),
            }
        }
    }
    Ok(found)
}

fn counted_limit(source: &str, limit: &Limit) -> Option<Counted> {
    if !limit.counted_by_service() {
        return None;
    }
    Some(Counted {
        counter: limit.counter.clone(),
        scope: limit.scope.name(),
        unit: Unit::of(limit.window)?,
        max: u32::try_from(limit.max).ok()?,
        at: format!("{source}{}", limit.rule),
    })
}

pub fn render(format: Format, domain: &str, source: &str, counted: &[Counted]) -> String {
    match format {
        Format::Envoyproxy => envoyproxy(domain, source, counted),
        Format::Limitador => limitador(domain, source, counted),
    }
}

/// A YAML scalar: JSON's quoting is YAML's double-quoted style.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn envoyproxy(domain: &str, source: &str, counted: &[Counted]) -> String {
    let mut out = format!(
        "# envoyproxy/ratelimit configuration (mcp-policy ratelimit-config --format envoyproxy {source}).\n\
         # The filter sends each counter as the descriptor (counter, scope, value), with its\n\
         # limit as an override; these entries give the same limits to lookups without one.\n\
         domain: {}\ndescriptors:\n",
        quoted(domain)
    );
    let mut names: Vec<&str> = Vec::new();
    for counted in counted {
        if !names.contains(&counted.counter.as_str()) {
            names.push(&counted.counter);
        }
    }
    for name in names {
        let _ = write!(
            out,
            "  - key: counter\n    value: {}\n    descriptors:\n",
            quoted(name)
        );
        for counted in counted.iter().filter(|counted| counted.counter == name) {
            let _ = write!(
                out,
                "      # {}\n      - key: scope\n        value: {}\n        descriptors:\n          - key: value\n            rate_limit:\n              unit: {}\n              requests_per_unit: {}\n",
                counted.at,
                quoted(&counted.scope),
                counted.unit.name(),
                counted.max
            );
        }
    }
    out
}

/// A CEL string literal.
fn cel(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn limitador(domain: &str, source: &str, counted: &[Counted]) -> String {
    let mut out = format!(
        "# Limitador limits (mcp-policy ratelimit-config --format limitador {source}).\n\
         # The filter sends each counter as one descriptor (counter, scope, value); Limitador\n\
         # reads descriptors by position, so each limit looks for its counter at every position.\n"
    );
    if counted.is_empty() {
        out.push_str("[]\n");
        return out;
    }
    let positions = counted.len();
    for counted in counted {
        let at = |index: usize| {
            format!(
                "size(descriptors) > {index} && descriptors[{index}].counter == {} && descriptors[{index}].scope == {}",
                cel(&counted.counter),
                cel(&counted.scope)
            )
        };
        let condition: Vec<String> = (0..positions)
            .map(|index| format!("({})", at(index)))
            .collect();
        let mut variable = "''".to_owned();
        for index in (0..positions).rev() {
            variable = format!("({}) ? descriptors[{index}].value : {variable}", at(index));
        }
        let _ = write!(
            out,
            "# {}\n- namespace: {}\n  name: {}\n  max_value: {}\n  seconds: {}\n  conditions:\n    - {}\n  variables:\n    - {}\n",
            counted.at,
            quoted(domain),
            quoted(&format!("{} ({})", counted.counter, counted.scope)),
            counted.max,
            counted.unit.seconds(),
            quoted(&condition.join(" || ")),
            quoted(&variable)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(value: serde_json::Value) -> Policy {
        match Policy::from_value(&value, "") {
            Ok(policy) => policy,
            Err(errors) => panic!("{errors}"),
        }
    }

    #[test]
    fn only_limits_the_service_counts_each_counter_once() {
        let a = policy(
            json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
            "tools": {
                "x": {"limits": [{"counter": "shared", "window": "minute", "max": 3}]},
                "y": {"limits": [{"counter": "shared", "window": "minute", "max": 3},
                                 {"counter": "local", "window": 90, "max": 3, "counted_by": "envoy"},
                                 {"counter": "dry", "window": "day", "max": 3, "mode": "dry_run"}]}}}),
        );
        let b = policy(json!({"version": "1", "default": "deny", "tools": {
            "x": {"limits": [{"counter": "shared", "window": "minute", "max": 3, "scope": "session",
                              "counted_by": "rate_limit_service"}]}}}));
        let found = counted([("/policy".to_owned(), &a), ("/policies/b".to_owned(), &b)]).unwrap();
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|c| (c.counter.as_str(), c.scope.as_str()))
            .collect();
        assert_eq!(names, [("shared", "grant"), ("shared", "session")]);
        assert_eq!(found[0].at, "/policy/tools/x/limits/shared");
    }

    #[test]
    fn one_counter_with_two_limits_is_an_error() {
        let a = policy(
            json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
            "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": 3}]}}}),
        );
        let b = policy(
            json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
            "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": 4}]}}}),
        );
        let error =
            counted([("/policy".to_owned(), &a), ("/policies/b".to_owned(), &b)]).unwrap_err();
        assert!(error.contains("3 per minute at /policy/tools/x/limits/c but 4 per minute at /policies/b/tools/x/limits/c"), "{error}");
    }

    #[test]
    fn cel_literals_escape_quotes() {
        assert_eq!(cel("it's"), "'it\\'s'");
        assert_eq!(cel("a\\b"), "'a\\\\b'");
    }
}
