//! Loading the files the CLI reads (bare policies, wrapper configurations
//! and grants lists) with diagnostics a person can act on:
//! `FILE:LINE:COLUMN: /json/pointer: message`.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::tree::Node;
use crate::config::{Config, ConfigError};
use crate::json::{self, document};
use crate::policy::{Policy, PolicyErrors};

/// One problem with a file, placed at a line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// JSON pointer (`""` is the whole document).
    pub pointer: String,
    pub message: String,
    /// A warning does not make the file invalid.
    pub warning: bool,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        let level = if self.warning { "warning: " } else { "" };
        write!(
            f,
            "{}:{}:{}: {pointer}: {level}{}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// What a file holds.
#[derive(Debug)]
pub enum Document {
    /// A PolicyLayer policy (top-level `"version"`).
    Bare { policy: Policy, entries: Entries },
    /// A wrapper configuration.
    Wrapper { config: Config, value: Value },
    /// A JSON array of grants (like `policies/demo-grants.json`).
    Grants { names: Vec<String> },
    /// A JSON Schema (like `policies/policy.schema.json`): not checked.
    JsonSchema,
}

/// How a bare policy's `tools` and `hide` name tools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// `tools` keys that are exact names.
    pub named: usize,
    /// `tools` keys that are `*` patterns.
    pub patterns: usize,
    /// `hide` entries, names and patterns.
    pub hidden: usize,
}

impl Entries {
    fn of(policy: &Value) -> Entries {
        let keys = policy.get("tools").and_then(Value::as_object);
        let patterns = keys.map_or(0, |tools| tools.keys().filter(|k| k.contains('*')).count());
        Entries {
            named: keys.map_or(0, |tools| tools.len()) - patterns,
            patterns,
            hidden: policy
                .get("hide")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        }
    }
}

/// "1 limit", "2 limits".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

impl Document {
    pub fn describe(&self) -> String {
        match self {
            Document::Bare { policy, entries } => format!(
                "bare policy: {}, {}, {} hidden, {}",
                count(entries.named, "named tool"),
                count(entries.patterns, "pattern"),
                entries.hidden,
                count(policy.limits().len(), "limit")
            ),
            Document::Wrapper { config, value } => {
                let policies = value
                    .get("policies")
                    .and_then(Value::as_object)
                    .map_or(0, |p| p.len());
                let names = config.grants.names();
                let default = if value.get("policy").is_some() {
                    "a default policy"
                } else {
                    "no default policy"
                };
                format!(
                    "wrapper: {default}, {policies} named policies, {} grants{}",
                    names.len(),
                    list(names)
                )
            }
            Document::Grants { names } => {
                format!("grants list: {} grants{}", names.len(), list(names))
            }
            Document::JsonSchema => "a JSON Schema, not a policy".to_owned(),
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}

/// A file read and validated.
#[derive(Debug)]
pub struct Loaded {
    pub document: Document,
    /// The text as a tree, keys in their written order.
    pub tree: Node,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Unreadable(String),
    /// The file was read and is invalid.
    Invalid(Vec<Diagnostic>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Unreadable(message) => f.write_str(message),
            LoadError::Invalid(diagnostics) => {
                for (i, diagnostic) in diagnostics.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{diagnostic}")?;
                }
                Ok(())
            }
        }
    }
}

/// Reads a file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path)
        .map_err(|error| LoadError::Unreadable(format!("cannot read {}: {error}", path.display())))
}

/// Reads a JSON file (any JSON), with a positioned diagnostic for bad JSON.
pub fn read_json(path: &Path) -> Result<(String, Value), LoadError> {
    let text = read_text(path)?;
    let value = parse_json(&path.display().to_string(), &text)?;
    Ok((text, value))
}

fn parse_json(file: &str, text: &str) -> Result<Value, LoadError> {
    serde_json::from_str(text).map_err(|error| {
        LoadError::Invalid(vec![Diagnostic {
            file: file.to_owned(),
            line: error.line().max(1),
            column: error.column().max(1),
            pointer: String::new(),
            message: format!("not valid JSON: {}", json::serde_reason(&error)),
            warning: false,
        }])
    })
}

/// Reads and validates a bare policy, a wrapper configuration or a grants list.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = read_text(path)?;
    load_text(&path.display().to_string(), &text)
}

