//! Rules for JSON-RPC methods other than `tools/call` (the `methods` key).
//!
//! ```json
//! "methods": {
//!   "logging/setLevel": "deny",
//!   "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow", "file:///docs/secret/*": "deny"}},
//!   "prompts/get": {"rules": {"summarize_*": "allow"}},
//!   "tasks/cancel": "allow"
//! }
//! ```
//!
//! * Any method except `tools/call` may have a rule, `"allow"` or `"deny"`
//!   (`tools/call` is governed by `tools`, `hide` and `default`; naming it
//!   here is a load error).
//! * `resources/read` (by `params.uri`) and `prompts/get` (by `params.name`)
//!   may instead take `{"default": "allow"|"deny", "rules": {"<pattern>":
//!   "allow"|"deny"}}`, where patterns follow the same precedence as tool
//!   names (exact beats `*` patterns, more literal characters win, equal-rank
//!   overlaps are load errors; `*` also matches `/`). Without a matching
//!   rule the entry's `default` applies, and without that the policy's
//!   `default`. Without any `methods` entry both follow the policy's
//!   `default`.
//! * Protocol plumbing passes unless a rule says otherwise (rule
//!   `(protocol)`): `initialize`, `server/discover`, `ping`,
//!   `notifications/*`, `tools/list`, `resources/list`,
//!   `resources/templates/list`, `prompts/list`, `completion/complete`,
//!   `logging/setLevel`, `subscriptions/listen`, `resources/subscribe`,
//!   `resources/unsubscribe` and the task methods `tasks/get`,
//!   `tasks/update`, `tasks/cancel`, `tasks/list`, `tasks/result` (exactly
//!   these: an unknown future `tasks/...` method is an unknown method).
//! * Any other method follows the policy's `default` (`(default allow)` /
//!   `(default deny)`).
//!
//! Rules are named `/methods/<method>` (with `/` escaped as `~1`, e.g.
//! `/methods/resources~1read`), `/methods/<method>/default` and
//! `/methods/<method>/rules/<pattern>`.

use std::collections::HashMap;

use serde_json::Value;

use super::condition::type_name;
use super::error::Issues;
use super::pattern::{Lookup, PatternTable, TableEntry};
use super::{Denial, DenialKind};
use crate::json::pointer;

/// Methods that pass unless a rule says otherwise (besides `notifications/*`).
const PROTOCOL_METHODS: &[&str] = &[
    "initialize",
    "server/discover",
    "ping",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "resources/subscribe",
    "resources/unsubscribe",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
    "tasks/list",
    "tasks/result",
];

const RESOURCES_READ: &str = "resources/read";
const PROMPTS_GET: &str = "prompts/get";

/// Whether `method` is protocol plumbing that passes by default.
pub(crate) fn is_protocol(method: &str) -> bool {
    PROTOCOL_METHODS.contains(&method) || method.starts_with("notifications/")
}

/// Rules for one method.
#[derive(Debug)]
enum Rule {
    Allow,
    Deny,
    /// `resources/read` and `prompts/get`: rules by target.
    Targets {
        default: Option<bool>,
        rules: PatternTable<bool>,
    },
}

/// The compiled `methods` key.
#[derive(Debug, Default)]
pub(crate) struct MethodRules {
    rules: HashMap<String, Rule>,
}

fn not_allowed(method: &str, target: Option<&str>) -> String {
    match (method, target) {
        (RESOURCES_READ, Some(uri)) => format!("Resource {uri:?} is not allowed by policy"),
        (PROMPTS_GET, Some(name)) => format!("Prompt {name:?} is not allowed by policy"),
        _ => format!("Method {method:?} is not allowed by policy"),
    }
}

fn verdict(
    allow: bool,
    rule: String,
    method: &str,
    target: Option<&str>,
) -> Result<String, Denial> {
    if allow {
        Ok(rule)
    } else {
        Err(Denial {
            kind: DenialKind::Denied,
            rule,
            message: not_allowed(method, target),
        })
    }
}

