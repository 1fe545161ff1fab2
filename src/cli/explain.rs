//! `mcp-policy explain`: what the filter would decide for one JSON-RPC body,
//! and the exact reply the agent would get.

use serde_json::{json, Value};

use crate::config::Settings;
use crate::counter::Window;
use crate::filter::reply;
use crate::filter::verdict::{decide_all, Reason, Refusal, Verdict};
use crate::host::LocalReply;
use crate::mcp::{read_payload, Message, MessageKind, ReadLimits};
use crate::policy::{Denial, DenialKind, Limit, Listing, Policy, Scope};

use super::json::escape_token;

/// The grant name used when none is given.
pub const DEFAULT_GRANT: &str = "cli";

/// The policy a grant of a wrapper gets, and how to describe it.
pub struct Selected {
    pub policy: Policy,
    pub grant: String,
    /// `policy /policy`, `policy /policies/<name>`, `bare policy` or `no policy`.
    pub source: String,
}

/// Picks the policy of `grant` in a (valid) wrapper configuration, as the
/// filter does: the grant's named policy, else the wrapper's `policy`, else
/// the deny-everything stand-in. Without a grant: the wrapper's `policy`.
pub fn select(wrapper: &Value, grant: Option<&str>) -> Result<Selected, String> {
    let grants: &[Value] = wrapper
        .get("grants")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let reference = match grant {
        None => None,
        Some(name) => {
            let Some(entry) = grants
                .iter()
                .find(|g| g.get("name").and_then(Value::as_str) == Some(name))
            else {
                let names: Vec<&str> = grants
                    .iter()
                    .filter_map(|g| g.get("name").and_then(Value::as_str))
                    .collect();
                return Err(if names.is_empty() {
                    format!("no grant named {name:?}: the configuration has no grants")
                } else {
                    format!(
                        "no grant named {name:?}; the grants are: {}",
                        names.join(", ")
                    )
                });
            };
            entry.get("policy").and_then(Value::as_str)
        }
    };
    let grant = grant.unwrap_or(DEFAULT_GRANT).to_owned();
    let (value, source) = match reference {
        Some(name) => (
            wrapper.get("policies").and_then(|p| p.get(name)),
            format!("/policies/{}", escape_token(name)),
        ),
        None => (wrapper.get("policy"), "/policy".to_owned()),
    };
    match value {
        None => Ok(Selected {
            policy: Policy::deny_all_no_policy(),
            grant,
            source: "no policy: every call is denied".to_owned(),
        }),
        Some(value) => Policy::from_value(value, &source)
            .map(|policy| Selected {
                policy,
                grant,
                source: format!("policy {source}"),
            })
            .map_err(|errors| errors.to_string()),
    }
}

/// One limit an allowed call would be charged.
#[derive(Debug)]
pub struct LimitReport {
    pub limit: Limit,
    /// The reply body once the budget is spent (retryAfterSeconds at its
    /// maximum, the window's length; the filter sends the seconds left).
    pub exhausted: String,
}

/// What was decided for one message.
#[derive(Debug)]
pub struct MessageReport {
    pub method: Option<String>,
    pub target: Option<String>,
    /// The id as JSON text (`None` for notifications).
    pub id: Option<String>,
    /// `allow`, `deny` or `pass` (a client's JSON-RPC response).
    pub decision: &'static str,
    pub rule: Option<String>,
    /// `denied`, `hidden`, `approval required`, `rate limited`...
    pub kind: Option<&'static str>,
    pub denial: Option<Denial>,
    pub would_deny: Option<Denial>,
    pub limits: Vec<LimitReport>,
    pub listing: Option<Listing>,
}

/// The whole explanation.
#[derive(Debug)]
pub struct Explanation {
    pub grant: String,
    pub source: String,
    pub messages: Vec<MessageReport>,
    pub is_batch: bool,
    /// The local reply when the body is refused; `None` when it is forwarded.
    pub reply: Option<LocalReply>,
}

impl Explanation {
    pub fn denied(&self) -> bool {
        self.reply.is_some()
    }
}

