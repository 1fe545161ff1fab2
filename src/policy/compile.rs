//! Validates a policy document and compiles it. Every problem is reported
//! (with the JSON pointer of the offending value), not just the first.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::counter::Window;

use super::approval::ApprovalRule;
use super::condition::{type_name, Condition};
use super::conjunction::Conjunction;
use super::error::Issues;
use super::methods::MethodRules;
use super::model::{Compiled, DenyIf, Hide, Requirement, ToolAction, ToolEntry};
use super::pattern::{Pattern, PatternTable, TableEntry};
use super::{Limit, Scope};
use crate::json::pointer;
use crate::rate_limit_service::Unit;

const TOP_FIELDS: &[&str] = &[
    "version",
    "default",
    "mode",
    "hide",
    "all_tools",
    "tools",
    "methods",
    "counted_by",
];
const ALL_TOOLS_FIELDS: &[&str] = &["limits"];
const TOOL_FIELDS: &[&str] = &[
    "require", "deny_if", "limits", "action", "message", "approval", "mode",
];
const DENY_IF_FIELDS: &[&str] = &["conditions", "on_deny", "mode"];
const LIMIT_FIELDS: &[&str] = &["counter", "window", "max", "scope", "mode", "counted_by"];
/// Beside a require condition's path, op and value.
const REQUIRE_FIELDS: &[&str] = &["on_deny"];

/// Compiles `value`, adding every problem to `issues`. The result is only
/// meaningful when `issues` stays empty.
pub(crate) fn compile(value: &Value, issues: &mut Issues) -> Option<Compiled> {
    let Some(root) = value.as_object() else {
        issues.value(
            "",
            format!("a policy must be a JSON object, not {}", type_name(value)),
        );
        return None;
    };
    unknown_fields(root, "", TOP_FIELDS, "a policy", issues);
    match root.get("version") {
        None => issues.value("", "missing required field \"version\" (must be \"1\")"),
        Some(Value::String(v)) if v == "1" => {}
        Some(other) => issues.value(
            "/version",
            format!("version must be the string \"1\", not {other}"),
        ),
    }
    let default_allow = match root.get("default") {
        None => {
            issues.value(
                "",
                "missing required field \"default\" (\"allow\" or \"deny\")",
            );
            None
        }
        Some(Value::String(v)) if v == "allow" => Some(true),
        Some(Value::String(v)) if v == "deny" => Some(false),
        Some(other) => {
            issues.value(
                "/default",
                format!("default must be \"allow\" or \"deny\", not {other}"),
            );
            None
        }
    };
    let dry_run = root.get("mode").is_some_and(|m| mode(m, "/mode", issues));

    let mut counters = Counters {
        by_service: root
            .get("counted_by")
            .is_some_and(|value| counted_by(value, "/counted_by", issues)),
        ..Counters::default()
    };
    let all_tools = match root.get("all_tools") {
        None => Vec::new(),
        Some(value) => compile_all_tools(value, dry_run, &mut counters, issues),
    };
    for limit in &all_tools {
        counters
            .all_tools
            .entry((limit.counter.clone(), limit.scope.clone()))
            .or_insert_with(|| limit.rule.clone());
    }

    let tool_members = match root.get("tools") {
        None => None,
        Some(Value::Object(members)) => Some(members),
        Some(other) => {
            issues.value(
                "/tools",
                format!(
                    "tools must be an object of tool name: entry, not {}",
                    type_name(other)
                ),
            );
            None
        }
    };
    let mut entries = Vec::new();
    for (name, entry) in tool_members.into_iter().flatten() {
        let at = pointer::join("/tools", name);
        if name.is_empty() {
            issues.key(&at, "a tool name cannot be empty");
            continue;
        }
        if let Some(entry) = compile_tool(name, &at, entry, dry_run, &mut counters, issues) {
            entries.push(TableEntry {
                key: name.clone(),
                pointer: at,
                value: entry,
            });
        }
    }
    let tools = PatternTable::build(entries, "tool", issues);

    let hide = match root.get("hide") {
        None => Hide::default(),
        Some(value) => compile_hide(value, tool_members, issues),
    };
    let methods = match root.get("methods") {
        None => MethodRules::default(),
        Some(value) => MethodRules::compile(value, issues),
    };
    Some(Compiled {
        dry_run,
        default_allow: default_allow?,
        no_policy: false,
        hide,
        tools,
        all_tools,
        methods,
        max_regex_subject_bytes: super::model::DEFAULT_MAX_REGEX_SUBJECT_BYTES,
    })
}

