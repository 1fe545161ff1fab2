//! The policy verdict on each JSON-RPC message of a request body.

use crate::mcp::{Message, MessageKind, RequestId};
use crate::policy::{Decision, Denial, DenialKind, Limit, Policy, Request};

/// What to do with one message.
#[derive(Debug)]
pub enum Verdict<'p> {
    /// A client's JSON-RPC response: nothing to decide.
    Pass,
    Allow {
        rule: String,
        limits: Vec<&'p Limit>,
        would_deny: Option<Denial>,
    },
    Refuse(MessageRefusal),
}

/// A message that will not be forwarded, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRefusal {
    /// `None` for notifications: they get no JSON-RPC reply.
    pub id: Option<RequestId>,
    pub method: String,
    pub target: Option<String>,
    pub reason: Reason,
    /// The message speaks 2026-07-28, whose results carry `resultType`.
    pub modern: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    Policy(Denial),
    RateLimited {
        message: String,
        rule: String,
        retry_after_secs: u64,
        /// `count/max resets_at=<unix seconds>`, for the audit log.
        limit_state: String,
    },
    /// A call that needs approval and has none that holds.
    Approval {
        step: ApprovalStep,
        /// The rule requiring approval (`/tools/<key>/action`).
        rule: String,
        message: String,
        /// The approver who decided, where one did.
        approver: Option<String>,
    },
    /// Another element of the same batch was refused.
    BatchNotForwarded,
}

/// Where a call that needs approval stands.
#[derive(Clone, Debug, PartialEq)]
pub enum ApprovalStep {
    /// The caller's user is asked: the reply is this `input_required` result.
    Ask {
        reply: Vec<u8>,
    },
    /// Approval is required and cannot be asked for here.
    Required,
    /// A named approver is asked: the reply says where
    /// (`_meta["mcp-policy/approval"]` is `approval`); `expired` when an
    /// earlier request for the same call expired unused.
    Pending {
        approval: serde_json::Value,
        expired: bool,
    },
    /// The approval presented does not hold.
    Denied,
    Expired,
}

pub fn decide<'p>(
    policy: &'p Policy,
    message: &Message,
    grant: &str,
    session: Option<&str>,
) -> Verdict<'p> {
    verdict_of(policy, message, grant, session, false)
}

/// The verdict on a call a person approved.
pub fn decide_approved<'p>(
    policy: &'p Policy,
    message: &Message,
    grant: &str,
    session: Option<&str>,
) -> Verdict<'p> {
    verdict_of(policy, message, grant, session, true)
}

fn verdict_of<'p>(
    policy: &'p Policy,
    message: &Message,
    grant: &str,
    session: Option<&str>,
    approved: bool,
) -> Verdict<'p> {
    let method = match &message.kind {
        MessageKind::Response => return Verdict::Pass,
        MessageKind::Request { method, .. } | MessageKind::Notification { method, .. } => {
            method.as_str()
        }
    };
    let request = Request {
        method,
        target: message.target(),
        arguments: message.arguments(),
        grant,
        session,
    };
    let decision = if approved {
        policy.decide_approved(&request)
    } else {
        policy.decide(&request)
    };
    match decision {
        Decision::Allow {
            rule,
            limits,
            would_deny,
        } => Verdict::Allow {
            rule,
            limits,
            would_deny,
        },
        Decision::Deny(denial) => {
            Verdict::Refuse(MessageRefusal::of(message, Reason::Policy(denial)))
        }
    }
}

/// Decides every message; refusals are collected by message index.
pub fn decide_all<'p>(
    policy: &'p Policy,
    messages: &[Message],
    grant: &str,
    session: Option<&str>,
) -> (Vec<Verdict<'p>>, Vec<Option<MessageRefusal>>) {
    let verdicts: Vec<Verdict<'p>> = messages
        .iter()
        .map(|message| decide(policy, message, grant, session))
        .collect();
    let refusals = verdicts
        .iter()
        .map(|verdict| match verdict {
            Verdict::Refuse(refusal) => Some(refusal.clone()),
            _ => None,
        })
        .collect();
    (verdicts, refusals)
}

/// The denial text for a limit without room.
pub fn rate_limit_message(limit: &Limit) -> String {
    format!(
        "Rate limit of {} per {} reached. Try again later.",
        limit.max, limit.window
    )
}

impl MessageRefusal {
    /// `message` refused for `reason`. Only requests get a reply id.
    pub fn of(message: &Message, reason: Reason) -> MessageRefusal {
        MessageRefusal {
            id: match &message.kind {
                MessageKind::Request { .. } => message.id.clone(),
                _ => None,
            },
            method: message.method().unwrap_or("").to_string(),
            target: message.target().map(str::to_string),
            reason,
            modern: crate::mcp::uses_mirrored_headers(None, message),
        }
    }

    /// `message` refused because `limit` has no room until `retry_after_secs`.
    pub fn rate_limited(
        message: &Message,
        limit: &Limit,
        retry_after_secs: u64,
        limit_state: String,
    ) -> MessageRefusal {
        MessageRefusal::of(
            message,
            Reason::RateLimited {
                message: rate_limit_message(limit),
                rule: limit.rule.clone(),
                retry_after_secs,
                limit_state,
            },
        )
    }

    pub fn rule(&self) -> &str {
        match &self.reason {
            Reason::Policy(denial) => &denial.rule,
            Reason::RateLimited { rule, .. } | Reason::Approval { rule, .. } => rule,
            Reason::BatchNotForwarded => "(batch refused)",
        }
    }

    pub fn is_hidden(&self) -> bool {
        matches!(&self.reason, Reason::Policy(denial) if denial.kind == DenialKind::Hidden)
    }
}
