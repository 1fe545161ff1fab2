//! A call whose tool requires approval. The policy refused it with an
//! `ApprovalRequired` denial; this decides what approval makes of it:
//! - `by: caller`: the filter asks the caller's user through the client (MCP
//!   2026-07-28's `input_required` result with a form elicitation) and
//!   forwards the retry only when it carries the filter's sealed state for
//!   this very call, unexpired and unused, with the user's `accept`;
//! - `by: approver`: see `approver`.
//!
//! Either way an approved call is decided again as approved (every other
//! rule and limit still applies), and an upstream's own `input_required`
//! rounds after it travel inside the filter's sealed state, marked approved.

use super::approver;
use super::verdict::{decide_approved, ApprovalStep, MessageRefusal, Reason, Verdict};
use super::Context;
use crate::approval::exchange::{self, Answer};
use crate::approval::rounds::Rounds;
use crate::approval::state::hex;
use crate::approval::{arguments_digest, ApprovalState};
use crate::config::Approvals;
use crate::filter::refusal::Refusal;
use crate::mcp::{uses_mirrored_headers, Message, RequestId};
use crate::policy::{ApprovalRule, ApprovedBy, Denial, DenialKind};

pub const CANNOT_ASK: &str = "This call needs its user's confirmation, and this client cannot ask its user to confirm: that takes MCP 2026-07-28 with form elicitation declared in the request's client capabilities.";
pub const NOT_VALID: &str = "The approval this retry carries is not valid: it was changed, or it was issued to another grant. Call the tool again to be asked.";
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
    /// The store failed: refused, failing closed.
    Failed(Refusal),
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
    /// The approver who decided (`by: approver`).
    pub approver: Option<String>,
    /// The pending approval to mark used once the nonce is claimed: its
    /// grant and key.
    pub used: Option<(String, String)>,
}

/// A call that requires approval, as the gate sees it.
pub struct Call<'m> {
    pub message: &'m Message,
    pub id: &'m RequestId,
    pub tool: &'m str,
    pub rule: &'m ApprovalRule,
    /// The policy's denial (its rule and message).
    pub denial: &'m Denial,
    /// Hex SHA-256 of the arguments' canonical form.
    pub arguments: String,
    pub rule_digest: String,
    pub approvals: &'m Approvals,
}

