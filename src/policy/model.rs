//! The compiled form of a policy (built by `compile`, read by `evaluate`).

use std::collections::HashSet;

use super::approval::ApprovalRule;
use super::conjunction::Conjunction;
use super::methods::MethodRules;
use super::pattern::{Pattern, PatternTable};
use super::Limit;

/// A whole compiled policy.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Top-level `mode: "dry_run"`.
    pub dry_run: bool,
    pub default_allow: bool,
    /// The stand-in policy for grants without one.
    pub no_policy: bool,
    pub hide: Hide,
    pub tools: PatternTable<ToolEntry>,
    pub all_tools: Vec<Limit>,
    pub methods: MethodRules,
    /// Strings longer than this are not matched against a `regex` condition.
    pub max_regex_subject_bytes: usize,
}

/// The default of `max_regex_subject_bytes`.
pub const DEFAULT_MAX_REGEX_SUBJECT_BYTES: usize = 4096;

impl Compiled {
    pub fn no_policy() -> Compiled {
        Compiled {
            dry_run: false,
            default_allow: false,
            no_policy: true,
            hide: Hide::default(),
            tools: PatternTable::empty(),
            all_tools: Vec::new(),
            methods: MethodRules::default(),
            max_regex_subject_bytes: DEFAULT_MAX_REGEX_SUBJECT_BYTES,
        }
    }
}

/// The `hide` list.
#[derive(Debug, Default)]
pub(crate) struct Hide {
    pub exact: HashSet<String>,
    pub patterns: Vec<Pattern>,
}

impl Hide {
    pub fn hides(&self, tool: &str) -> bool {
        self.exact.contains(tool) || self.patterns.iter().any(|p| p.matches(tool))
    }
}

/// A tool entry's `action`.
#[derive(Debug)]
pub(crate) enum ToolAction {
    Allow,
    Deny(Option<String>),
    RequireApproval {
        message: Option<String>,
        approval: ApprovalRule,
    },
}

/// One `deny_if` entry.
#[derive(Debug)]
pub(crate) struct DenyIf {
    /// Holds when one element of each `*` satisfies them (`Quantifier::Any`).
    pub conditions: Conjunction,
    pub on_deny: Option<String>,
    /// `/tools/<key>/deny_if/<index>`.
    pub rule: String,
    /// Its own mode, its entry's or the policy's.
    pub dry_run: bool,
}

/// One `require` condition.
#[derive(Debug)]
pub(crate) struct Requirement {
    /// The condition alone: every element of its `*`s must satisfy it
    /// (`Quantifier::Every`).
    pub condition: Conjunction,
    /// The condition as written, for the default message.
    pub text: String,
    pub on_deny: Option<String>,
    /// `/tools/<key>/require/<index>`.
    pub rule: String,
}

/// One `tools` entry.
#[derive(Debug)]
pub(crate) struct ToolEntry {
    /// `/tools/<key>`.
    pub rule: String,
    /// The entry's own mode or the policy's.
    pub dry_run: bool,
    pub action: ToolAction,
    pub require: Vec<Requirement>,
    pub deny_if: Vec<DenyIf>,
    pub limits: Vec<Limit>,
}