fn unknown_fields(
    object: &Map<String, Value>,
    at: &str,
    allowed: &[&str],
    what: &str,
    issues: &mut Issues,
) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            issues.key(
                pointer::join(at, key),
                format!(
                    "unknown field {key:?} in {what}; expected one of: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

fn object<'v>(
    value: &'v Value,
    at: &str,
    what: &str,
    issues: &mut Issues,
) -> Option<&'v Map<String, Value>> {
    let object = value.as_object();
    if object.is_none() {
        issues.value(
            at,
            format!("{what} must be an object, not {}", type_name(value)),
        );
    }
    object
}

fn array<'v>(value: &'v Value, at: &str, what: &str, issues: &mut Issues) -> &'v [Value] {
    match value.as_array() {
        Some(items) => items,
        None => {
            issues.value(
                at,
                format!("{what} must be an array, not {}", type_name(value)),
            );
            &[]
        }
    }
}

/// `true` for `"dry_run"`.
fn mode(value: &Value, at: &str, issues: &mut Issues) -> bool {
    match value.as_str() {
        Some("enforce") => false,
        Some("dry_run") => true,
        _ => {
            issues.value(
                at,
                format!("mode must be \"enforce\" or \"dry_run\", not {value}"),
            );
            false
        }
    }
}

/// A non-empty string, or an issue.
fn text(value: &Value, at: &str, what: &str, issues: &mut Issues) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::String(_) => {
            issues.value(at, format!("{what} cannot be empty"));
            None
        }
        other => {
            issues.value(
                at,
                format!("{what} must be a string, not {}", type_name(other)),
            );
            None
        }
    }
}

/// Where counters were first defined, to keep shared budgets unambiguous.
#[derive(Default)]
struct Counters {
    /// counter name → (pointer of the first limit, window, max)
    first: HashMap<String, (String, Window, u64)>,
    /// (counter, scope) of the all_tools limits → their rule
    all_tools: HashMap<(String, Scope), String>,
    /// The policy's `"counted_by": "rate_limit_service"`: the default of its limits.
    by_service: bool,
}

impl Counters {
    fn check(&mut self, limit: &Limit, at: &str, issues: &mut Issues) {
        match self.first.get(&limit.counter) {
            Some((first, window, max)) if *window != limit.window || *max != limit.max => issues.value(
                at,
                format!(
                    "counter {:?} is defined at {first} with window {window} and max {max} but here with window {} \
                     and max {}; limits that share a counter must agree on window and max",
                    limit.counter, limit.window, limit.max
                ),
            ),
            Some(_) => {}
            None => {
                self.first.insert(limit.counter.clone(), (at.to_owned(), limit.window, limit.max));
            }
        }
    }
}

fn compile_all_tools(
    value: &Value,
    dry_run: bool,
    counters: &mut Counters,
    issues: &mut Issues,
) -> Vec<Limit> {
    let Some(members) = object(value, "/all_tools", "all_tools", issues) else {
        return Vec::new();
    };
    unknown_fields(members, "/all_tools", ALL_TOOLS_FIELDS, "all_tools", issues);
    match members.get("limits") {
        None => Vec::new(),
        Some(limits) => compile_limits(limits, "/all_tools/limits", dry_run, counters, issues),
    }
}

