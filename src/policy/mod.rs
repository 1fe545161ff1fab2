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
//!   `deny`/`require_approval`) and `mode`. Conditions: see `condition.rs`
//!   and "Conditions over arrays" below.
//! * A `require` condition may carry `on_deny`, the message of its denial,
//!   as a `deny_if` entry does (`{"path", "op", "value", "on_deny"}`; in a
//!   `deny_if` entry the message stays on the entry). Without one, the
//!   message names the rule, the condition and what the request carried:
//!   `Denied by rule "/tools/x/require/0": requirement not met:
//!   args.currency in ["PES","DOL"] (args.currency is "EUR")`. A `deny_if`
//!   entry's message is its `on_deny`, or `Denied by rule "<pointer>"`.
//!   Operands are cut after 60 characters and string values after 40;
//!   arrays and objects the request carried are shown as their type only.
//! * Limits: `{counter, window, max, scope?, mode?, counted_by?}`; `scope`
//!   is `grant` (default), `global`, `session`, `header:<name>` or
//!   `claim:<name>`. `counted_by` is `"envoy"` (the default: shared data) or
//!   `"rate_limit_service"` (the wrapper's service, across replicas); a
//!   top-level `counted_by` is the default of every limit. A limit the
//!   service counts needs a window of one of its units (a minute, an hour, a
//!   day, or 1, 60, 3600 or 86400 seconds) and a max of at most 2^32-1.
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
//! # Conditions over arrays (`*`)
//!
//! A `*` segment in an `args` path stands for every element of an array:
//! `args.invoices.*.amount_total`. It is a whole segment, never the first
//! after `args` (the arguments are an object), at most 8 per path; paths
//! with `*` elsewhere (`request.*`, `args.a.**`, `args.a.b*`) are load
//! errors. Several `*`s nest: `args.orders.*.items.*.price`.
//!
//! * In `deny_if`, a condition with `*` holds when **some** element
//!   satisfies it; in `require`, when **every** element does (an empty array
//!   satisfies a requirement). Nested `*`s: some order has some item
//!   (`deny_if`); every item of every order (`require`).
//! * Each element is tested as one value, with the usual rules. So `neq`,
//!   `not_in` and `exists: false` ask about one element:
//!   - `deny_if` `args.invoices.*.currency neq "PES"`: some invoice has a
//!     currency that is not pesos. `require` with the same condition: every
//!     invoice has a currency, and none is pesos.
//!   - `deny_if` `args.invoices.*.currency not_in ["PES","DOL"]`: some
//!     invoice is in another currency; `require`: every invoice has a
//!     currency, none of them pesos or dollars.
//!   - `deny_if` `args.invoices.*.cae exists false`: some invoice lacks a
//!     CAE; `require`: no invoice has one.
//! * An element without the member is a missing path there: a comparison
//!   is false (a `require` fails), `exists: false` holds.
//! * A missing array (the `*`'s parent is absent) is a missing path, as
//!   `args.invoices.0.amount_total` would be: it counts as one element where
//!   every path below it is missing. `require` `args.invoices.*.amount_total
//!   lte 100000` fails closed when `invoices` is absent, but holds for
//!   `"invoices": []`; `deny_if` with `gt` does not hold in either case;
//!   `deny_if` `args.invoices.*.cae exists false` holds when `invoices` is
//!   absent, not when it is empty.
//! * A value that is not an array where a `*` is (an object, a string,
//!   `null`...) is an evaluation error: it denies, naming the condition.
//!   A type mismatch in an element is one too.
//! * Within one `deny_if` entry, conditions whose paths are equal up to and
//!   including a `*` (the same array, as written) are bound to the same
//!   element: the entry holds when one element satisfies all of them.
//!   `args.invoices.*.currency eq "DOL"` and `args.invoices.*.amount_total
//!   gt 1000` deny a batch only if one invoice is both in dollars and over
//!   1000. Binding follows the shared prefix, level by level:
//!   `args.orders.*.country eq "AR"` and `args.orders.*.items.*.price gt
//!   100` need one Argentine order with one item over 100 (bound at the
//!   order); `args.orders.*.items.*.price` and `args.orders.*.items.*.sku`
//!   are bound at the order and at the item; `args.orders.*.items.*.price`
//!   and `args.orders.*.fees.*.amount` are bound at the order and
//!   independent below it. Conditions with different `*`s
//!   (`args.invoices.*.x` and `args.refunds.*.y`) or none are evaluated
//!   independently. A `require` condition stands alone: each must
//!   hold for every element, and "every element satisfies A and B" is the
//!   same as "every element satisfies A, and every element satisfies B".
//! * Order: at each level the conditions without a further `*` are
//!   evaluated first, in written order, then the `*`s below, in the order of
//!   their first condition; elements are tried in order. Evaluation stops as
//!   soon as the outcome is decided: the first element that satisfies a
//!   `deny_if` entry or fails a requirement; a type mismatch met before that
//!   denies.
//! * The denial names the element: `deny_if` messages (`on_deny` or the
//!   default) are followed by the concrete path and value of each condition
//!   with a `*`, `(args.invoices.1.currency is "DOL",
//!   args.invoices.1.amount_total is 5000)`; a requirement names the first
//!   element that failed, `(args.invoices.1.currency is "EUR")`; errors name
//!   the element too (`gt needs a number but args.invoices.1.amount_total is
//!   a string`). The rule is the entry's or the condition's JSON pointer, as
//!   without `*`.
//! * Cost: each `*` reads the arrays the body already holds (at most
//!   `max_body_bytes`). Conditions bound to one element are tested together
//!   on that element, and independent `*`s one after the other, so an
//!   element is visited at most once per distinct `*` prefix of an entry:
//!   evaluation is linear in the elements, never a product of array
//!   lengths (see `conjunction.rs`). Recursion follows the `*`s of a path,
//!   at most 8 deep.
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