/// As [`load`], for text already read; `file` names it in diagnostics.
pub fn load_text(file: &str, text: &str) -> Result<Loaded, LoadError> {
    let value = parse_json(file, text)?;
    let read = document::read::<Node>(text).map_err(|error| {
        LoadError::Invalid(vec![Diagnostic {
            file: file.to_owned(),
            line: error.line,
            column: error.column,
            pointer: String::new(),
            message: format!("not valid JSON: {}", error.message),
            warning: false,
        }])
    })?;
    let positions = &read.positions;
    let place = |pointer: String, line: Option<usize>, column: Option<usize>, message: String| {
        let (line, column) = match (line, column) {
            (Some(line), Some(column)) => (line, column),
            _ => positions.line_col(positions.member(&pointer).unwrap_or(0)),
        };
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            pointer,
            message,
            warning: false,
        }
    };
    let mut env_warnings: Vec<String> = Vec::new();
    let is_bare = value.as_object().is_some_and(|o| o.contains_key("version"));
    let is_schema = value
        .get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|s| {
            s.starts_with("https://json-schema.org/") || s.starts_with("http://json-schema.org/")
        });
    let result = if is_schema && !is_bare {
        Ok(Document::JsonSchema)
    } else if is_bare {
        Policy::from_json_text(text)
            .map(|policy| Document::Bare {
                policy,
                entries: Entries::of(&value),
            })
            .map_err(|PolicyErrors(errors)| {
                errors
                    .into_iter()
                    .map(|e| place(e.path, e.line, e.column, e.message))
                    .collect::<Vec<_>>()
            })
    } else if let Value::Array(grants) = &value {
        check_grants(grants).map_err(|problems| {
            problems
                .into_iter()
                .map(|(pointer, message)| place(pointer, None, None, message))
                .collect()
        })
    } else {
        let unset = std::cell::RefCell::new(Vec::new());
        let loaded = Config::from_json_text_with_env(text, &|name| environment(name, &unset));
        env_warnings = unset.into_inner();
        loaded
            .map(|config| Document::Wrapper {
                config,
                value: value.clone(),
            })
            .map_err(|ConfigError { problems }| {
                problems
                    .into_iter()
                    .map(|p| place(p.path, p.line, p.column, p.message))
                    .collect()
            })
    };
    match result {
        Ok(document) => {
            // The policy parser already refuses duplicate keys; elsewhere the
            // filter reads the last one, which is rarely what was meant.
            let mut warnings: Vec<Diagnostic> = env_warnings
                .iter()
                .map(|name| Diagnostic {
                    file: file.to_owned(),
                    line: 1,
                    column: 1,
                    pointer: String::new(),
                    message: format!(
                        "environment variable {name} is not set here, so its keys were not checked; Envoy's Wasm VM must have it (vm_config.environment_variables)"
                    ),
                    warning: true,
                })
                .collect();
            if let Some(warning) = approvals_not_enabled(&document) {
                warnings.push(Diagnostic {
                    file: file.to_owned(),
                    line: 1,
                    column: 1,
                    pointer: String::new(),
                    message: warning,
                    warning: true,
                });
            }
            if let Document::Wrapper { config, value } = &document {
                for (shadowed, earlier) in config.grants.shadowed() {
                    let index = value
                        .get("grants")
                        .and_then(Value::as_array)
                        .and_then(|grants| {
                            grants.iter().position(|grant| {
                                grant.get("name").and_then(Value::as_str) == Some(shadowed)
                            })
                        })
                        .unwrap_or(0);
                    let pointer = format!("/grants/{index}");
                    let (line, column) =
                        positions.line_col(positions.member(&pointer).unwrap_or(0));
                    warnings.push(Diagnostic {
                        file: file.to_owned(),
                        line,
                        column,
                        pointer,
                        message: format!(
                            "grant \"{shadowed}\" can never match: the earlier grant \"{earlier}\" matches every request it would (grants are tried in order, the first that matches wins)"
                        ),
                        warning: true,
                    });
                }
            }
            warnings.extend(if is_bare || is_schema {
                Vec::new()
            } else {
                read.duplicates
                    .iter()
                    .map(|duplicate| {
                        let (line, column) = positions.line_col(duplicate.offset);
                        Diagnostic {
                            file: file.to_owned(),
                            line,
                            column,
                            pointer: duplicate.pointer.clone(),
                            message: "duplicate key; the filter uses the last one".to_owned(),
                            warning: true,
                        }
                    })
                    .collect()
            });
            Ok(Loaded {
                document,
                tree: read.value,
                warnings,
            })
        }
        Err(mut diagnostics) => {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(LoadError::Invalid(diagnostics))
        }
    }
}

