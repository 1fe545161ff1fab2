//! `mcp-policy explain`: what the filter decides for one request, and the
//! exact reply the agent would get. It runs the filter's own decision
//! (`filter::decide`) on a request head built from the options, with the
//! configuration's grant table, an in-memory counter store (optionally holding
//! counts already spent) and a given clock.

use std::rc::Rc;

use serde_json::{json, Value};

use crate::config::{Config, Grant};
use crate::counter::{reserve_in, CounterSpec, Window};
use crate::filter::decide::charge::{counter_key, table_of, NoClaims, Subject};
use crate::filter::decide::replies;
use crate::filter::decide::verdict::{decide_all, ApprovalStep, MessageRefusal, Reason, Verdict};
use crate::filter::decide::{self, Context, Disposition};
use crate::filter::refusal::Outcome;
use crate::filter::request::admission;
use crate::filter::request::identity::forbidden;
use crate::filter::request::{session, RequestHead};
use crate::host::{HeaderMap, LocalReply};
use crate::identity::{Claims, Credentials, Selection};
use crate::mcp::{read_payload, Message, MessageKind, ReadLimits};
use crate::policy::{ApprovedBy, Denial, DenialKind, Limit, Listing};
use crate::store::MemoryStore;

/// The grant name used when none is given.
pub const DEFAULT_GRANT: &str = "cli";

/// Counts spent at most this far ahead of a decision (`--used`).
const MAX_USED: u64 = 1_000_000;

/// The request to explain, as the filter would see it.
pub struct Request {
    /// Headers besides the defaults (`:method: POST`, `:path: /mcp`,
    /// `content-type: application/json`); a name given again replaces it.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The upstream's session id: presented sealed for the grant, as the
    /// filter would have handed it out.
    pub session: Option<String>,
    /// The clock, in seconds since the Unix epoch.
    pub now_secs: u64,
    /// Units already spent, by counter name, in the counters this request
    /// draws from.
    pub used: Vec<(String, u64)>,
}

/// The grant a request is explained for: a grant of the configuration's
/// grant table, as the filter picks it, or, without a name, a caller that
/// gets the default policy.
pub fn select(config: &Config, grant: Option<&str>) -> Result<Rc<Grant>, String> {
    let stand_in = |name: &str| {
        Rc::new(Grant::listed(
            name,
            Rc::clone(&config.default_policy),
            config.default_source.clone(),
        ))
    };
    let Some(name) = grant else {
        return Ok(stand_in(DEFAULT_GRANT));
    };
    if config.grants.is_bare_policy() {
        return Ok(stand_in(name));
    }
    if let Some(grant) = config.grants.by_name(name) {
        return Ok(Rc::clone(grant));
    }
    let names = config.grants.names();
    Err(if names.is_empty() {
        format!("no grant named {name:?}: the configuration has no grants")
    } else {
        format!(
            "no grant named {name:?}; the grants are: {}",
            names.join(", ")
        )
    })
}

/// A caller's identity, as `--identity` gives it.
#[derive(Debug, Default)]
pub struct Identity {
    pub token: Option<String>,
    pub claims: Option<Claims>,
    pub uri_san: Option<String>,
    pub dns_san: Option<String>,
}

impl Identity {
    /// `KIND=VALUE` items; `None` for none.
    pub fn parse(items: &[String]) -> Result<Option<Identity>, String> {
        if items.is_empty() {
            return Ok(None);
        }
        let mut identity = Identity::default();
        for item in items {
            let Some((kind, value)) = item.split_once('=') else {
                return Err(format!(
                    "--identity {item:?}: expected KIND=VALUE (token, jwt, uri-san, dns-san)"
                ));
            };
            match kind {
                "token" => identity.token = Some(value.to_owned()),
                "uri-san" => identity.uri_san = Some(value.to_owned()),
                "dns-san" => identity.dns_san = Some(value.to_owned()),
                "jwt" => {
                    let text = if value.trim_start().starts_with('{') {
                        value.to_owned()
                    } else {
                        std::fs::read_to_string(value)
                            .map_err(|e| format!("cannot read {value}: {e}"))?
                    };
                    let payload: Value = serde_json::from_str(&text)
                        .map_err(|e| format!("--identity jwt: not JSON: {e}"))?;
                    identity.claims = Some(Claims::from_json(&payload).ok_or_else(|| {
                        "--identity jwt: the payload must be a JSON object".to_owned()
                    })?);
                }
                other => {
                    return Err(format!(
                        "--identity {other}=...: the kinds are token, jwt, uri-san, dns-san"
                    ))
                }
            }
        }
        Ok(Some(identity))
    }
}