fn compile_limits(
    value: &Value,
    at: &str,
    inherited_dry_run: bool,
    counters: &mut Counters,
    issues: &mut Issues,
) -> Vec<Limit> {
    let mut limits: Vec<Limit> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (index, item) in array(value, at, "limits", issues).iter().enumerate() {
        let item_at = pointer::join_index(at, index);
        let inherited = (inherited_dry_run, counters.by_service);
        let Some(limit) = compile_limit(item, &item_at, at, inherited, issues) else {
            continue;
        };
        if let Some(first) = seen.get(&limit.counter) {
            issues.value(
                pointer::join(&item_at, "counter"),
                format!("counter {:?} is already limited at {first}; a limits list may name a counter only once", limit.counter),
            );
            continue;
        }
        seen.insert(limit.counter.clone(), item_at.clone());
        // Empty while all_tools itself is compiled.
        if let Some(shared) = counters
            .all_tools
            .get(&(limit.counter.clone(), limit.scope.clone()))
        {
            issues.value(
                &item_at,
                format!(
                    "counter {:?} with the same scope is already an all_tools limit ({shared}); \
                     a call to this tool would draw from that budget twice",
                    limit.counter
                ),
            );
        }
        counters.check(&limit, &item_at, issues);
        limits.push(limit);
    }
    limits
}

/// `inherited`: the enclosing modes' dry run, and the policy's `counted_by`.
fn compile_limit(
    value: &Value,
    at: &str,
    rule_base: &str,
    (inherited_dry_run, by_service): (bool, bool),
    issues: &mut Issues,
) -> Option<Limit> {
    let members = object(value, at, "a limit", issues)?;
    unknown_fields(members, at, LIMIT_FIELDS, "a limit", issues);
    let missing = |field: &str, issues: &mut Issues| {
        issues.value(at, format!("missing required field {field:?} in a limit"))
    };
    let counter = match members.get("counter") {
        None => {
            missing("counter", issues);
            None
        }
        Some(v) => text(v, &pointer::join(at, "counter"), "counter", issues),
    };
    let window = match members.get("window") {
        None => {
            missing("window", issues);
            None
        }
        Some(v) => match Window::from_json(v) {
            Ok(window) => Some(window),
            Err(e) => {
                issues.value(pointer::join(at, "window"), e.0);
                None
            }
        },
    };
    let max = match members.get("max") {
        None => {
            missing("max", issues);
            None
        }
        Some(v) => {
            let max = v.as_u64();
            if max.is_none() {
                issues.value(
                    pointer::join(at, "max"),
                    format!("max must be a whole number, 0 or more, not {v}"),
                );
            }
            max
        }
    };
    let scope = match members.get("scope") {
        None => Some(Scope::Grant),
        Some(Value::String(s)) => match parse_scope(s) {
            Ok(scope) => Some(scope),
            Err(message) => {
                issues.value(pointer::join(at, "scope"), message);
                None
            }
        },
        Some(other) => {
            issues.value(
                pointer::join(at, "scope"),
                format!("scope must be a string, not {}", type_name(other)),
            );
            None
        }
    };
    let dry_run = members
        .get("mode")
        .is_some_and(|m| mode(m, &pointer::join(at, "mode"), issues));
    let service = match members.get("counted_by") {
        Some(value) => counted_by(value, &pointer::join(at, "counted_by"), issues),
        None => by_service,
    };
    if service {
        countable_by_service(at, window, max, issues);
    }
    let (counter, window, max, scope) = (counter?, window?, max?, scope?);
    Some(Limit {
        rule: pointer::join(rule_base, &counter),
        counter,
        window,
        max,
        scope,
        dry_run: inherited_dry_run || dry_run,
        service,
    })
}

/// `true` for `"rate_limit_service"`.
fn counted_by(value: &Value, at: &str, issues: &mut Issues) -> bool {
    match value.as_str() {
        Some("envoy") => false,
        Some("rate_limit_service") => true,
        _ => {
            issues.value(
                at,
                format!(
                    "counted_by must be \"envoy\" (this Envoy's shared data) or \"rate_limit_service\" \
                     (the wrapper's rate_limit_service, shared by every replica), not {value}"
                ),
            );
            false
        }
    }
}

