//! PolicyLayer-style policies for MCP traffic: loading (strict validation
//! with JSON pointers and line/column positions), compiling, and deciding.
//!
//! # Policy language (PolicyLayer v1 plus extensions)
//!
//! ```json
//! {
//!   "version": "1",
//!   "default": "deny",
//!   "mode": "enforce",
//!   "hide": ["delete_*", "drop_database"],
//!   "all_tools": {"limits": [{"counter": "calls-per-minute", "window": "minute", "max": 600}]},
//!   "tools": {
//!     "get_*": {},
//!     "logout_instance": {"limits": [{"counter": "logout_instance_rate", "window": "minute", "max": 30, "scope": "grant"}]},
//!     "create_invoice": {
//!       "require": [{"path": "args.currency", "op": "in", "value": ["EUR", "USD"]}],
//!       "deny_if": [{"conditions": [{"path": "args.amount", "op": "gt", "value": 100000}], "on_deny": "Too large"}]
//!     },
//!     "wire_transfer": {"action": "require_approval"}
//!   },
//!   "methods": {
//!     "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow"}},
//!     "prompts/get": "allow",
//!     "logging/setLevel": "deny"
//!   }
//! }
//! ```
//!
//! * `version` must be the string `"1"`; `default` (`"allow"`/`"deny"`)
//!   decides tools not listed under `tools`.
//! * `hide`: exact names or `*` patterns; hidden tools are removed from
//!   `tools/list` and denied at call time. Hiding comes first: a hide entry
//!   that covers an exact `tools` key (or `"*"` with any `tools` entry) is a
//!   load error, since that entry could never apply.
//! * `tools` keys are exact names or `*` patterns; see `pattern.rs` for the
//!   precedence (exact beats pattern, more literal characters win, equal-rank
//!   patterns that can match the same name are a load error, and lookup
//!   fails closed if it ever meets such a tie).
//! * Tool entries: `require` (all must hold), `deny_if` (first entry whose
//!   conditions all hold denies; no conditions = always), `limits`, and the
//!   extensions `action` (`allow`/`deny`/`require_approval`), `message` (for
//!   `deny`/`require_approval`) and `mode`. Conditions: see `condition.rs`.
//! * Limits: `{counter, window, max, scope?, mode?}`; `scope` is `grant`
//!   (default), `global`, `session`, `header:<name>` or `claim:<name>`.
//!   Limits naming the same counter with the same scope share one budget;
//!   the same counter with a different window or max anywhere in the policy
//!   is a load error. One limits array may not name a counter twice, and a
//!   tool may not repeat an `all_tools` counter with the same scope (a call
//!   would draw from the budget twice).
//! * `regex` values use regex-lite syntax (the `regex` crate's syntax with
//!   basic Unicode only: matching is by code point and `.` matches any code
//!   point except `\n`, but `\w`, `\d`, `\s`, `\b` and case-insensitive
//!   matching are ASCII-only and `\p{..}` classes are not supported). Matching
//!   is unanchored: use `^`/`$`. Compiled at load time; an invalid regex is a
//!   load error.
//! * `methods`: see `methods.rs`. `tools/call` cannot be a key there.
//! * `mode`: `"enforce"` (default) or `"dry_run"`, at the top level, on a
//!   tool entry, on a `deny_if` entry or on a limit. Dry run anywhere above a
//!   rule makes the rule dry run (a nested `"enforce"` does not undo it). A
//!   dry-run denial is reported as `would_deny` and the call proceeds; a
//!   dry-run limit carries `dry_run: true`. A tool entry's mode covers that
//!   entry's rules only, not the `all_tools` limits. Top-level dry run also
//!   covers hiding, default deny and method rules.
//!
//! # Decisions
//!
//! Every decision names its rule: a JSON pointer into the policy
//! (`/tools/create_invoice/deny_if/0`, `/tools/x/require/2`,
//! `/tools/x/deny_if/0/conditions/1` for an evaluation error,
//! `/tools/x/action`, `/tools/get_*` for an allowed pattern entry, limits by
//! counter name: `/tools/x/limits/<counter>`, `/all_tools/limits/<counter>`,
//! `/methods/resources~1read/rules/<pattern>`), or a special rule:
//! `(default allow)`, `(default deny)`, `(hidden)`, `(no policy)`,
//! `(protocol)`, `(no tool name)` (a `tools/call` without `params.name`),
//! `(ambiguous: <pointer>, <pointer>)` (a pattern tie; cannot survive
//! loading, denied if met).
//!
//! Validation is strict: unknown fields, wrong types and ambiguities are
//! errors, duplicate keys in the text are errors, and every error found is
//! reported, each with its JSON pointer (and line/column for text).

mod compile;
mod condition;
mod error;
mod evaluate;
mod methods;
mod model;
mod pattern;
mod pointer;
mod regex_prefilter;
mod text;

#[cfg(test)]
mod tests;

use crate::counter::Window;

pub use error::{PolicyError, PolicyErrors};
pub use model::DEFAULT_MAX_REGEX_SUBJECT_BYTES;

use error::Issues;
use model::Compiled;

/// A compiled, immutable policy.
#[derive(Debug)]
pub struct Policy {
    compiled: Compiled,
}

/// Whether denials are enforced or only reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    DryRun,
}

/// How a tool should appear in `tools/list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Visible,
    Hidden,
    /// Every call is denied whatever its arguments (visible but blocked).
    NeverAllowed,
}

/// The parts of a JSON-RPC request a policy looks at.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// tools/call and prompts/get: params.name; resources/read: params.uri; task methods: params.taskId
    pub target: Option<&'a str>,
    pub arguments: Option<&'a serde_json::Value>,
    pub grant: &'a str,
    pub session: Option<&'a str>,
}