/// The grant an identity gets, or the filter's refusal of it.
pub enum Picked {
    Grant(Rc<Grant>),
    Refused(crate::filter::refusal::Refusal),
}

/// Picks the grant as the filter does (`identity::select`).
pub fn pick(config: &Config, identity: &Identity) -> Picked {
    let claims = crate::filter::request::oauth::for_this_resource(config, identity.claims.clone());
    let credentials = Credentials {
        bearer: identity.token.as_deref(),
        bearer_malformed: false,
        jwt: claims.as_ref(),
        uri_san: identity.uri_san.as_deref(),
        dns_san: identity.dns_san.as_deref(),
    };
    let oauth = config.settings.oauth.as_deref();
    match crate::identity::select(&config.grants, &credentials) {
        Selection::Granted { grant, .. } => Picked::Grant(grant),
        Selection::Unauthenticated(message) => Picked::Refused(admission::unauthenticated(
            None,
            message,
            oauth,
            identity.token.is_some() || identity.claims.is_some(),
        )),
        Selection::Forbidden { scopes } => Picked::Refused(forbidden(&scopes, oauth)),
    }
}

/// How a grant's policy is described.
pub fn source_text(source: &str) -> String {
    match source {
        "(no policy)" => "no policy: every call is denied".to_owned(),
        "bare policy" => source.to_owned(),
        pointer => format!("policy {pointer}"),
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
    /// The approval path of a call whose tool requires approval.
    pub approval: Option<String>,
}

/// The whole explanation.
#[derive(Debug)]
pub struct Explanation {
    pub grant: String,
    pub source: String,
    pub messages: Vec<MessageReport>,
    pub is_batch: bool,
    /// The local reply when the request is refused; `None` when forwarded.
    pub reply: Option<LocalReply>,
    /// The decision as it counts in metrics and the audit log.
    pub outcome: Outcome,
    /// The rule the audit log names.
    pub rule: Option<String>,
    /// Forwarded with this body instead (the 2024-11-05 transport's pings).
    pub replacement_body: Option<Vec<u8>>,
    /// The call to the rate-limit service, for limits it counts.
    pub service: Option<super::service::ServiceReport>,
}

impl Explanation {
    pub fn denied(&self) -> bool {
        self.reply.is_some() || self.replacement_body.is_some()
    }

    /// Refused before any policy applied: the request itself is malformed.
    pub fn invalid(&self) -> bool {
        self.outcome == Outcome::InvalidRequest
    }
}

/// The request head the filter would see.
pub fn request_head(headers: &[(String, String)]) -> RequestHead {
    let mut all: Vec<(String, String)> = vec![
        (":method".into(), "POST".into()),
        (":path".into(), "/mcp".into()),
        ("content-type".into(), "application/json".into()),
    ];
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        all.retain(|(known, _)| *known != name);
        all.push((name, value.clone()));
    }
    let map: HeaderMap = all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    RequestHead::from_headers(map)
}