/// A request body the filter answers itself before any policy applies.
pub struct BadRequest {
    pub message: String,
    pub reply: LocalReply,
}

fn retry_after(window: Window) -> u64 {
    window.length_secs()
}

fn rate_limited(message: &Message, limit: &Limit) -> Refusal {
    // The limit state is for the audit log only; it is not part of the reply.
    let state = format!("{max}/{max} (simulated)", max = limit.max);
    Refusal::rate_limited(message, limit, retry_after(limit.window), state)
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Explains what `policy` decides for the JSON-RPC `body`, read as the
/// filter reads it under `settings`.
pub fn explain(
    policy: &Policy,
    grant: &str,
    source: &str,
    session: Option<&str>,
    settings: &Settings,
    body: &[u8],
) -> Result<Explanation, BadRequest> {
    if body.len() > settings.max_body_bytes {
        let message = format!(
            "Request body is larger than the policy filter's limit of {} bytes",
            settings.max_body_bytes
        );
        return Err(BadRequest {
            reply: reply::protocol_error(413, None, reply::INVALID_REQUEST, &message),
            message,
        });
    }
    let limits = ReadLimits {
        max_depth: settings.max_json_depth,
    };
    let payload = read_payload(body, &limits).map_err(|error| BadRequest {
        message: error.to_string(),
        reply: reply::protocol_error(400, error.id.as_ref(), error.code, &error.message),
    })?;
    let is_batch = payload.is_batch();
    let messages = payload.into_messages();
    let (verdicts, mut refusals) = decide_all(policy, &messages, grant, session);
    // Limits are charged only when nothing was refused; a budget of 0 is
    // spent before the first call.
    if refusals.iter().all(Option::is_none) {
        for ((message, verdict), slot) in messages.iter().zip(&verdicts).zip(refusals.iter_mut()) {
            if let Verdict::Allow { limits, .. } = verdict {
                let spent = limits
                    .iter()
                    .filter(|l| !l.dry_run && l.max == 0)
                    .max_by_key(|l| retry_after(l.window));
                if let Some(limit) = spent {
                    *slot = Some(rate_limited(message, limit));
                }
            }
        }
    }

    let mut reports = Vec::new();
    for ((message, verdict), refusal) in messages.iter().zip(&verdicts).zip(&refusals) {
        let method = message.method().map(str::to_owned);
        let target = message.target().map(str::to_owned);
        let listing = match (&method, &target) {
            (Some(m), Some(t)) if m == "tools/call" => Some(policy.listing(t)),
            _ => None,
        };
        let id = match &message.kind {
            MessageKind::Request { .. } => message.id.as_ref().map(|id| id.as_json().to_owned()),
            _ => None,
        };
        let mut report = MessageReport {
            method,
            target,
            id,
            decision: "pass",
            rule: None,
            kind: None,
            denial: None,
            would_deny: None,
            limits: Vec::new(),
            listing,
        };
        match (verdict, refusal) {
            (Verdict::Pass, _) => {}
            (_, Some(refusal)) => {
                report.decision = "deny";
                report.rule = Some(refusal.rule().to_owned());
                report.kind = Some(match &refusal.reason {
                    Reason::Policy(denial) => kind_text(denial.kind),
                    _ => "rate limited",
                });
                report.denial = match &refusal.reason {
                    Reason::Policy(denial) => Some(denial.clone()),
                    Reason::RateLimited { message, rule, .. } => Some(Denial {
                        kind: DenialKind::Denied,
                        rule: rule.clone(),
                        message: message.clone(),
                    }),
                    _ => None,
                };
                if let Verdict::Allow { limits, .. } = verdict {
                    report.limits = limit_reports(message, limits);
                }
            }
            (
                Verdict::Allow {
                    rule,
                    limits,
                    would_deny,
                },
                None,
            ) => {
                report.decision = "allow";
                report.rule = Some(rule.clone());
                report.would_deny = would_deny.clone();
                report.limits = limit_reports(message, limits);
            }
            (Verdict::Refuse(_), None) => {}
        }
        reports.push(report);
    }

    let reply = if refusals.iter().all(Option::is_none) {
        None
    } else if is_batch {
        let all: Vec<Refusal> = messages
            .iter()
            .zip(refusals)
            .map(|(message, refusal)| {
                refusal.unwrap_or_else(|| Refusal::of(message, Reason::BatchNotForwarded))
            })
            .collect();
        Some(reply::batch(&all))
    } else {
        refusals
            .into_iter()
            .flatten()
            .next()
            .map(|refusal| reply::single(&refusal))
    };
    Ok(Explanation {
        grant: grant.to_owned(),
        source: source.to_owned(),
        messages: reports,
        is_batch,
        reply,
    })
}

fn limit_reports(message: &Message, limits: &[&Limit]) -> Vec<LimitReport> {
    limits
        .iter()
        .map(|limit| {
            let refusal = rate_limited(message, limit);
            let exhausted = reply::refusal_body(&refusal)
                .map(|body| String::from_utf8_lossy(&body).into_owned())
                .unwrap_or_default();
            LimitReport {
                limit: (*limit).clone(),
                exhausted,
            }
        })
        .collect()
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Grant => "grant".to_owned(),
        Scope::Global => "global".to_owned(),
        Scope::Session => "session".to_owned(),
        Scope::Header(name) => format!("header:{name}"),
        Scope::Claim(name) => format!("claim:{name}"),
    }
}