/// What the policy decided, and which rule decided it.
#[derive(Debug)]
pub enum Decision<'p> {
    Allow {
        /// The rule that allowed the request (a JSON pointer, or a special
        /// rule such as `(default allow)` or `(protocol)`).
        rule: String,
        /// Limits to count against, tool entry limits first, then `all_tools`.
        limits: Vec<&'p Limit>,
        /// The first denial a dry-run rule would have made.
        would_deny: Option<Denial>,
    },
    Deny(Denial),
}

/// A denial: its kind, the rule (JSON pointer or special rule) and the
/// message for the agent (without the `[POLICY DENIED] ` prefix).
#[derive(Clone, Debug, PartialEq)]
pub struct Denial {
    pub kind: DenialKind,
    pub rule: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialKind {
    Denied,
    Hidden,
    ApprovalRequired,
    /// A condition could not be evaluated (type mismatch) or the policy
    /// could not decide between rules: denied, failing closed.
    ConditionError,
}

/// One rate limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub counter: String,
    pub window: Window,
    pub max: u64,
    pub scope: Scope,
    /// `/tools/<tool>/limits/<counter>` or `/all_tools/limits/<counter>`.
    pub rule: String,
    pub dry_run: bool,
}

/// Whose budget a limit counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Grant,
    Global,
    Session,
    /// A request header (name lowercased).
    Header(String),
    /// A claim of the caller's identity.
    Claim(String),
}

impl Policy {
    /// Loads a policy from JSON text; errors carry line and column.
    pub fn from_json_text(text: &str) -> Result<Policy, PolicyErrors> {
        let parsed = text::parse(text).map_err(|e| PolicyErrors(vec![e]))?;
        let mut issues = Issues(parsed.duplicates);
        let compiled = compile::compile(&parsed.value, &mut issues);
        match compiled {
            Some(compiled) if issues.is_empty() => Ok(Policy { compiled }),
            _ => {
                if issues.is_empty() {
                    issues.value("", "invalid policy");
                }
                let mut errors: Vec<PolicyError> = issues
                    .0
                    .into_iter()
                    .map(|issue| {
                        let position = parsed.positions.locate(&issue.path, issue.at);
                        PolicyError {
                            path: issue.path,
                            line: position.map(|(line, _)| line),
                            column: position.map(|(_, column)| column),
                            message: issue.message,
                        }
                    })
                    .collect();
                errors.sort_by_key(|e| (e.line, e.column));
                Err(PolicyErrors(errors))
            }
        }
    }

    /// Loads a policy embedded in a larger JSON document: error pointers are
    /// prefixed with `base_pointer`; errors have no positions.
    pub fn from_value(
        value: &serde_json::Value,
        base_pointer: &str,
    ) -> Result<Policy, PolicyErrors> {
        let mut issues = Issues::default();
        let compiled = compile::compile(value, &mut issues);
        match compiled {
            Some(compiled) if issues.is_empty() => Ok(Policy { compiled }),
            _ => {
                if issues.is_empty() {
                    issues.value("", "invalid policy");
                }
                Err(issues.with_base(base_pointer))
            }
        }
    }

    /// A policy that denies every call with rule "(no policy)", message "No policy is attached to this grant" (for grants without a policy).
    ///
    /// Protocol plumbing (`initialize`, `ping`, `tools/list`, ... see
    /// `methods.rs`) still passes so the client can connect and read the
    /// denial; `tools/call`, `resources/read`, `prompts/get` and every other
    /// method are denied, and `listing` says `NeverAllowed` for every tool.
    pub fn deny_all_no_policy() -> Policy {
        Policy {
            compiled: Compiled::no_policy(),
        }
    }

    /// The same policy, matching `regex` conditions against strings of at
    /// most `bytes` bytes (a longer one is an evaluation error).
    pub fn with_max_regex_subject_bytes(mut self, bytes: usize) -> Policy {
        self.compiled.max_regex_subject_bytes = bytes;
        self
    }

    pub fn mode(&self) -> Mode {
        if self.compiled.dry_run {
            Mode::DryRun
        } else {
            Mode::Enforce
        }
    }

    pub fn decide(&self, request: &Request<'_>) -> Decision<'_> {
        evaluate::decide(&self.compiled, request)
    }

    /// For tools/list filtering: Hidden if hidden (or would be hidden); NeverAllowed if a tools/call for it is denied whatever its arguments (default deny & unlisted, action deny/require_approval, a deny_if entry with no conditions, max 0 limit...; conditional rules do not count); Visible otherwise. In top-level dry_run mode everything is Visible.
    pub fn listing(&self, tool: &str) -> Listing {
        evaluate::listing(&self.compiled, tool)
    }

    /// Exact tool names the policy names (tools keys without '*'), for metric buckets.
    pub fn named_tools(&self) -> Vec<&str> {
        self.compiled.tools.exact_keys()
    }

    /// Every tool name the policy spells out, listed or hidden: the tools
    /// metrics name (any other counts as `other`).
    pub fn spelled_out_tools(&self) -> Vec<&str> {
        let mut names = self.named_tools();
        names.extend(self.compiled.hide.exact.iter().map(String::as_str));
        names
    }

    /// All limits, for validation elsewhere: exact tool entries by name,
    /// pattern entries by precedence, then `all_tools`.
    pub fn limits(&self) -> Vec<&Limit> {
        self.compiled
            .tools
            .values()
            .into_iter()
            .flat_map(|entry| entry.limits.iter())
            .chain(self.compiled.all_tools.iter())
            .collect()
    }
}
