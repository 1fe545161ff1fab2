//! The plugin configuration: JSON given to the filter by Envoy. Parsed and
//! validated once, when Envoy configures the plugin; requests only read it.
//!
//! Two forms are accepted:
//! - a bare PolicyLayer policy (an object with a top-level `version`), used
//!   verbatim, with no grants: every request is then unauthenticated (401);
//! - a wrapper object (see `wrapper.rs`) with the policy, named policies,
//!   grants and settings, and the gateway's OAuth resource (see `oauth.rs`).

mod approvals;
mod grants;
mod oauth;
pub mod rate_limit_service;
mod secrets;
mod settings;
mod wrapper;

use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;

use crate::policy::Policy;

pub use approvals::DEFAULT_PATH_PREFIX;
pub use grants::{hash_token, to_hex, Grant, GrantRule, GrantTable, TokenHash};
pub use oauth::{Metadata, OAuth, METADATA_PATH};
pub use secrets::Environment;
pub use settings::{Approvals, FilterStateFields, RequestLimit, Settings, FILTER_STATE_FIELDS};

#[derive(Debug)]
pub struct Config {
    pub grants: GrantTable,
    /// The policy of grants that name none (a bare policy's own policy).
    pub default_policy: Rc<Policy>,
    /// Where the default policy comes from, as `Grant::source` says it.
    pub default_source: String,
    pub settings: Settings,
    pub form: ConfigForm,
    /// Tool names any policy names: the tool buckets of metrics.
    pub metric_tools: HashSet<String>,
    /// Some limit counts per a JWT claim (`claim:<name>`).
    pub claim_scopes: bool,
}

fn uses_claim_scopes<'p>(policies: impl IntoIterator<Item = &'p Policy>) -> bool {
    policies.into_iter().any(|policy| {
        policy
            .limits()
            .iter()
            .any(|limit| matches!(limit.scope, crate::policy::Scope::Claim(_)))
    })
}

fn named_tools<'p>(policies: impl IntoIterator<Item = &'p Policy>) -> HashSet<String> {
    policies
        .into_iter()
        .flat_map(|policy| policy.spelled_out_tools())
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigForm {
    BarePolicy,
    Wrapper,
}

/// Everything wrong with a configuration, one problem per entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// JSON pointer into the configuration.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn single(path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![Problem {
                path: path.to_string(),
                line: None,
                column: None,
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let path = if problem.path.is_empty() {
                "/"
            } else {
                &problem.path
            };
            match (problem.line, problem.column) {
                (Some(line), Some(column)) => write!(
                    f,
                    "{path} (line {line}, column {column}): {}",
                    problem.message
                )?,
                _ => write!(f, "{path}: {}", problem.message)?,
            }
        }
        Ok(())
    }
}

impl Config {
    /// A bare policy: no grants, default settings.
    pub fn bare(policy: Policy) -> Config {
        let policy = Rc::new(policy);
        Config {
            metric_tools: named_tools([policy.as_ref()]),
            claim_scopes: uses_claim_scopes([policy.as_ref()]),
            default_policy: Rc::clone(&policy),
            default_source: "bare policy".to_string(),
            grants: GrantTable::bare(policy),
            settings: Settings::default(),
            form: ConfigForm::BarePolicy,
        }
    }

    /// A configuration whose `{"env": ...}` secrets find no variable.
    pub fn from_json_text(text: &str) -> Result<Config, ConfigError> {
        Config::from_json_text_with_env(text, &|_| None)
    }

    pub fn from_json_text_with_env(
        text: &str,
        env: Environment<'_>,
    ) -> Result<Config, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|error| ConfigError {
            problems: vec![Problem {
                path: String::new(),
                line: Some(error.line()),
                column: Some(error.column()),
                message: format!("configuration is not valid JSON: {error}"),
            }],
        })?;
        let is_bare_policy = value
            .as_object()
            .is_some_and(|object| object.contains_key("version"));
        if is_bare_policy {
            let policy = Policy::from_json_text(text).map_err(|errors| ConfigError {
                problems: errors
                    .0
                    .into_iter()
                    .map(|error| Problem {
                        path: error.path,
                        line: error.line,
                        column: error.column,
                        message: error.message,
                    })
                    .collect(),
            })?;
            if let Some(limit) = policy
                .limits()
                .into_iter()
                .find(|limit| limit.counted_by_service())
            {
                return Err(ConfigError::single(
                    "",
                    format!(
                        "limit {} is counted by the rate-limit service, which only the wrapper configuration names (\"rate_limit_service\"): wrap the policy",
                        limit.rule
                    ),
                ));
            }
            Ok(Config::bare(policy))
        } else {
            wrapper::parse(&value, env)
        }
    }

    pub fn from_bytes(bytes: &[u8], env: Environment<'_>) -> Result<Config, ConfigError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ConfigError::single("", "configuration is not UTF-8"))?;
        Config::from_json_text_with_env(text, env)
    }
}

#[cfg(test)]
mod tests;