impl Call<'_> {
    pub fn refuse(&self, step: ApprovalStep, text: &str) -> MessageRefusal {
        self.refuse_by(step, text, None)
    }

    pub fn refuse_by(
        &self,
        step: ApprovalStep,
        text: &str,
        approver: Option<&str>,
    ) -> MessageRefusal {
        MessageRefusal::of(
            self.message,
            Reason::Approval {
                step,
                rule: self.denial.rule.clone(),
                message: text.to_owned(),
                approver: approver.map(str::to_owned),
            },
        )
    }

    /// The state this call's approval is sealed in.
    pub fn state(&self, nonce: String, expires_at: u64) -> ApprovalState {
        ApprovalState {
            tool: self.tool.to_owned(),
            arguments: self.arguments.clone(),
            rule: self.rule_digest.clone(),
            expires_at,
            nonce,
            approved: false,
            upstream: None,
        }
    }

    /// Why `state` does not hold for this call at `now_secs`, if it does not.
    fn mismatch(&self, state: &ApprovalState, now_secs: u64) -> Option<MessageRefusal> {
        if state.tool != self.tool || state.arguments != self.arguments {
            return Some(self.refuse(ApprovalStep::Denied, OTHER_CALL));
        }
        if state.rule != self.rule_digest {
            return Some(self.refuse(ApprovalStep::Denied, RULE_CHANGED));
        }
        if state.expires_at <= now_secs {
            return Some(self.refuse(ApprovalStep::Expired, EXPIRED));
        }
        None
    }

    /// The call decided as approved and forwarded with `upstream_state`.
    #[allow(clippy::too_many_arguments)]
    pub fn approve<'p>(
        &self,
        ctx: &Context<'p>,
        body: &[u8],
        upstream_state: Option<&str>,
        approval: ApprovalState,
        approver: Option<String>,
        used: Option<(String, String)>,
    ) -> Gate<'p> {
        let Some(forwarded) = exchange::forwarded_body(body, upstream_state) else {
            return Gate::Refused(self.refuse(ApprovalStep::Denied, NOT_VALID));
        };
        let verdict = decide_approved(
            &ctx.grant.policy,
            self.message,
            &ctx.grant.name,
            ctx.session.map(|session| session.upstream.as_str()),
        );
        if let Verdict::Refuse(refusal) = verdict {
            return Gate::Refused(refusal);
        }
        Gate::Approved(Box::new(Approved {
            verdict,
            rule: self.denial.rule.clone(),
            body: forwarded,
            nonce: approval.nonce.clone(),
            expires_at: approval.expires_at,
            rounds: Rounds {
                id: self.id.clone(),
                grant: ctx.grant.name.clone(),
                sealer: self.approvals.sealer.clone(),
                approval: ApprovalState {
                    upstream: None,
                    ..approval
                },
                ttl_seconds: self.rule.ttl_seconds,
            },
            approver,
            used,
        }))
    }
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
    let (Some(tool), Some(id)) = (message.target(), message.id.as_ref()) else {
        return Gate::Unchanged;
    };
    let Some(rule) = ctx.grant.policy.approval(tool) else {
        return Gate::Unchanged;
    };
    let Some(approvals) = &ctx.config.settings.approvals else {
        let refused = MessageRefusal::of(
            message,
            Reason::Approval {
                step: ApprovalStep::Required,
                rule: denial.rule.clone(),
                message: denial.message.clone(),
                approver: None,
            },
        );
        return Gate::Refused(refused);
    };
    let call = Call {
        message,
        id,
        tool,
        rule,
        denial,
        arguments: arguments_digest(message.arguments())
            .map(|digest| hex(&digest))
            .unwrap_or_default(),
        rule_digest: hex(&rule.digest),
        approvals,
    };
    if call.arguments.is_empty() {
        return Gate::Refused(call.refuse(ApprovalStep::Required, &denial.message));
    }
    let presented = exchange::request_state(message)
        .map(|text| ApprovalState::open(&approvals.sealer, &ctx.grant.name, text));
    match (presented, &rule.by) {
        (Some(None), _) => Gate::Refused(call.refuse(ApprovalStep::Denied, NOT_VALID)),
        (Some(Some(state)), _) if state.approved => {
            if let Some(refusal) = call.mismatch(&state, ctx.now_secs) {
                return Gate::Refused(refusal);
            }
            let upstream = state.upstream.clone();
            call.approve(ctx, body, upstream.as_deref(), state, None, None)
        }
        (Some(Some(state)), ApprovedBy::Caller) => answered(ctx, &call, body, state),
        (None, ApprovedBy::Caller) => ask(ctx, &call),
        (presented, ApprovedBy::Approver(_)) => {
            approver::decide(ctx, &call, body, presented.flatten())
        }
    }
}

/// `by: caller`, first call: the question, or why it cannot be asked.
fn ask<'p>(ctx: &Context<'p>, call: &Call<'_>) -> Gate<'p> {
    if !(uses_mirrored_headers(ctx.head.protocol_version(), call.message)
        && exchange::can_ask(call.message))
    {
        return Gate::Refused(call.refuse(ApprovalStep::Required, CANNOT_ASK));
    }
    let state = call.state(
        nonce(ctx, call.tool, &call.arguments),
        ctx.now_secs.saturating_add(call.rule.ttl_seconds),
    );
    let Some(sealed) = state.seal(&call.approvals.sealer, &ctx.grant.name) else {
        return Gate::Refused(call.refuse(ApprovalStep::Required, &call.denial.message));
    };
    let reply = exchange::input_required(call.id, call.tool, call.message.arguments(), &sealed);
    Gate::Refused(call.refuse(ApprovalStep::Ask { reply }, &call.denial.message))
}

/// `by: caller`, the retry carrying the user's answer.
fn answered<'p>(ctx: &Context<'p>, call: &Call<'_>, body: &[u8], state: ApprovalState) -> Gate<'p> {
    if let Some(refusal) = call.mismatch(&state, ctx.now_secs) {
        return Gate::Refused(refusal);
    }
    match exchange::answer(call.message) {
        Answer::Accept => call.approve(ctx, body, None, state, None, None),
        Answer::Decline => Gate::Refused(call.refuse(ApprovalStep::Denied, DECLINED)),
        Answer::Cancel => Gate::Refused(call.refuse(ApprovalStep::Denied, CANCELLED)),
        Answer::None => Gate::Refused(call.refuse(ApprovalStep::Denied, NO_ANSWER)),
    }
}

/// A nonce no other request of the grant gets: the call, Envoy's request
/// id and the request's clock in nanoseconds.
pub fn nonce(ctx: &Context<'_>, tool: &str, arguments: &str) -> String {
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
