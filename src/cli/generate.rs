//! `mcp-policy generate`: a recommended policy from a server's `tools/list`,
//! following PolicyLayer's recommendations per risk class:
//!
//! | class | policy |
//! |---|---|
//! | Read | `{}` (allowed) |
//! | Read (personal data) | 10 calls per minute per grant (counter `<tool>_rate`) |
//! | Write | 30 calls per minute per grant (counter `<tool>_rate`) |
//! | Execute | 10 calls per minute per grant (counter `<tool>_rate`) |
//! | Destructive | hidden |
//! | Financial | `action: require_approval` by an approver: the grant `approver`, which the operator defines |
//!
//! Everything else is denied (`default: "deny"`). PolicyLayer allows every
//! read; a read of third parties' personal data (a taxpayer's record) gets
//! the Execute rate instead, which an agent serving one customer at a time
//! never reaches, and which keeps a leaked token from scraping the registry.

use std::collections::HashSet;

use serde_json::Value;

use super::classify::{classify, Class, Classification, Hints, Inputs};
use super::tree::Node;

pub const WRITE_PER_MINUTE: u64 = 30;
pub const EXECUTE_PER_MINUTE: u64 = 10;
pub const PERSONAL_READ_PER_MINUTE: u64 = EXECUTE_PER_MINUTE;
pub const APPROVAL_MESSAGE: &str = "Requires human approval.";
/// The grant a generated policy names as the approver of Financial tools:
/// the operator defines it (a person's token, JWT or certificate).
pub const APPROVER_GRANT: &str = "approver";

/// One tool of the input and how it was classified.
#[derive(Debug)]
pub struct Row {
    pub name: String,
    pub classification: Classification,
}

/// What `generate` produces.
#[derive(Debug)]
pub struct Generated {
    pub rows: Vec<Row>,
    /// The policy text (ends with a newline).
    pub policy: String,
    /// Tools left out, with the reason.
    pub skipped: Vec<String>,
}

/// The `tools` array of a `tools/list` result given as the full JSON-RPC
/// response, its `result`, a bare `{"tools": [...]}` or the array itself. A
/// response saved from an event stream (`data: {...}` lines) is accepted too.
pub fn tools_of(text: &str) -> Result<Vec<Value>, String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            let data: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if data.is_empty() {
                return Err(format!("not valid JSON: {error}"));
            }
            serde_json::from_str(&data.join("\n"))
                .map_err(|e| format!("the event stream's data is not valid JSON: {e}"))?
        }
    };
    if let Some(error) = value.get("error") {
        return Err(format!("the tools/list call failed: {error}"));
    }
    let holder = value.get("result").unwrap_or(&value);
    match holder {
        Value::Array(tools) => Ok(tools.clone()),
        Value::Object(object) => match object.get("tools") {
            Some(Value::Array(tools)) => Ok(tools.clone()),
            Some(_) => Err("\"tools\" must be an array".to_owned()),
            None => Err(
                "no \"tools\" array found: expected a tools/list response, its \"result\" or {\"tools\": [...]}"
                    .to_owned(),
            ),
        },
        _ => Err("expected a JSON object with a \"tools\" array".to_owned()),
    }
}

fn limit(tool: &str, max: u64) -> Node {
    Node::object(vec![(
        "limits",
        Node::array(vec![Node::object(vec![
            ("counter", Node::string(&format!("{tool}_rate"))),
            ("window", Node::string("minute")),
            ("max", Node::scalar(max.to_string())),
            ("scope", Node::string("grant")),
        ])]),
    )])
}

/// Classifies every tool and writes the policy.
pub fn generate(tools: &[Value]) -> Result<Generated, String> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    for (index, tool) in tools.iter().enumerate() {
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            return Err(format!("tools[{index}] has no string \"name\""));
        };
        if name.is_empty() || name.contains('*') {
            skipped.push(format!(
                "{name:?}: a policy cannot name it exactly (empty, or contains '*')"
            ));
            continue;
        }
        if !seen.insert(name.to_owned()) {
            skipped.push(format!("{name:?}: listed twice; the first one is used"));
            continue;
        }
        let description = tool
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let hints = Hints::from_annotations(tool.get("annotations"));
        let inputs = Inputs::from_schema(tool.get("inputSchema"));
        rows.push(Row {
            name: name.to_owned(),
            classification: classify(name, description, hints, &inputs),
        });
    }

    let hidden: Vec<Node> = rows
        .iter()
        .filter(|row| row.classification.class == Class::Destructive)
        .map(|row| Node::string(&row.name))
        .collect();
    let entries: Vec<(&str, Node)> = rows
        .iter()
        .filter_map(|row| {
            let entry = match row.classification.class {
                Class::Read => Node::object(Vec::new()),
                Class::PersonalRead => limit(&row.name, PERSONAL_READ_PER_MINUTE),
                Class::Write => limit(&row.name, WRITE_PER_MINUTE),
                Class::Execute => limit(&row.name, EXECUTE_PER_MINUTE),
                Class::Financial => Node::object(vec![
                    ("action", Node::string("require_approval")),
                    ("message", Node::string(APPROVAL_MESSAGE)),
                    (
                        "approval",
                        Node::object(vec![
                            ("by", Node::string("approver")),
                            ("approvers", Node::array(vec![Node::string(APPROVER_GRANT)])),
                        ]),
                    ),
                ]),
                Class::Destructive => return None,
            };
            Some((row.name.as_str(), entry))
        })
        .collect();
    let mut members = vec![
        ("version", Node::string("1")),
        ("default", Node::string("deny")),
    ];
    if !hidden.is_empty() {
        members.push(("hide", Node::array(hidden)));
    }
    members.push(("tools", Node::object(entries)));
    // One line per tool.
    let mut policy = Node::object(members).pretty_width(160);
    policy.push('\n');
    Ok(Generated {
        rows,
        policy,
        skipped,
    })
}

/// What a class becomes in the policy, for the table.
pub fn treatment(class: Class) -> String {
    match class {
        Class::Read => "allowed".to_owned(),
        Class::PersonalRead => format!("{PERSONAL_READ_PER_MINUTE}/minute per grant"),
        Class::Write => format!("{WRITE_PER_MINUTE}/minute per grant"),
        Class::Execute => format!("{EXECUTE_PER_MINUTE}/minute per grant"),
        Class::Destructive => "hidden".to_owned(),
        Class::Financial => format!("requires approval by grant \"{APPROVER_GRANT}\" (define it)"),
    }
}

/// The classification table (for stderr).
pub fn table(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<20}  {:<20}  WHY\n",
        "TOOL", "CLASS", "POLICY"
    );
    for row in rows {
        let class = row.classification.class;
        out.push_str(&format!(
            "{:<width$}  {:<20}  {:<20}  {}\n",
            row.name,
            class.to_string(),
            treatment(class),
            row.classification.reason
        ));
    }
    let counts: Vec<String> = Class::ALL
        .iter()
        .map(|class| {
            let n = rows
                .iter()
                .filter(|r| r.classification.class == *class)
                .count();
            format!("{n} {class}")
        })
        .collect();
    out.push_str(&format!("{} tools: {}\n", rows.len(), counts.join(", ")));
    out
}
