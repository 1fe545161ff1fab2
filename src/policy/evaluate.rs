//! Deciding requests against a compiled policy.
//!
//! `tools/call`: hidden → entry lookup (exact, else best pattern; none →
//! default) → action `deny` → require → deny_if (in order) → action
//! `require_approval` (unless approved) → allow with the entry's limits
//! followed by the `all_tools` limits. Approval comes last so that nobody is
//! asked to approve a call the policy would refuse anyway. A dry-run rule's denial is
//! kept as `would_deny` (the first one only) and evaluation carries on as if
//! it had allowed. Other methods go through the method rules.

use super::approval::ApprovalRule;
use super::condition::Context;
use super::conjunction::{Outcome, Quantifier, Verdict};
use super::methods;
use super::model::{Compiled, Requirement, ToolAction, ToolEntry};
use super::pattern::Lookup;
use super::show;
use super::{Approved, Decision, Denial, DenialKind, Limit, Listing, Request};
use crate::json::pointer;

const TOOLS_CALL: &str = "tools/call";

/// Collects the outcome of rules, applying dry run.
struct Evaluation {
    policy_dry_run: bool,
    would_deny: Option<Denial>,
}

impl Evaluation {
    /// The denial when it is enforced; a dry-run one is remembered instead.
    fn deny(&mut self, denial: Denial, dry_run: bool) -> Option<Denial> {
        if dry_run || self.policy_dry_run {
            if self.would_deny.is_none() {
                self.would_deny = Some(denial);
            }
            None
        } else {
            Some(denial)
        }
    }

    fn allow(self, rule: String, limits: Vec<&Limit>) -> Decision<'_> {
        Decision::Allow {
            rule,
            limits,
            would_deny: self.would_deny,
        }
    }
}

fn denial(kind: DenialKind, rule: impl Into<String>, message: impl Into<String>) -> Denial {
    Denial {
        kind,
        rule: rule.into(),
        message: message.into(),
    }
}

fn no_policy() -> Denial {
    denial(
        DenialKind::Denied,
        "(no policy)",
        "No policy is attached to this grant",
    )
}

pub(crate) fn decide<'p>(
    policy: &'p Compiled,
    request: &Request<'_>,
    approved: Approved,
) -> Decision<'p> {
    if request.method == TOOLS_CALL {
        decide_tool(policy, request, approved)
    } else {
        decide_method(policy, request)
    }
}

fn decide_method<'p>(policy: &'p Compiled, request: &Request<'_>) -> Decision<'p> {
    if policy.no_policy {
        return if methods::is_protocol(request.method) {
            Decision::Allow {
                rule: "(protocol)".to_owned(),
                limits: Vec::new(),
                would_deny: None,
            }
        } else {
            Decision::Deny(no_policy())
        };
    }
    let mut outcome = Evaluation {
        policy_dry_run: policy.dry_run,
        would_deny: None,
    };
    match policy
        .methods
        .decide(request.method, request.target, policy.default_allow)
    {
        Ok(rule) => outcome.allow(rule, Vec::new()),
        Err(denied) => {
            let rule = denied.rule.clone();
            match outcome.deny(denied, false) {
                Some(enforced) => Decision::Deny(enforced),
                None => outcome.allow(rule, Vec::new()),
            }
        }
    }
}

fn decide_tool<'p>(
    policy: &'p Compiled,
    request: &Request<'_>,
    approved: Approved,
) -> Decision<'p> {
    if policy.no_policy {
        return Decision::Deny(no_policy());
    }
    let mut outcome = Evaluation {
        policy_dry_run: policy.dry_run,
        would_deny: None,
    };
    let all_tools = || policy.all_tools.iter().collect::<Vec<_>>();

    let Some(name) = request.target else {
        let rule = "(no tool name)";
        return match outcome.deny(
            denial(DenialKind::Denied, rule, "tools/call has no tool name"),
            false,
        ) {
            Some(enforced) => Decision::Deny(enforced),
            None => outcome.allow(rule.to_owned(), all_tools()),
        };
    };

    if policy.hide.hides(name) {
        let hidden = denial(
            DenialKind::Hidden,
            "(hidden)",
            format!("Tool {name:?} is hidden by policy"),
        );
        if let Some(enforced) = outcome.deny(hidden, false) {
            return Decision::Deny(enforced);
        }
    }

    let entry = match policy.tools.lookup(name) {
        Lookup::Found { value, .. } => value,
        Lookup::Ambiguous(a, b) => {
            let (a, b) = (pointer::join("/tools", a), pointer::join("/tools", b));
            let rule = format!("(ambiguous: {a}, {b})");
            let message =
                format!("Tool {name:?} matches both {a} and {b}; the policy cannot decide");
            return match outcome.deny(
                denial(DenialKind::ConditionError, rule.clone(), message),
                false,
            ) {
                Some(enforced) => Decision::Deny(enforced),
                None => outcome.allow(rule, all_tools()),
            };
        }
        Lookup::NotFound if policy.default_allow => {
            return outcome.allow("(default allow)".to_owned(), all_tools())
        }
        Lookup::NotFound => {
            let rule = "(default deny)";
            let denied = denial(
                DenialKind::Denied,
                rule,
                format!("Tool {name:?} is not allowed by policy"),
            );
            return match outcome.deny(denied, false) {
                Some(enforced) => Decision::Deny(enforced),
                None => outcome.allow(rule.to_owned(), all_tools()),
            };
        }
    };

    let ctx = Context {
        method: request.method,
        tool: name,
        arguments: request.arguments,
        grant: request.grant,
        session: request.session,
        max_regex_subject_bytes: policy.max_regex_subject_bytes,
    };
    if let Some(enforced) = evaluate_entry(entry, name, &ctx, approved, &mut outcome) {
        return Decision::Deny(enforced);
    }
    let limits = entry.limits.iter().chain(policy.all_tools.iter()).collect();
    outcome.allow(entry.rule.clone(), limits)
}

