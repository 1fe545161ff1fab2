//! `by: approver`: a named approver decides on the approval page. The first
//! call creates a pending approval (bound to the grant, the tool, the
//! arguments' and the rule's digests) and gets a result that says where it
//! waits; a client that declared URL elicitation under 2026-07-28 is first
//! sent there with an `input_required` result. The identical call, retried,
//! finds the approver's decision: approved (forwarded once), denied (a
//! denial naming the approver) or still pending (the same reply).

use serde_json::json;

use super::approval::{nonce, Call, Gate};
use super::verdict::ApprovalStep;
use super::Context;
use crate::approval::exchange;
use crate::approval::pending::{self, Pending, Status};
use crate::approval::ApprovalState;
use crate::filter::refusal::Refusal;
use crate::host::HostError;
use crate::mcp::uses_mirrored_headers;
use crate::policy::ApprovedBy;
use crate::store::PutOutcome;

/// What the approver path makes of `call`; `asked` is the filter's own
/// state a retry carries after the client was sent to the page.
pub fn decide<'p>(
    ctx: &Context<'p>,
    call: &Call<'_>,
    body: &[u8],
    asked: Option<ApprovalState>,
) -> Gate<'p> {
    let ApprovedBy::Approver(approvers) = &call.rule.by else {
        return Gate::Unchanged;
    };
    let scope = ctx.grant.rule.as_str();
    let key = pending::call_key(
        &ctx.grant.name,
        call.tool,
        &call.arguments,
        &call.rule_digest,
    );
    let entry = match pending::find(ctx.store, scope, &key, ctx.now_secs) {
        Ok(entry) => entry,
        Err(error) => return failed(call, &error.to_string()),
    };
    let asked =
        asked.is_some_and(|state| state.tool == call.tool && state.arguments == call.arguments);
    let expired = matches!(&entry, Some(e) if e.expires_at <= ctx.now_secs
        && matches!(e.status, Status::Pending | Status::Approved));
    let live = entry.filter(|entry| entry.expires_at > ctx.now_secs);
    let Some(entry) = live else {
        return request(ctx, call, approvers, &key, expired, asked);
    };
    match entry.status {
        Status::Pending => waiting(ctx, call, &entry, asked, None),
        Status::Approved => {
            let approval = call.state(entry.id.clone(), entry.expires_at);
            call.approve(
                ctx,
                body,
                None,
                approval,
                entry.decided_by.clone(),
                Some((scope.to_owned(), key)),
            )
        }
        Status::Denied => {
            let who = entry.decided_by.as_deref().unwrap_or("an approver");
            let text = format!("Approval request {} was denied by {who}.", entry.id);
            Gate::Refused(call.refuse_by(ApprovalStep::Denied, &text, entry.decided_by.as_deref()))
        }
        Status::Used => request(ctx, call, approvers, &key, false, asked),
    }
}

/// A new pending approval for the call.
fn request<'p>(
    ctx: &Context<'p>,
    call: &Call<'_>,
    approvers: &[String],
    key: &str,
    expired: bool,
    asked: bool,
) -> Gate<'p> {
    let entry = Pending {
        id: pending::new_id(key, ctx.now_nanos),
        key: key.to_owned(),
        grant: ctx.grant.name.clone(),
        tool: call.tool.to_owned(),
        arguments: pending::shown_arguments(call.message.arguments()),
        rule: call.denial.rule.clone(),
        approvers: approvers.to_vec(),
        created_at: ctx.now_secs,
        expires_at: ctx.now_secs.saturating_add(call.rule.ttl_seconds),
        status: Status::Pending,
        decided_by: None,
    };
    match pending::create(ctx.store, &ctx.grant.rule, &entry, ctx.now_secs) {
        Ok(PutOutcome::Stored) => {
            let note =
                expired.then_some("Its earlier approval request expired before it was used. ");
            waiting(ctx, call, &entry, asked, note)
        }
        Ok(PutOutcome::Full) => {
            let text = format!(
                "Approval required, but {} approval requests of this grant are already waiting: ask an approver to decide them, or wait for them to expire.",
                pending::SLOTS_PER_GRANT
            );
            Gate::Refused(call.refuse(ApprovalStep::Required, &text))
        }
        Err(error) => failed(call, &error.to_string()),
    }
}

/// The reply while `entry` waits: the page (URL elicitation) the first
/// time a client that can open it calls, else a result saying where.
fn waiting<'p>(
    ctx: &Context<'p>,
    call: &Call<'_>,
    entry: &Pending,
    asked: bool,
    note: Option<&str>,
) -> Gate<'p> {
    let url = page_link(ctx, call, &entry.id);
    let text = format!(
        "{}Approval required: request {} is waiting for an approver at {url}. Retry the same call once it is approved.",
        note.unwrap_or(""),
        entry.id
    );
    let can_open = uses_mirrored_headers(ctx.head.protocol_version(), call.message)
        && exchange::can_open_url(call.message);
    if can_open && !asked {
        let state = call.state(nonce(ctx, call.tool, &call.arguments), entry.expires_at);
        if let Some(sealed) = state.seal(&call.approvals.sealer, &ctx.grant.name) {
            let reply = exchange::input_required_url(call.id, &text, &url, &entry.id, &sealed);
            return Gate::Refused(call.refuse(ApprovalStep::Ask { reply }, &text));
        }
    }
    let approval = json!({
        "id": entry.id,
        "url": url,
        "status": "pending",
        "expiresAt": pending::rfc3339(entry.expires_at),
    });
    let step = ApprovalStep::Pending {
        approval,
        expired: note.is_some(),
    };
    Gate::Refused(call.refuse(step, &text))
}

/// Where the approver decides `id`: the configured public base, else the
/// request's own scheme and authority.
fn page_link(ctx: &Context<'_>, call: &Call<'_>, id: &str) -> String {
    let base = match &call.approvals.page_url {
        Some(base) => base.clone(),
        None => {
            let headers = &ctx.head.headers;
            let scheme = headers
                .get("x-forwarded-proto")
                .or_else(|| headers.get(":scheme"))
                .filter(|scheme| *scheme == "https" || *scheme == "http")
                .unwrap_or("http");
            let authority = headers
                .get(":authority")
                .or_else(|| headers.get("host"))
                .filter(|authority| {
                    !authority.is_empty()
                        && authority
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
                });
            match authority {
                Some(authority) => format!("{scheme}://{authority}{}", call.approvals.path_prefix),
                None => call.approvals.path_prefix.clone(),
            }
        }
    };
    format!("{base}/approvals?id={id}")
}

fn failed<'p>(call: &Call<'_>, detail: &str) -> Gate<'p> {
    Gate::Failed(Refusal::failure(
        Some(call.id),
        &HostError::new("pending approvals", detail),
    ))
}