fn kind_text(kind: DenialKind) -> &'static str {
    match kind {
        DenialKind::Denied => "denied",
        DenialKind::Hidden => "hidden",
        DenialKind::ApprovalRequired => "approval required",
        DenialKind::ConditionError => "condition error (fails closed)",
    }
}

fn listing_text(listing: Listing) -> &'static str {
    match listing {
        Listing::Visible => "visible",
        Listing::Hidden => "hidden (removed from tools/list)",
        Listing::NeverAllowed => {
            "visible but never allowed (removed from tools/list when hide_denied_tools is set)"
        }
    }
}

fn reply_headers(reply: &LocalReply) -> Value {
    Value::Object(
        reply
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect(),
    )
}

/// The explanation as text for a person.
pub fn render_text(explanation: &Explanation) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        out.push_str(&format!("{label:<10}{value}\n"));
    };
    line(
        "grant:",
        &format!("{} ({})", explanation.grant, explanation.source),
    );
    let overall = if explanation.denied() {
        "deny"
    } else {
        "allow"
    };
    if explanation.is_batch {
        line(
            "batch:",
            &format!("{} messages; {overall}", explanation.messages.len()),
        );
    }
    for (index, report) in explanation.messages.iter().enumerate() {
        if explanation.is_batch {
            out.push_str(&format!("\nmessage {}:\n", index + 1));
        }
        render_message(&mut out, report);
        if explanation.is_batch && explanation.denied() && report.decision == "allow" {
            out.push_str("note:     not forwarded: another element of the batch was refused\n");
        }
    }
    match &explanation.reply {
        None => out.push_str("reply:    none: the request is forwarded to the server\n"),
        Some(reply) if reply.body.is_empty() => out.push_str(&format!(
            "reply:    HTTP {} with no body (a refused notification is dropped)\n",
            reply.status
        )),
        Some(reply) => {
            let headers: Vec<String> = reply
                .headers
                .iter()
                .filter(|(name, _)| name != "content-type" && name != "cache-control")
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            let extra = if headers.is_empty() {
                String::new()
            } else {
                format!(", {}", headers.join(", "))
            };
            out.push_str(&format!("reply:    HTTP {}{extra}\n", reply.status));
            out.push_str(&String::from_utf8_lossy(&reply.body));
            out.push('\n');
        }
    }
    out
}