/// A limit the rate-limit service counts needs a window that is one of its
/// units and a max its override (a uint32) can carry.
fn countable_by_service(at: &str, window: Option<Window>, max: Option<u64>, issues: &mut Issues) {
    if let Some(window) = window.filter(|window| Unit::of(*window).is_none()) {
        issues.value(
            pointer::join(at, "window"),
            format!(
                "a limit counted by the rate-limit service needs a window the service's units express: \
                 \"minute\", \"hour\", \"day\", or 1, 60, 3600 or 86400 seconds, not {window}; \
                 count it in Envoy (\"counted_by\": \"envoy\") or change the window"
            ),
        );
    }
    if let Some(max) = max.filter(|max| u32::try_from(*max).is_err()) {
        issues.value(
            pointer::join(at, "max"),
            format!(
                "a limit counted by the rate-limit service has a max of at most {} (its requests_per_unit), not {max}",
                u32::MAX
            ),
        );
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    match text {
        "grant" => return Ok(Scope::Grant),
        "global" => return Ok(Scope::Global),
        "session" => return Ok(Scope::Session),
        _ => {}
    }
    if let Some(name) = text.strip_prefix("header:") {
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(format!(
                "{text:?} does not name a valid header (header:<name>, a token such as x-team-id)"
            ));
        }
        return Ok(Scope::Header(name.to_ascii_lowercase()));
    }
    if let Some(name) = text.strip_prefix("claim:") {
        if name.is_empty() {
            return Err("claim:<name> needs a claim name".to_owned());
        }
        return Ok(Scope::Claim(name.to_owned()));
    }
    Err(format!(
        "scope must be \"grant\", \"global\", \"session\", \"header:<name>\" or \"claim:<name>\", not {text:?}"
    ))
}

fn compile_conditions(value: &Value, at: &str, what: &str, issues: &mut Issues) -> Vec<Condition> {
    array(value, at, what, issues)
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            Condition::compile(item, &pointer::join_index(at, index), &[], issues)
        })
        .collect()
}

/// `require`: conditions, each of which may carry its own `on_deny`.
fn compile_require(value: &Value, at: &str, issues: &mut Issues) -> Vec<Requirement> {
    let mut require = Vec::new();
    for (index, item) in array(value, at, "require", issues).iter().enumerate() {
        let item_at = pointer::join_index(at, index);
        let on_deny = item
            .get("on_deny")
            .and_then(|m| text(m, &pointer::join(&item_at, "on_deny"), "on_deny", issues));
        let Some(condition) = Condition::compile(item, &item_at, REQUIRE_FIELDS, issues) else {
            continue;
        };
        require.push(Requirement {
            text: condition.text().to_owned(),
            rule: condition.rule.clone(),
            on_deny,
            condition: Conjunction::new(vec![condition]),
        });
    }
    require
}