fn policy_default(
    default_allow: bool,
    method: &str,
    target: Option<&str>,
) -> Result<String, Denial> {
    let rule = if default_allow {
        "(default allow)"
    } else {
        "(default deny)"
    };
    verdict(default_allow, rule.to_owned(), method, target)
}

impl MethodRules {
    /// What the rules decide for a method other than `tools/call`: the
    /// allowing rule, or the denial (before any dry run is applied).
    pub fn decide(
        &self,
        method: &str,
        target: Option<&str>,
        default_allow: bool,
    ) -> Result<String, Denial> {
        let base = pointer::join("/methods", method);
        match self.rules.get(method) {
            Some(Rule::Allow) => Ok(base),
            Some(Rule::Deny) => verdict(false, base, method, target),
            Some(Rule::Targets { default, rules }) => {
                if let Some(target) = target {
                    let rules_base = pointer::join(&base, "rules");
                    match rules.lookup(target) {
                        Lookup::Found { key, value } => {
                            return verdict(
                                *value,
                                pointer::join(&rules_base, key),
                                method,
                                Some(target),
                            );
                        }
                        Lookup::Ambiguous(a, b) => {
                            let (a, b) =
                                (pointer::join(&rules_base, a), pointer::join(&rules_base, b));
                            return Err(Denial {
                                kind: DenialKind::ConditionError,
                                rule: format!("(ambiguous: {a}, {b})"),
                                message: format!(
                                    "{target:?} matches both {a} and {b}; the policy cannot decide"
                                ),
                            });
                        }
                        Lookup::NotFound => {}
                    }
                }
                match default {
                    Some(allow) => verdict(*allow, pointer::join(&base, "default"), method, target),
                    None => policy_default(default_allow, method, target),
                }
            }
            None if method == RESOURCES_READ || method == PROMPTS_GET => {
                policy_default(default_allow, method, target)
            }
            None if is_protocol(method) => Ok("(protocol)".to_owned()),
            None => policy_default(default_allow, method, target),
        }
    }

    /// Compiles the `methods` object at `/methods`.
    pub fn compile(value: &Value, issues: &mut Issues) -> MethodRules {
        let mut rules = HashMap::new();
        let Some(object) = value.as_object() else {
            issues.value(
                "/methods",
                format!("methods must be an object, not {}", type_name(value)),
            );
            return MethodRules { rules };
        };
        for (method, rule) in object {
            let at = pointer::join("/methods", method);
            if method.is_empty() {
                issues.key(&at, "a method name cannot be empty");
                continue;
            }
            if method == "tools/call" {
                issues.key(
                    &at,
                    "tools/call cannot have a method rule: tool calls are governed by \"tools\", \"hide\" and \"default\"",
                );
                continue;
            }
            let compiled = match rule {
                Value::String(s) if s == "allow" => Some(Rule::Allow),
                Value::String(s) if s == "deny" => Some(Rule::Deny),
                Value::Object(members) if method == RESOURCES_READ || method == PROMPTS_GET => {
                    compile_targets(method, members, &at, issues)
                }
                Value::Object(_) => {
                    issues.value(
                        &at,
                        format!(
                            "only resources/read and prompts/get take {{\"default\", \"rules\"}}; \
                             the rule for {method} must be \"allow\" or \"deny\""
                        ),
                    );
                    None
                }
                other => {
                    let what = if method == RESOURCES_READ || method == PROMPTS_GET {
                        "\"allow\", \"deny\" or {\"default\", \"rules\"}"
                    } else {
                        "\"allow\" or \"deny\""
                    };
                    issues.value(&at, format!("a method rule must be {what}, not {other}"));
                    None
                }
            };
            if let Some(compiled) = compiled {
                rules.insert(method.clone(), compiled);
            }
        }
        MethodRules { rules }
    }
}