fn render_message(out: &mut String, report: &MessageReport) {
    let mut push = |label: &str, value: &str| out.push_str(&format!("{label:<10}{value}\n"));
    let request = match (&report.method, &report.target) {
        (Some(method), Some(target)) => format!("{method} {target}"),
        (Some(method), None) => method.clone(),
        (None, _) => "a JSON-RPC response from the client".to_owned(),
    };
    let id = match &report.id {
        Some(id) => format!(" (id {id})"),
        None if report.method.is_some() => " (notification)".to_owned(),
        None => String::new(),
    };
    push("request:", &format!("{request}{id}"));
    push("decision:", report.decision);
    if let Some(rule) = &report.rule {
        push("rule:", rule);
    }
    if let Some(kind) = report.kind {
        push("kind:", kind);
    }
    if let Some(denial) = &report.denial {
        push("reason:", &denial.message);
    }
    if let Some(listing) = report.listing {
        push("listing:", listing_text(listing));
    }
    if report.decision == "allow" || !report.limits.is_empty() {
        match &report.would_deny {
            Some(denial) => push(
                "dry run:",
                &format!(
                    "would deny by {} ({}): {}",
                    denial.rule,
                    kind_text(denial.kind),
                    denial.message
                ),
            ),
            None if report.decision == "allow" => push("dry run:", "no rule would deny"),
            None => {}
        }
    }
    if report.decision == "allow" {
        if report.limits.is_empty() {
            push("limits:", "none charged");
        } else {
            push("limits:", "each charged 1 per call");
        }
    }
    for limit in &report.limits {
        let l = &limit.limit;
        let dry = if l.dry_run {
            ", dry run (counted, never refuses)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  - {}: {} per {}, scope {}{dry}, rule {}\n",
            l.counter,
            l.max,
            l.window,
            scope_text(&l.scope),
            l.rule
        ));
        if !l.dry_run && report.decision == "allow" {
            out.push_str(&format!(
                "    once spent: HTTP 200, retry-after: <seconds left in the {}, at most {}>\n    {}\n",
                window_name(l.window),
                retry_after(l.window),
                limit.exhausted
            ));
        }
    }
}

fn window_name(window: Window) -> String {
    match window {
        Window::Seconds(_) => format!("{window} window"),
        other => other.to_string(),
    }
}

/// The explanation as JSON, for scripts.
pub fn render_json(explanation: &Explanation) -> Value {
    let denial_json =
        |d: &Denial| json!({"kind": kind_text(d.kind), "rule": d.rule, "message": d.message});
    let refusal_json = |m: &MessageReport| {
        m.denial
            .as_ref()
            .map(|d| json!({"kind": m.kind.unwrap_or(""), "rule": d.rule, "message": d.message}))
    };
    let messages: Vec<Value> = explanation
        .messages
        .iter()
        .map(|m| {
            json!({
                "method": m.method,
                "target": m.target,
                "id": m.id.as_deref().map(body_json_str),
                "decision": m.decision,
                "rule": m.rule,
                "denial": refusal_json(m),
                "would_deny": m.would_deny.as_ref().map(denial_json),
                "listing": m.listing.map(|l| match l {
                    Listing::Visible => "visible",
                    Listing::Hidden => "hidden",
                    Listing::NeverAllowed => "never_allowed",
                }),
                "limits": m.limits.iter().map(|l| json!({
                    "counter": l.limit.counter,
                    "window": l.limit.window.to_string(),
                    "max": l.limit.max,
                    "scope": scope_text(&l.limit.scope),
                    "rule": l.limit.rule,
                    "dry_run": l.limit.dry_run,
                    "reply_when_spent": body_json_str(&l.exhausted),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "grant": explanation.grant,
        "source": explanation.source,
        "decision": if explanation.denied() { "deny" } else { "allow" },
        "messages": messages,
        "reply": explanation.reply.as_ref().map(|r| json!({
            "status": r.status,
            "headers": reply_headers(r),
            "body": if r.body.is_empty() { Value::Null } else { body_json(&r.body) },
            "body_text": String::from_utf8_lossy(&r.body),
        })),
    })
}

fn body_json_str(text: &str) -> Value {
    body_json(text.as_bytes())
}