fn compile_tool(
    key: &str,
    at: &str,
    value: &Value,
    policy_dry_run: bool,
    counters: &mut Counters,
    issues: &mut Issues,
) -> Option<ToolEntry> {
    let before = issues.0.len();
    let members = object(value, at, "a tool entry", issues)?;
    unknown_fields(members, at, TOOL_FIELDS, "a tool entry", issues);
    let dry_run = policy_dry_run
        || members
            .get("mode")
            .is_some_and(|m| mode(m, &pointer::join(at, "mode"), issues));

    let message = members
        .get("message")
        .and_then(|m| text(m, &pointer::join(at, "message"), "message", issues));
    let action_at = pointer::join(at, "action");
    let action = match members.get("action").map(Value::as_str) {
        None | Some(Some("allow")) => {
            if members.contains_key("message") {
                issues.value(
                    pointer::join(at, "message"),
                    "message applies only with action \"deny\" or \"require_approval\"",
                );
            }
            ToolAction::Allow
        }
        Some(Some("deny")) => ToolAction::Deny(message),
        Some(Some("require_approval")) => {
            match ApprovalRule::compile(
                key,
                value,
                members.get("approval"),
                &pointer::join(at, "approval"),
                issues,
            ) {
                Some(approval) => ToolAction::RequireApproval { message, approval },
                None => ToolAction::Deny(message),
            }
        }
        Some(_) => {
            let shown = members
                .get("action")
                .map(Value::to_string)
                .unwrap_or_default();
            issues.value(
                &action_at,
                format!("action must be \"allow\", \"deny\" or \"require_approval\", not {shown}"),
            );
            ToolAction::Allow
        }
    };

    let requires_approval =
        members.get("action").and_then(Value::as_str) == Some("require_approval");
    if members.contains_key("approval") && !requires_approval {
        issues.value(
            pointer::join(at, "approval"),
            "approval applies only with action \"require_approval\"",
        );
    }

    let require = match members.get("require") {
        None => Vec::new(),
        Some(v) => compile_require(v, &pointer::join(at, "require"), issues),
    };

    let mut deny_if = Vec::new();
    if let Some(v) = members.get("deny_if") {
        let deny_if_at = pointer::join(at, "deny_if");
        for (index, item) in array(v, &deny_if_at, "deny_if", issues).iter().enumerate() {
            let item_at = pointer::join_index(&deny_if_at, index);
            let Some(item_members) = object(item, &item_at, "a deny_if entry", issues) else {
                continue;
            };
            unknown_fields(
                item_members,
                &item_at,
                DENY_IF_FIELDS,
                "a deny_if entry",
                issues,
            );
            let conditions = match item_members.get("conditions") {
                None => Vec::new(),
                Some(c) => compile_conditions(
                    c,
                    &pointer::join(&item_at, "conditions"),
                    "conditions",
                    issues,
                ),
            };
            let on_deny = item_members
                .get("on_deny")
                .and_then(|m| text(m, &pointer::join(&item_at, "on_deny"), "on_deny", issues));
            let item_dry_run = item_members
                .get("mode")
                .is_some_and(|m| mode(m, &pointer::join(&item_at, "mode"), issues));
            deny_if.push(DenyIf {
                conditions: Conjunction::new(conditions),
                on_deny,
                rule: item_at,
                dry_run: dry_run || item_dry_run,
            });
        }
    }

    let limits = match members.get("limits") {
        None => Vec::new(),
        Some(v) => compile_limits(v, &pointer::join(at, "limits"), dry_run, counters, issues),
    };

    (issues.0.len() == before).then(|| ToolEntry {
        rule: at.to_owned(),
        dry_run,
        action,
        require,
        deny_if,
        limits,
    })
}

fn compile_hide(value: &Value, tools: Option<&Map<String, Value>>, issues: &mut Issues) -> Hide {
    let mut hide = Hide::default();
    let exact_tools: Vec<&String> = tools
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| !Pattern::is_pattern(k))
        .collect();
    for (index, item) in array(value, "/hide", "hide", issues).iter().enumerate() {
        let at = pointer::join_index("/hide", index);
        let Some(name) = text(item, &at, "a hidden tool name", issues) else {
            continue;
        };
        if !Pattern::is_pattern(&name) {
            if tools.is_some_and(|t| t.contains_key(&name)) {
                issues.value(
                    &at,
                    format!(
                        "{name:?} is both hidden and listed under tools ({}); remove one",
                        pointer::join("/tools", &name)
                    ),
                );
            }
            hide.exact.insert(name);
            continue;
        }
        let pattern = Pattern::new(&name);
        if pattern.literals() == 0 {
            let listed: Vec<&str> = tools
                .into_iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            if !listed.is_empty() {
                issues.value(
                    &at,
                    format!(
                        "{name:?} hides every tool, so no entry under tools ({}) can ever apply; remove them or hide fewer tools",
                        listed.join(", ")
                    ),
                );
            }
        } else {
            for tool in exact_tools.iter().filter(|t| pattern.matches(t)) {
                issues.value(
                    &at,
                    format!(
                        "{name:?} hides {tool:?}, which is also listed under tools ({}); remove one",
                        pointer::join("/tools", tool)
                    ),
                );
            }
        }
        hide.patterns.push(pattern);
    }
    hide
}