mod approval;
mod compile;
mod condition;
mod conjunction;
mod error;
mod evaluate;
mod methods;
mod model;
mod path;
mod pattern;
mod regex_prefilter;
mod show;
mod text;

#[cfg(test)]
mod tests;

use crate::counter::Window;

pub use approval::{ApprovalRule, ApprovedBy, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS};
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

/// Whether a person approved the call being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Approved {
    No,
    Yes,
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
    /// `"counted_by": "rate_limit_service"` (its own, or the policy's): the
    /// wrapper's rate-limit service counts it, across replicas. A dry-run
    /// limit still counts in shared data.
    pub service: bool,
}

impl Limit {
    /// Counted by the rate-limit service rather than shared data.
    pub fn counted_by_service(&self) -> bool {
        self.service && !self.dry_run
    }
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

impl Scope {
    /// The scope as a limit's `scope` entry names it.
    pub fn name(&self) -> String {
        match self {
            Scope::Grant => "grant".to_owned(),
            Scope::Global => "global".to_owned(),
            Scope::Session => "session".to_owned(),
            Scope::Header(name) => format!("header:{name}"),
            Scope::Claim(name) => format!("claim:{name}"),
        }
    }
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
                        let position = text::locate(&parsed.positions, &issue.path, issue.at);
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
        evaluate::decide(&self.compiled, request, Approved::No)
    }

    /// The decision on a call a person approved: a `require_approval`
    /// action holds (every other rule and limit still applies).
    pub fn decide_approved(&self, request: &Request<'_>) -> Decision<'_> {
        evaluate::decide(&self.compiled, request, Approved::Yes)
    }

    /// How calls of `tool` are approved, when its entry requires approval
    /// (and is enforced).
    pub fn approval(&self, tool: &str) -> Option<&ApprovalRule> {
        evaluate::approval(&self.compiled, tool)
    }

    /// For tools/list filtering: Hidden if hidden (or would be hidden); NeverAllowed if a tools/call for it is denied whatever its arguments (default deny & unlisted, action deny/require_approval, a deny_if entry with no conditions, max 0 limit...; conditional rules do not count); Visible otherwise. In top-level dry_run mode everything is Visible.
    pub fn listing(&self, tool: &str) -> Listing {
        evaluate::listing(&self.compiled, tool, Approved::No)
    }

    /// Whether `tools/list` keeps every tool whatever its name: no `hide`
    /// entry, and nothing never allowed that `hide_denied_tools` would drop.
    /// `false` when that would take evaluating the tools.
    pub fn lists_every_tool(&self, hide_denied_tools: bool) -> bool {
        let compiled = &self.compiled;
        if compiled.dry_run && !compiled.no_policy {
            return true;
        }
        !hide_denied_tools && compiled.hide.exact.is_empty() && compiled.hide.patterns.is_empty()
    }

    /// The listing where approvals can be given: a tool whose calls are
    /// allowed once approved is not `NeverAllowed` for that.
    pub fn listing_with_approvals(&self, tool: &str) -> Listing {
        evaluate::listing(&self.compiled, tool, Approved::Yes)
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

    /// The enforced entries that require approval: their pointer and rule.
    pub fn approval_rules(&self) -> Vec<(&str, &ApprovalRule)> {
        if self.compiled.dry_run || self.compiled.no_policy {
            return Vec::new();
        }
        self.compiled
            .tools
            .values()
            .into_iter()
            .filter(|entry| !entry.dry_run)
            .filter_map(|entry| match &entry.action {
                model::ToolAction::RequireApproval { approval, .. } => {
                    Some((entry.rule.as_str(), approval))
                }
                _ => None,
            })
            .collect()
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