/// Runs an entry's action, require and deny_if; returns an enforced denial.
fn evaluate_entry(
    entry: &ToolEntry,
    name: &str,
    ctx: &Context<'_>,
    approved: Approved,
    outcome: &mut Evaluation,
) -> Option<Denial> {
    if let ToolAction::Deny(message) = &entry.action {
        let message = message
            .clone()
            .unwrap_or_else(|| format!("Tool {name:?} is not allowed by policy"));
        let denied = denial(
            DenialKind::Denied,
            pointer::join(&entry.rule, "action"),
            message,
        );
        if let Some(enforced) = outcome.deny(denied, entry.dry_run) {
            return Some(enforced);
        }
    }
    if let Some(enforced) = evaluate_conditions(entry, ctx, outcome) {
        return Some(enforced);
    }
    if let (ToolAction::RequireApproval { message, .. }, Approved::No) = (&entry.action, approved) {
        let message = message
            .clone()
            .unwrap_or_else(|| "Requires human approval.".to_owned());
        let rule = pointer::join(&entry.rule, "action");
        let denied = denial(DenialKind::ApprovalRequired, rule, message);
        if let Some(enforced) = outcome.deny(denied, entry.dry_run) {
            return Some(enforced);
        }
    }
    None
}

/// Runs an entry's require and deny_if; returns an enforced denial.
fn evaluate_conditions(
    entry: &ToolEntry,
    ctx: &Context<'_>,
    outcome: &mut Evaluation,
) -> Option<Denial> {
    for requirement in &entry.require {
        let verdict = requirement.condition.evaluate(Quantifier::Every, ctx);
        let failed = match &verdict.outcome {
            Outcome::Holds => continue,
            Outcome::Fails => denial(
                DenialKind::Denied,
                requirement.rule.clone(),
                unmet(requirement, &verdict, ctx),
            ),
            Outcome::Error { rule, message } => condition_error(rule, message),
        };
        if let Some(enforced) = outcome.deny(failed, entry.dry_run) {
            return Some(enforced);
        }
        break;
    }

    for deny_if in &entry.deny_if {
        let verdict = deny_if.conditions.evaluate(Quantifier::Any, ctx);
        let denied = match &verdict.outcome {
            Outcome::Fails => continue,
            Outcome::Holds => {
                let message = deny_if
                    .on_deny
                    .clone()
                    .unwrap_or_else(|| format!("Denied by rule {:?}", deny_if.rule));
                let facts = deny_if.conditions.facts(&verdict, ctx, true);
                denial(
                    DenialKind::Denied,
                    deny_if.rule.clone(),
                    show::with_facts(message, &facts),
                )
            }
            Outcome::Error { rule, message } => condition_error(rule, message),
        };
        if let Some(enforced) = outcome.deny(denied, deny_if.dry_run) {
            return Some(enforced);
        }
    }
    None
}

/// A condition that could not be evaluated (fail closed).
fn condition_error(rule: &str, what: &str) -> Denial {
    denial(
        DenialKind::ConditionError,
        rule,
        format!("Denied by rule {rule:?}: {what}"),
    )
}

/// A requirement's denial message: its `on_deny`, followed by the element
/// that failed when the path has a `*`; or the default, which names the
/// condition and what the request carried there.
fn unmet(requirement: &Requirement, verdict: &Verdict, ctx: &Context<'_>) -> String {
    match &requirement.on_deny {
        Some(message) => show::with_facts(
            message.clone(),
            &requirement.condition.facts(verdict, ctx, true),
        ),
        None => show::with_facts(
            format!(
                "Denied by rule {:?}: requirement not met: {}",
                requirement.rule, requirement.text
            ),
            &requirement.condition.facts(verdict, ctx, false),
        ),
    }
}

/// An enforced limit that never lets a call through.
fn blocks(limit: &Limit) -> bool {
    limit.max == 0 && !limit.dry_run
}

/// The approval rule of the entry deciding `tool`, if it requires approval
/// and is enforced.
pub(crate) fn approval<'p>(policy: &'p Compiled, tool: &str) -> Option<&'p ApprovalRule> {
    if policy.dry_run || policy.no_policy {
        return None;
    }
    match policy.tools.lookup(tool) {
        Lookup::Found { value: entry, .. } if !entry.dry_run => match &entry.action {
            ToolAction::RequireApproval { approval, .. } => Some(approval),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn listing(policy: &Compiled, tool: &str, approved: Approved) -> Listing {
    if policy.no_policy {
        return Listing::NeverAllowed;
    }
    if policy.dry_run {
        return Listing::Visible;
    }
    if policy.hide.hides(tool) {
        return Listing::Hidden;
    }
    let all_tools_block = policy.all_tools.iter().any(blocks);
    let never = match policy.tools.lookup(tool) {
        Lookup::NotFound => !policy.default_allow || all_tools_block,
        Lookup::Ambiguous(..) => true,
        Lookup::Found { value: entry, .. } => {
            all_tools_block
                || (!entry.dry_run
                    && match entry.action {
                        ToolAction::Allow => false,
                        ToolAction::Deny(_) => true,
                        ToolAction::RequireApproval { .. } => approved == Approved::No,
                    })
                || entry
                    .deny_if
                    .iter()
                    .any(|d| !d.dry_run && d.conditions.is_empty())
                || entry.limits.iter().any(blocks)
        }
    };
    if never {
        Listing::NeverAllowed
    } else {
        Listing::Visible
    }
}
