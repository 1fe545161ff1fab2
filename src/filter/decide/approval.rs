//! A call whose tool requires approval (`by: caller`): the filter asks the
//! caller's user through the client (MCP 2026-07-28's `input_required`
//! result with a form elicitation) and forwards the retry only when it
//! carries the filter's sealed state for this very call, unexpired and
//! unused, with the user's `accept`. The retry is then decided as approved:
//! every other rule and limit still applies.

use super::verdict::{decide_approved, ApprovalStep, MessageRefusal, Reason, Verdict};
use super::Context;
use crate::approval::exchange::{self, Answer};
use crate::approval::rounds::Rounds;
use crate::approval::state::hex;
use crate::approval::{arguments_digest, ApprovalState};
use crate::mcp::{uses_mirrored_headers, Message};
use crate::policy::{ApprovedBy, DenialKind};

pub const CANNOT_ASK: &str = "This call needs its user's confirmation, and this client cannot ask its user to confirm: that takes MCP 2026-07-28 with form elicitation declared in the request's client capabilities.";
const NOT_VALID: &str = "The approval this retry carries is not valid: it was changed, or it was issued to another grant. Call the tool again to be asked.";
const OTHER_CALL: &str = "The approval this retry carries was given for another call: the tool or its arguments changed. Call the tool again to be asked.";
const RULE_CHANGED: &str = "The policy rule that asked for this approval has changed since. Call the tool again to be asked.";
const EXPIRED: &str =
    "The approval expired before the call was retried. Call the tool again to be asked.";
const DECLINED: &str = "The user declined this call.";
const CANCELLED: &str = "The user cancelled this call.";
const NO_ANSWER: &str = "The retry does not answer the confirmation it was asked for.";
pub const USED: &str = "This approval was already used: an approval lets one call through. Call the tool again to be asked.";
pub const FULL: &str =
    "Too many approvals of this grant are in use right now; try again in a few minutes.";

/// What approval makes of a message the policy refused.
pub enum Gate<'p> {
    /// Not a call the filter approves: the policy's refusal stands.
    Unchanged,
    /// Refused (or asked) for approval's sake.
    Refused(MessageRefusal),
    /// Approved and decided again.
    Approved(Box<Approved<'p>>),
}

/// An approved call, forwarded once its nonce is claimed.
pub struct Approved<'p> {
    pub verdict: Verdict<'p>,
    /// The rule that required approval (`/tools/<key>/action`).
    pub rule: String,
    /// The call without the filter's own MRTR fields.
    pub body: Vec<u8>,
    pub nonce: String,
    pub expires_at: u64,
    /// Carries the upstream's own rounds.
    pub rounds: Rounds,
}

/// Approval's part in the decision on `message` (the whole `body`), which
/// the policy refused with `refusal`.
pub fn gate<'p>(
    ctx: &Context<'p>,
    message: &Message,
    body: &[u8],
    refusal: &MessageRefusal,
) -> Gate<'p> {
    let Reason::Policy(denial) = &refusal.reason else {
        return Gate::Unchanged;
    };
    if denial.kind != DenialKind::ApprovalRequired {
        return Gate::Unchanged;
    }
    let Some((tool, rule)) = message
        .target()
        .and_then(|tool| Some((tool, ctx.grant.policy.approval(tool)?)))
    else {
        return Gate::Unchanged;
    };
    let refuse = |step: ApprovalStep, text: &str| {
        Gate::Refused(MessageRefusal::of(
            message,
            Reason::Approval {
                step,
                rule: denial.rule.clone(),
                message: text.to_owned(),
            },
        ))
    };
    let Some(approvals) = &ctx.config.settings.approvals else {
        return refuse(ApprovalStep::Required, &denial.message);
    };
    if let ApprovedBy::Approver(_) = rule.by {
        return refuse(ApprovalStep::Required, &denial.message);
    }
    let (Some(id), Some(arguments)) = (
        message.id.as_ref(),
        arguments_digest(message.arguments()).map(|digest| hex(&digest)),
    ) else {
        return refuse(ApprovalStep::Required, &denial.message);
    };
    let grant = &ctx.grant.name;
    let Some(presented) = exchange::request_state(message) else {
        if !(uses_mirrored_headers(ctx.head.protocol_version(), message)
            && exchange::can_ask(message))
        {
            return refuse(ApprovalStep::Required, CANNOT_ASK);
        }
        let state = ApprovalState {
            tool: tool.to_owned(),
            nonce: nonce(ctx, tool, &arguments),
            arguments,
            rule: hex(&rule.digest),
            expires_at: ctx.now_secs.saturating_add(rule.ttl_seconds),
            approved: false,
            upstream: None,
        };
        let Some(sealed) = state.seal(&approvals.sealer, grant) else {
            return refuse(ApprovalStep::Required, &denial.message);
        };
        let reply = exchange::input_required(id, tool, message.arguments(), &sealed);
        return refuse(ApprovalStep::Ask { reply }, &denial.message);
    };
    let Some(state) = ApprovalState::open(&approvals.sealer, grant, presented) else {
        return refuse(ApprovalStep::Denied, NOT_VALID);
    };
    if state.tool != tool || state.arguments != arguments {
        return refuse(ApprovalStep::Denied, OTHER_CALL);
    }
    if state.rule != hex(&rule.digest) {
        return refuse(ApprovalStep::Denied, RULE_CHANGED);
    }
    if state.expires_at <= ctx.now_secs {
        return refuse(ApprovalStep::Expired, EXPIRED);
    }
    if !state.approved {
        match exchange::answer(message) {
            Answer::Accept => {}
            Answer::Decline => return refuse(ApprovalStep::Denied, DECLINED),
            Answer::Cancel => return refuse(ApprovalStep::Denied, CANCELLED),
            Answer::None => return refuse(ApprovalStep::Denied, NO_ANSWER),
        }
    }
    let Some(forwarded) = exchange::forwarded_body(body, state.upstream.as_deref()) else {
        return refuse(ApprovalStep::Denied, NOT_VALID);
    };
    let verdict = decide_approved(
        &ctx.grant.policy,
        message,
        grant,
        ctx.session.map(|session| session.upstream.as_str()),
    );
    if let Verdict::Refuse(refusal) = verdict {
        return Gate::Refused(refusal);
    }
    Gate::Approved(Box::new(Approved {
        verdict,
        rule: denial.rule.clone(),
        body: forwarded,
        nonce: state.nonce.clone(),
        expires_at: state.expires_at,
        rounds: Rounds {
            id: id.clone(),
            grant: grant.clone(),
            sealer: approvals.sealer.clone(),
            approval: ApprovalState {
                upstream: None,
                ..state
            },
            ttl_seconds: rule.ttl_seconds,
        },
    }))
}

/// A nonce no other request of the grant gets: the call, Envoy's request
/// id and the request's clock in nanoseconds.
fn nonce(ctx: &Context<'_>, tool: &str, arguments: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [
        ctx.grant.name.as_str(),
        ctx.head.headers.get("x-request-id").unwrap_or(""),
        tool,
        arguments,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.update(ctx.now_nanos.to_le_bytes());
    hex(hash.finalize().get(..16).unwrap_or_default())
}