/// Explains what the filter decides for `request` from `grant`.
pub fn explain(config: &Config, grant: &Grant, request: &Request) -> Explanation {
    let mut headers = request.headers.clone();
    if let Some(upstream) = &request.session {
        let presented =
            session::seal(config, &grant.name, upstream).unwrap_or_else(|| upstream.clone());
        headers.push(("mcp-session-id".to_owned(), presented));
    }
    let head = request_head(&headers);
    let store = MemoryStore::new();
    let session = match session::open(config, &head, &grant.name) {
        Ok(session) => session,
        Err(refusal) => return refused_at_headers(Some(grant), refusal),
    };
    let upstream_session = session.as_ref().map(|session| session.upstream.as_str());
    preload(config, grant, &head, upstream_session, &store, request);
    let context = Context {
        config,
        head: &head,
        grant,
        session: session.as_ref(),
        store: &store,
        claims: &NoClaims,
        now_secs: request.now_secs,
        now_nanos: request.now_secs.saturating_mul(1_000_000_000),
    };
    let mut decision = decide::decide_request(&context, &request.body);
    let mut reports = Vec::new();
    for ((message, verdict), refusal) in decision
        .messages
        .iter()
        .zip(&decision.verdicts)
        .zip(&decision.refusals)
    {
        let mut report = report(grant, message, verdict, refusal.as_ref());
        report.approval = approval_path(config, grant, message, verdict, refusal.as_ref());
        if let (Some(_), Some(target)) = (
            &config.settings.approvals,
            report.listing.and(message.target()),
        ) {
            report.listing = Some(grant.policy.listing_with_approvals(target));
        }
        reports.push(report);
    }
    let (disposition, service) = match decision.disposition {
        Disposition::AwaitService(awaiting) => super::service::simulate(
            &context,
            *awaiting,
            &decision.messages,
            decision.is_batch,
            &mut decision.facts,
            &request.used,
        ),
        other => (other, None),
    };
    let (reply, replacement_body, outcome) = match disposition {
        Disposition::Refuse(refusal) => (Some(refusal.reply), None, refusal.outcome),
        Disposition::Forward(forward) => (None, forward.replacement_body, forward.outcome),
        Disposition::AwaitService(_) => (None, None, Outcome::Allowed),
    };
    Explanation {
        grant: grant.name.clone(),
        source: source_text(&grant.source),
        messages: reports,
        is_batch: decision.is_batch,
        reply,
        outcome,
        rule: decision.facts.rule,
        replacement_body,
        service,
    }
}

/// Spends `request.used` units in the counters the request's allowed
/// messages draw from, as earlier calls would have.
/// A request the headers alone refused (before any message was read).
pub fn refused_at_headers(
    grant: Option<&Grant>,
    refusal: crate::filter::refusal::Refusal,
) -> Explanation {
    Explanation {
        grant: grant.map_or_else(|| "(none)".to_owned(), |grant| grant.name.clone()),
        source: grant.map_or_else(
            || "no grant matches".to_owned(),
            |grant| source_text(&grant.source),
        ),
        messages: Vec::new(),
        is_batch: false,
        reply: Some(refusal.reply),
        outcome: refusal.outcome,
        rule: None,
        replacement_body: None,
        service: None,
    }
}

fn preload(
    config: &Config,
    grant: &Grant,
    head: &RequestHead,
    upstream_session: Option<&str>,
    store: &MemoryStore,
    request: &Request,
) {
    if request.used.is_empty() {
        return;
    }
    let limits = ReadLimits {
        max_depth: config.settings.max_json_depth,
    };
    let Ok(payload) = read_payload(&request.body, &limits) else {
        return;
    };
    let messages = payload.into_messages();
    let (verdicts, _) = decide_all(&grant.policy, &messages, &grant.name, upstream_session);
    let subject = Subject {
        grant: &grant.name,
        rule: &grant.rule,
        member: grant.member,
        head,
        session: upstream_session,
        claims: &NoClaims,
    };
    let mut done: Vec<String> = Vec::new();
    for verdict in &verdicts {
        let Verdict::Allow { limits, .. } = verdict else {
            continue;
        };
        for limit in limits {
            let Some((_, used)) = request.used.iter().find(|(name, _)| *name == limit.counter)
            else {
                continue;
            };
            let spec = CounterSpec {
                key: counter_key(limit, &subject),
                window: limit.window,
                max: limit.max,
            };
            if done.contains(&spec.key) {
                continue;
            }
            let table = table_of(
                limit,
                &spec.key,
                &subject,
                config.settings.counter_slots,
                config.settings.counter_key,
            );
            for _ in 0..(*used).min(limit.max).min(MAX_USED) {
                let _ = reserve_in(store, table, request.now_secs, std::slice::from_ref(&spec));
            }
            done.push(spec.key);
        }
    }
}