fn allow_or_deny(value: &Value, at: &str, issues: &mut Issues) -> Option<bool> {
    match value.as_str() {
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        _ => {
            issues.value(at, format!("must be \"allow\" or \"deny\", not {value}"));
            None
        }
    }
}

fn compile_targets(
    method: &str,
    members: &serde_json::Map<String, Value>,
    at: &str,
    issues: &mut Issues,
) -> Option<Rule> {
    let before = issues.0.len();
    for key in members.keys() {
        if key != "default" && key != "rules" {
            issues.key(
                pointer::join(at, key),
                format!(
                    "unknown field {key:?} in a {method} rule; expected one of: default, rules"
                ),
            );
        }
    }
    let default = members
        .get("default")
        .and_then(|v| allow_or_deny(v, &pointer::join(at, "default"), issues));
    let rules_at = pointer::join(at, "rules");
    let mut entries = Vec::new();
    match members.get("rules") {
        None => {}
        Some(Value::Object(rules)) => {
            for (pattern, verdict) in rules {
                let rule_at = pointer::join(&rules_at, pattern);
                if pattern.is_empty() {
                    issues.key(&rule_at, "a rule pattern cannot be empty");
                    continue;
                }
                if let Some(allow) = allow_or_deny(verdict, &rule_at, issues) {
                    entries.push(TableEntry {
                        key: pattern.clone(),
                        pointer: rule_at,
                        value: allow,
                    });
                }
            }
        }
        Some(other) => issues.value(
            &rules_at,
            format!(
                "rules must be an object of pattern: \"allow\"|\"deny\", not {}",
                type_name(other)
            ),
        ),
    }
    let what = if method == RESOURCES_READ {
        "resource"
    } else {
        "prompt"
    };
    let rules = PatternTable::build(entries, what, issues);
    (issues.0.len() == before).then_some(Rule::Targets { default, rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(value: Value) -> MethodRules {
        let mut issues = Issues::default();
        let rules = MethodRules::compile(&value, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.0);
        rules
    }

    fn errors(value: Value) -> Vec<(String, String)> {
        let mut issues = Issues::default();
        MethodRules::compile(&value, &mut issues);
        issues.0.into_iter().map(|i| (i.path, i.message)).collect()
    }

    fn rule_of(r: Result<String, Denial>) -> String {
        match r {
            Ok(rule) => format!("allow {rule}"),
            Err(d) => format!("deny {} {:?}", d.rule, d.kind),
        }
    }

    #[test]
    fn plumbing_passes_and_unknown_methods_follow_default() {
        let r = MethodRules::default();
        for m in [
            "initialize",
            "ping",
            "notifications/initialized",
            "tools/list",
            "tasks/result",
            "logging/setLevel",
        ] {
            assert_eq!(rule_of(r.decide(m, None, false)), "allow (protocol)", "{m}");
        }
        assert_eq!(
            rule_of(r.decide("tasks/frobnicate", None, false)),
            "deny (default deny) Denied"
        );
        assert_eq!(
            rule_of(r.decide("sampling/createMessage", None, true)),
            "allow (default allow)"
        );
        let denied = r.decide("custom/thing", None, false);
        assert_eq!(
            denied.err().map(|d| d.message),
            Some("Method \"custom/thing\" is not allowed by policy".to_owned())
        );
        assert_eq!(
            rule_of(r.decide("resources/read", Some("file:///a"), false)),
            "deny (default deny) Denied"
        );
        assert_eq!(
            rule_of(r.decide("prompts/get", Some("p"), true)),
            "allow (default allow)"
        );
    }

    #[test]
    fn method_rules_override_plumbing_and_default() {
        let r = rules(
            json!({"logging/setLevel": "deny", "custom/thing": "allow", "prompts/get": "deny"}),
        );
        assert_eq!(
            rule_of(r.decide("logging/setLevel", None, true)),
            "deny /methods/logging~1setLevel Denied"
        );
        assert_eq!(
            rule_of(r.decide("custom/thing", None, false)),
            "allow /methods/custom~1thing"
        );
        let d = r.decide("prompts/get", Some("summarize"), true).err();
        assert_eq!(
            d.map(|d| (d.rule, d.message)),
            Some((
                "/methods/prompts~1get".into(),
                "Prompt \"summarize\" is not allowed by policy".into()
            ))
        );
    }

    #[test]
    fn target_rules() {
        let r = rules(json!({
            "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow", "file:///docs/secret/*": "deny", "file:///docs/secret/ok.md": "allow"}},
            "prompts/get": {"rules": {"summarize_*": "allow"}}
        }));
        let rr = |uri: Option<&str>| rule_of(r.decide("resources/read", uri, true));
        assert_eq!(
            rr(Some("file:///docs/a/b.md")),
            "allow /methods/resources~1read/rules/file:~1~1~1docs~1*"
        );
        assert_eq!(
            rr(Some("file:///docs/secret/x")),
            "deny /methods/resources~1read/rules/file:~1~1~1docs~1secret~1* Denied"
        );
        assert_eq!(
            rr(Some("file:///docs/secret/ok.md")),
            "allow /methods/resources~1read/rules/file:~1~1~1docs~1secret~1ok.md"
        );
        assert_eq!(
            rr(Some("file:///etc/passwd")),
            "deny /methods/resources~1read/default Denied"
        );
        assert_eq!(rr(None), "deny /methods/resources~1read/default Denied");
        let d = r
            .decide("resources/read", Some("file:///etc/passwd"), true)
            .err();
        assert_eq!(
            d.map(|d| d.message),
            Some("Resource \"file:///etc/passwd\" is not allowed by policy".to_owned())
        );
        // No entry default: the policy default.
        assert_eq!(
            rule_of(r.decide("prompts/get", Some("summarize_doc"), false)),
            "allow /methods/prompts~1get/rules/summarize_*"
        );
        assert_eq!(
            rule_of(r.decide("prompts/get", Some("other"), false)),
            "deny (default deny) Denied"
        );
        assert_eq!(
            rule_of(r.decide("prompts/get", Some("other"), true)),
            "allow (default allow)"
        );
    }

    #[test]
    fn load_errors() {
        let e = errors(json!({"tools/call": "deny"}));
        assert_eq!(e[0].0, "/methods/tools~1call");
        assert!(e[0].1.contains("governed by \"tools\""));
        assert_eq!(errors(json!({"ping": "block"}))[0].0, "/methods/ping");
        assert_eq!(
            errors(json!({"ping": {"default": "deny"}}))[0].0,
            "/methods/ping"
        );
        assert_eq!(errors(json!({"": "deny"}))[0].0, "/methods/");
        assert_eq!(
            errors(json!({"resources/read": {"default": "maybe"}}))[0].0,
            "/methods/resources~1read/default"
        );
        assert_eq!(
            errors(json!({"resources/read": {"rules": {"a*": "yes"}}}))[0].0,
            "/methods/resources~1read/rules/a*"
        );
        assert_eq!(
            errors(json!({"resources/read": {"rules": []}}))[0].0,
            "/methods/resources~1read/rules"
        );
        assert_eq!(
            errors(json!({"resources/read": {"deny": true}}))[0].0,
            "/methods/resources~1read/deny"
        );
        assert_eq!(
            errors(json!({"resources/read": 5}))[0].0,
            "/methods/resources~1read"
        );
        let tie = errors(json!({"prompts/get": {"rules": {"a*": "allow", "*a": "deny"}}}));
        assert_eq!(tie.len(), 1);
        assert!(tie[0].1.starts_with("prompt pattern"), "{}", tie[0].1);
        assert_eq!(errors(json!([]))[0].0, "/methods");
    }
}