/// A wrapper configuration, its secrets' environment variables taken as set.
pub fn config_from_text(text: &str) -> Result<Config, ConfigError> {
    let unset = std::cell::RefCell::new(Vec::new());
    Config::from_json_text_with_env(text, &|name| environment(name, &unset))
}

/// A secret's environment variable as this process has it; an unset one is
/// noted and stands in as a placeholder key, since the variable belongs to
/// Envoy's VM, not to this machine.
fn environment(name: &str, unset: &std::cell::RefCell<Vec<String>>) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        unset.borrow_mut().push(name.to_owned());
        Some(PLACEHOLDER_KEY.to_owned())
    })
}

/// 32 zero bytes, base64: stands in for keys held in Envoy's environment.
const PLACEHOLDER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Validates a grants list as the wrapper would (names, token hashes). A
/// grant's `policy` reference is not checked here: it names an entry of the
/// wrapper the list is combined with.
fn check_grants(grants: &[Value]) -> Result<Document, Vec<(String, String)>> {
    let stripped: Vec<Value> = grants
        .iter()
        .map(|grant| match grant {
            Value::Object(members) if members.get("policy").is_some_and(Value::is_string) => {
                let mut members = members.clone();
                members.remove("policy");
                Value::Object(members)
            }
            other => other.clone(),
        })
        .collect();
    let wrapper = serde_json::json!({ "grants": stripped, "sessions": "off" }).to_string();
    match Config::from_json_text(&wrapper) {
        Ok(config) => Ok(Document::Grants {
            names: config.grants.names().to_vec(),
        }),
        Err(ConfigError { problems }) => Err(problems
            .into_iter()
            .map(|p| {
                let pointer = p.path.strip_prefix("/grants").unwrap_or(&p.path).to_owned();
                (pointer, p.message)
            })
            .collect()),
    }
}

/// The warning for tools that require approval where none can be given:
/// they are denied.
fn approvals_not_enabled(document: &Document) -> Option<String> {
    let (rules, how) = match document {
        Document::Bare { policy, .. } => (
            policy.approval_rules().into_iter().map(|(rule, _)| rule.to_owned()).collect::<Vec<_>>(),
            "a bare policy cannot enable approvals; put it in a wrapper configuration with \"approvals\": {\"enabled\": true} and \"session_keys\"",
        ),
        Document::Wrapper { config, .. } if config.settings.approvals.is_none() => {
            let mut rules: Vec<String> = std::iter::once(&config.default_policy)
                .chain(config.grants.rules().iter().map(|rule| &rule.grant.policy))
                .flat_map(|policy| policy.approval_rules())
                .map(|(rule, _)| rule.to_owned())
                .collect();
            rules.sort();
            rules.dedup();
            (rules, "set \"approvals\": {\"enabled\": true} to ask for approval")
        }
        _ => return None,
    };
    let first = rules.first()?;
    let more = match rules.len() {
        1 => " requires".to_owned(),
        n => format!(" and {} more require", n - 1),
    };
    Some(format!(
        "{first}{more} approval, but approvals are not enabled, so these calls are denied; {how}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(text: &str) -> String {
        load_text("policy.json", text).unwrap().document.describe()
    }

    #[test]
    fn a_policy_of_patterns_counts_them() {
        let text = r#"{"version": "1", "default": "deny", "hide": ["delete_*"],
            "tools": {"get_*": {}, "list_*": {}}}"#;
        assert_eq!(
            describe(text),
            "bare policy: 0 named tools, 2 patterns, 1 hidden, 0 limits"
        );
    }

    #[test]
    fn names_patterns_hidden_and_limits() {
        let text = r#"{"version": "1", "default": "deny", "hide": ["leave_group", "delete_*"],
            "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 9}]},
            "tools": {"get_*": {}, "send_text": {"limits": [{"counter": "t", "window": "minute", "max": 1}]}}}"#;
        assert_eq!(
            describe(text),
            "bare policy: 1 named tool, 1 pattern, 2 hidden, 2 limits"
        );
        assert_eq!(
            describe(r#"{"version": "1", "default": "allow"}"#),
            "bare policy: 0 named tools, 0 patterns, 0 hidden, 0 limits"
        );
    }
}
