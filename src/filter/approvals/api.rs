//! The approval API an approver's page (or script) uses: the pending
//! approvals the caller may decide, and a decision on one. Host-free: it
//! reads and changes the pending approvals in the shared store.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::approval::pending::{self, Pending, Status};
use crate::config::{Config, Grant};
use crate::filter::refusal::{json_reply, ReplyKind};
use crate::host::LocalReply;
use crate::store::{SharedStore, StoreError};

/// The longest decision body read.
pub const MAX_DECISION_BYTES: usize = 1024;

/// A decision an approver made, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub approved: bool,
    pub tool: String,
    pub rule: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
}

pub fn error(status: u32, message: &str) -> LocalReply {
    let kind = match status {
        401 => ReplyKind::Unauthenticated,
        403 => ReplyKind::Forbidden,
        500 => ReplyKind::FailClosed,
        _ => ReplyKind::ApprovalApi,
    };
    json_reply(
        status,
        json!({"error": message}).to_string().into_bytes(),
        kind,
    )
}

fn scopes(config: &Config) -> impl Iterator<Item = &str> {
    config
        .grants
        .rules()
        .iter()
        .map(|rule| rule.grant.name.as_str())
}

/// Whether `approver` may decide `entry`.
fn may_decide(approver: &Grant, entry: &Pending) -> bool {
    entry.approvers.contains(&approver.rule) && entry.grant != approver.name
}

fn shown(entry: &Pending) -> Value {
    json!({
        "id": entry.id,
        "grant": entry.grant,
        "tool": entry.tool,
        "arguments": entry.arguments,
        "rule": entry.rule,
        "createdAt": pending::rfc3339(entry.created_at),
        "expiresAt": pending::rfc3339(entry.expires_at),
    })
}

/// `GET <prefix>/approvals` (JSON): what `approver` may decide now.
pub fn list(
    config: &Config,
    store: &dyn SharedStore,
    approver: &Grant,
    now_secs: u64,
) -> LocalReply {
    let entries = match pending::list(store, scopes(config), now_secs) {
        Ok(entries) => entries,
        Err(failure) => return failed(&failure),
    };
    let mut approvals: Vec<&Pending> = entries
        .iter()
        .map(|(_, entry)| entry)
        .filter(|entry| entry.status == Status::Pending && entry.expires_at > now_secs)
        .filter(|entry| may_decide(approver, entry))
        .collect();
    approvals.sort_by_key(|entry| (entry.created_at, entry.id.clone()));
    let body = json!({
        "approver": approver.name,
        "approvals": approvals.into_iter().map(shown).collect::<Vec<_>>(),
    });
    json_reply(200, body.to_string().into_bytes(), ReplyKind::ApprovalApi)
}

/// `POST <prefix>/approvals/<id>` with `{"decision": "approve" | "deny"}`.
pub fn decide(
    config: &Config,
    store: &dyn SharedStore,
    approver: &Grant,
    id: &str,
    body: &[u8],
    now_secs: u64,
) -> (LocalReply, Option<Decided>) {
    let approve = match serde_json::from_slice::<DecisionBody>(body) {
        Ok(DecisionBody { decision }) if decision == "approve" => true,
        Ok(DecisionBody { decision }) if decision == "deny" => false,
        _ => {
            let message =
                "the body must be {\"decision\": \"approve\"} or {\"decision\": \"deny\"}";
            return (error(400, message), None);
        }
    };
    let entries = match pending::list(store, scopes(config), now_secs) {
        Ok(entries) => entries,
        Err(failure) => return (failed(&failure), None),
    };
    let found = entries
        .into_iter()
        .find(|(_, entry)| entry.id == id && entry.expires_at > now_secs);
    let Some((scope, entry)) = found else {
        return (
            error(404, &format!("no approval request {id} is waiting")),
            None,
        );
    };
    if entry.grant == approver.name {
        return (
            error(403, "an approver cannot decide their own request"),
            None,
        );
    }
    if !may_decide(approver, &entry) {
        let message = format!(
            "grant \"{}\" is not an approver of request {id}",
            approver.name
        );
        return (error(403, &message), None);
    }
    if entry.status != Status::Pending {
        return (already(&entry), None);
    }
    let status = if approve {
        Status::Approved
    } else {
        Status::Denied
    };
    let changed = pending::update(store, &scope, &entry.key, now_secs, |current| {
        if current.id != entry.id || current.status != Status::Pending {
            return false;
        }
        current.status = status;
        current.decided_by = Some(approver.name.clone());
        true
    });
    match changed {
        Ok(Some(decided)) => {
            let body = json!({
                "id": decided.id,
                "status": if approve { "approved" } else { "denied" },
                "decidedBy": approver.name,
            });
            let audit = Decided {
                approved: approve,
                tool: decided.tool,
                rule: decided.rule,
            };
            (
                json_reply(200, body.to_string().into_bytes(), ReplyKind::ApprovalApi),
                Some(audit),
            )
        }
        Ok(None) => match pending::find(store, &scope, &entry.key, now_secs) {
            Ok(Some(current)) if current.id == entry.id => (already(&current), None),
            Ok(_) => (
                error(404, &format!("no approval request {id} is waiting")),
                None,
            ),
            Err(failure) => (failed(&failure), None),
        },
        Err(failure) => (failed(&failure), None),
    }
}

fn already(entry: &Pending) -> LocalReply {
    let what = match entry.status {
        Status::Pending => "is still pending",
        Status::Approved => "was already approved",
        Status::Denied => "was already denied",
        Status::Used => "was already approved and used",
    };
    let by = entry
        .decided_by
        .as_deref()
        .map(|who| format!(" by {who}"))
        .unwrap_or_default();
    error(409, &format!("request {} {what}{by}", entry.id))
}

fn failed(failure: &StoreError) -> LocalReply {
    log::error!("pending approvals unreadable: {failure}");
    error(
        500,
        "the policy filter could not read its pending approvals",
    )
}