fn report(
    grant: &Grant,
    message: &Message,
    verdict: &Verdict<'_>,
    refusal: Option<&MessageRefusal>,
) -> MessageReport {
    let method = message.method().map(str::to_owned);
    let target = message.target().map(str::to_owned);
    let listing = match (&method, &target) {
        (Some(m), Some(t)) if m == "tools/call" => Some(grant.policy.listing(t)),
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
        approval: None,
    };
    match (verdict, refusal) {
        (Verdict::Pass, _) => {}
        (_, Some(refusal)) if refusal.reason != Reason::BatchNotForwarded => {
            report.decision = "deny";
            report.rule = Some(refusal.rule().to_owned());
            report.kind = Some(match &refusal.reason {
                Reason::Policy(denial) => kind_text(denial.kind),
                Reason::Approval { step, .. } => approval_text(step),
                _ => "rate limited",
            });
            report.denial = match &refusal.reason {
                Reason::Policy(denial) => Some(denial.clone()),
                Reason::RateLimited { message, rule, .. } => Some(Denial {
                    kind: DenialKind::Denied,
                    rule: rule.clone(),
                    message: message.clone(),
                }),
                Reason::Approval { rule, message, .. } => Some(Denial {
                    kind: DenialKind::ApprovalRequired,
                    rule: rule.clone(),
                    message: message.clone(),
                }),
                Reason::BatchNotForwarded => None,
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
            _,
        ) => {
            report.decision = "allow";
            report.rule = Some(rule.clone());
            report.would_deny = would_deny.clone();
            report.limits = limit_reports(message, limits);
        }
        (Verdict::Refuse(_), _) => {}
    }
    report
}

fn retry_after(window: Window) -> u64 {
    window.length_secs()
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn limit_reports(message: &Message, limits: &[&Limit]) -> Vec<LimitReport> {
    limits
        .iter()
        .map(|limit| {
            // The limit state is for the audit log only; it is not part of the reply.
            let state = format!("{max}/{max} (simulated)", max = limit.max);
            let refusal =
                MessageRefusal::rate_limited(message, limit, retry_after(limit.window), state);
            let exhausted = replies::refusal_body(&refusal)
                .map(|body| String::from_utf8_lossy(&body).into_owned())
                .unwrap_or_default();
            LimitReport {
                limit: (*limit).clone(),
                exhausted,
            }
        })
        .collect()
}

fn kind_text(kind: DenialKind) -> &'static str {
    match kind {
        DenialKind::Denied => "denied",
        DenialKind::Hidden => "hidden",
        DenialKind::ApprovalRequired => "approval required",
        DenialKind::ConditionError => "condition error (fails closed)",
    }
}

/// Which approval path a call takes, when its tool requires approval.
fn approval_path(
    config: &Config,
    grant: &Grant,
    message: &Message,
    verdict: &Verdict<'_>,
    refusal: Option<&MessageRefusal>,
) -> Option<String> {
    if message.method() != Some("tools/call") {
        return None;
    }
    let rule = grant.policy.approval(message.target()?)?;
    let by = match &rule.by {
        ApprovedBy::Caller => "the caller's user confirms through the client (MCP 2026-07-28 input_required with a form elicitation)".to_owned(),
        ApprovedBy::Approver(names) => format!(
            "an approver ({}) decides on the approval page, {}/approvals",
            names.join(", "),
            config
                .settings
                .approvals
                .as_ref()
                .map_or(crate::config::DEFAULT_PATH_PREFIX, |approvals| approvals.path_prefix.as_str())
        ),
    };
    let held = format!(
        "{by}; an approval holds {} s and lets one call through",
        rule.ttl_seconds
    );
    if config.settings.approvals.is_none() {
        return Some(format!(
            "{held}; approvals are not enabled in this configuration, so the call is denied"
        ));
    }
    let path = match (verdict, refusal.map(|refusal| &refusal.reason)) {
        (_, Some(Reason::Approval { step: ApprovalStep::Ask { .. }, .. })) => {
            "asked: the reply is the question, the call waits for the retry".to_owned()
        }
        (_, Some(Reason::Approval { step: ApprovalStep::Required, message, .. })) => {
            format!("not asked: {message}")
        }
        (_, Some(Reason::Approval { step: ApprovalStep::Pending { .. }, .. })) => {
            "pending: the call waits on the approval page; the identical call, retried, passes once an approver approved it".to_owned()
        }
        (_, Some(Reason::Approval { step: ApprovalStep::Denied | ApprovalStep::Expired, .. })) => {
            "refused: the approval this retry carries does not hold".to_owned()
        }
        (_, Some(Reason::Policy(denial))) if denial.kind != DenialKind::ApprovalRequired => {
            "not asked: another rule refuses the call first".to_owned()
        }
        (_, Some(_)) => "not forwarded".to_owned(),
        (Verdict::Allow { .. }, None) => {
            "approved: the retry carries a valid approval; forwarded without the filter's own fields".to_owned()
        }
        _ => return Some(held),
    };
    Some(format!("{held}; {path}"))
}

fn approval_text(step: &ApprovalStep) -> &'static str {
    match step {
        ApprovalStep::Ask { .. } => "approval asked of the caller's user",
        ApprovalStep::Required => "approval required",
        ApprovalStep::Pending { expired: false, .. } => {
            "approval pending (a named approver decides)"
        }
        ApprovalStep::Pending { expired: true, .. } => "approval expired (asked again)",
        ApprovalStep::Denied => "approval denied",
        ApprovalStep::Expired => "approval expired",
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
    if explanation.messages.is_empty() {
        line("decision:", overall);
        if let Some(reply) = &explanation.reply {
            line("why:", reply.details);
        }
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
    if let Some(service) = &explanation.service {
        out.push_str(&super::service::render_text(service));
    }
    match &explanation.reply {
        None => {
            match &explanation.replacement_body {
                None => out.push_str("reply:    none: the request is forwarded to the server\n"),
                Some(body) => {
                    out.push_str("reply:    on the GET stream; forwarded instead (the 2024-11-05 transport):\n");
                    out.push_str(&String::from_utf8_lossy(body));
                    out.push('\n');
                }
            }
        }
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
    if let Some(approval) = &report.approval {
        push("approval:", approval);
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
        } else if l.counted_by_service() {
            ", counted by the rate-limit service"
        } else {
            ""
        };
        out.push_str(&format!(
            "  - {}: {} per {}, scope {}{dry}, rule {}\n",
            l.counter,
            l.max,
            l.window,
            l.scope.name(),
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
                "approval": m.approval,
                "listing": m.listing.map(|l| match l {
                    Listing::Visible => "visible",
                    Listing::Hidden => "hidden",
                    Listing::NeverAllowed => "never_allowed",
                }),
                "limits": m.limits.iter().map(|l| json!({
                    "counter": l.limit.counter,
                    "window": l.limit.window.to_string(),
                    "max": l.limit.max,
                    "scope": l.limit.scope.name(),
                    "rule": l.limit.rule,
                    "dry_run": l.limit.dry_run,
                    "counted_by": if l.limit.counted_by_service() { "rate_limit_service" } else { "envoy" },
                    "reply_when_spent": body_json_str(&l.exhausted),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "grant": explanation.grant,
        "source": explanation.source,
        "decision": if explanation.denied() { "deny" } else { "allow" },
        "outcome": explanation.outcome.as_str(),
        "rule": explanation.rule,
        "messages": messages,
        "reply": explanation.reply.as_ref().map(|r| json!({
            "status": r.status,
            "headers": reply_headers(r),
            "body": if r.body.is_empty() { Value::Null } else { body_json(&r.body) },
            "body_text": String::from_utf8_lossy(&r.body),
            "details": r.details,
        })),
        "forwarded_body": explanation.replacement_body.as_deref().map(String::from_utf8_lossy),
        "rate_limit_service": explanation.service.as_ref().map(super::service::render_json),
    })
}

fn body_json_str(text: &str) -> Value {
    body_json(text.as_bytes())
}
