//! Step 2, the decision: what happens to a request whose headers were
//! admitted. Host-free: it reads the shared store and a clock value it is
//! given, so that `mcp-policy explain` runs exactly this code.
//!
//! For a body: read the JSON-RPC payload strictly, run the body's checks
//! (`checks`), ask the policy about every message (`verdict`), charge the
//! limits of an allowed request all or nothing (`charge`), and either forward
//! it or refuse it with its exact reply (`replies`). The 2024-11-05
//! transport's refusals are stored for the GET stream and replaced by pings.

pub mod approval;
pub mod approver;
pub mod charge;
pub mod checks;
pub mod replies;
pub mod service;
pub mod verdict;

use approval::Gate;
use charge::{charge_all, Charge, ClaimSource, Subject};
use service::{Awaiting, ServiceCharge};
use verdict::{decide_all, ApprovalStep, MessageRefusal, Reason, Verdict};

use super::legacy;
pub use super::observe::Facts;
use super::refusal::{empty_reply, Outcome, Refusal, ReplyKind};
use super::request::admission;
use super::request::session::{Carrier, Session};
use super::request::RequestHead;
use super::response::Expected;
use crate::approval::rounds::Rounds;
use crate::approval::{nonce, pending};
use crate::config::{Config, Grant};
use crate::counter::Reservation;
use crate::host::HostError;
use crate::mcp::{read_payload, Message, Payload, ReadLimits, RequestId, PARSE_ERROR};
use crate::rate_limit_service::Counter;
use crate::store::{Claim, PutOutcome, SharedStore};

/// Everything a decision depends on.
pub struct Context<'a> {
    pub config: &'a Config,
    pub head: &'a RequestHead,
    pub grant: &'a Grant,
    /// The session the request presented, opened (see `request::session`).
    pub session: Option<&'a Session>,
    pub store: &'a dyn SharedStore,
    pub claims: &'a dyn ClaimSource,
    /// The request's clock, read once.
    pub now_secs: u64,
    /// The same reading in nanoseconds (it makes approval nonces unique).
    pub now_nanos: u64,
}

/// A request the filter forwards.
#[derive(Debug)]
pub struct Forward {
    pub outcome: Outcome,
    /// Quota taken, until the response shows whether the call ran.
    pub reservation: Option<Reservation>,
    /// Compare-and-swap retries the charge took (contention between workers).
    pub cas_retries: u32,
    /// The id of a single forwarded request, whose reply may be watched.
    pub call_id: Option<RequestId>,
    /// A call whose reply may create a task (bound to the grant).
    pub may_create_task: bool,
    /// `tools/list` requests whose results are filtered.
    pub tools_list_ids: Vec<RequestId>,
    /// One of them speaks a version with mirrored headers: the result's
    /// `Mcp-Param-*` maps are learned.
    pub tools_list_learns: bool,
    /// A GET: an event stream the grant listens on.
    pub event_stream: bool,
    /// The body to forward instead (the legacy transport's pings, an
    /// approved call without the filter's own fields).
    pub replacement_body: Option<Vec<u8>>,
    /// An approved call: its upstream's own rounds are carried sealed.
    pub approved: Option<Box<Rounds>>,
    /// The requests whose replies the response must carry.
    pub expected: Expected,
    /// Units the rate-limit service took, to give back if the call does not
    /// run (empty unless the service takes refunds).
    pub service_units: Vec<Counter>,
}

impl Forward {
    fn new(outcome: Outcome) -> Forward {
        Forward {
            outcome,
            reservation: None,
            cas_retries: 0,
            call_id: None,
            may_create_task: false,
            tools_list_ids: Vec::new(),
            tools_list_learns: false,
            event_stream: false,
            replacement_body: None,
            approved: None,
            expected: Expected::default(),
            service_units: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub enum Disposition {
    Forward(Forward),
    Refuse(Refusal),
    /// Allowed so far: the rate-limit service must still charge its limits
    /// (`service::settle` finishes the decision with its answer).
    AwaitService(Box<Awaiting>),
}

/// The decision on one request.
pub struct Decision<'a> {
    pub facts: Facts,
    pub disposition: Disposition,
    /// The messages read, with each one's verdict and refusal (for explain).
    pub messages: Vec<Message>,
    pub verdicts: Vec<Verdict<'a>>,
    pub refusals: Vec<Option<MessageRefusal>>,
    pub is_batch: bool,
}

impl<'a> Decision<'a> {
    fn refused(facts: Facts, refusal: Refusal) -> Decision<'a> {
        Decision::new(facts, Disposition::Refuse(refusal))
    }

    /// Refused by a failure once the messages were decided.
    fn failed(
        facts: Facts,
        refusal: Refusal,
        messages: Vec<Message>,
        verdicts: Vec<Verdict<'a>>,
        refusals: Vec<Option<MessageRefusal>>,
        is_batch: bool,
    ) -> Decision<'a> {
        Decision {
            messages,
            verdicts,
            refusals,
            is_batch,
            ..Decision::refused(facts, refusal)
        }
    }

    fn new(facts: Facts, disposition: Disposition) -> Decision<'a> {
        Decision {
            facts,
            disposition,
            messages: Vec::new(),
            verdicts: Vec::new(),
            refusals: Vec::new(),
            is_batch: false,
        }
    }
}

/// A request with a body, from its headers on: `mcp-policy explain`'s path
/// (its caller opens the session, as the filter does at the headers). The
/// filter runs the same two halves at their own times (the header checks
/// before it reads the body).
pub fn decide_request<'a>(ctx: &Context<'a>, body: &[u8]) -> Decision<'a> {
    let settings = &ctx.config.settings;
    if let Some(refusal) = admission::check_body_headers(ctx.head, settings) {
        return Decision::refused(Facts::default(), refusal);
    }
    if body.len() > settings.max_body_bytes {
        return Decision::refused(Facts::default(), admission::body_too_large(settings));
    }
    decide_body(ctx, body)
}

/// A request without a body (GET, DELETE, ...).
pub fn decide_bodyless<'a>(ctx: &Context<'a>) -> Decision<'a> {
    let facts = Facts {
        method: Some(ctx.head.method().to_string()),
        ..Facts::default()
    };
    if let Some(requested) = ctx
        .head
        .protocol_version()
        .filter(|version| !crate::mcp::versions::is_known(version))
    {
        return Decision::refused(facts, checks::unsupported_header(None, requested));
    }
    if ctx.head.expects_body() {
        let refusal = Refusal::protocol(
            Outcome::InvalidRequest,
            ReplyKind::InvalidJson,
            400,
            None,
            PARSE_ERROR,
            "Parse error: the request has no body; a JSON-RPC message is required",
        );
        return Decision::refused(facts, refusal);
    }
    let mut forward = Forward::new(Outcome::Allowed);
    forward.event_stream = ctx.head.method() == "GET";
    Decision::new(facts, Disposition::Forward(forward))
}

/// A complete request body.
pub fn decide_body<'a>(ctx: &Context<'a>, body: &[u8]) -> Decision<'a> {
    let limits = ReadLimits {
        max_depth: ctx.config.settings.max_json_depth,
    };
    let payload = match read_payload(body, &limits) {
        Ok(payload) => payload,
        Err(error) => {
            let kind = if error.code == PARSE_ERROR {
                ReplyKind::InvalidJson
            } else {
                ReplyKind::InvalidRequest
            };
            let refusal = Refusal::protocol(
                Outcome::InvalidRequest,
                kind,
                400,
                error.id.as_ref(),
                error.code,
                &error.message,
            );
            return Decision::refused(Facts::default(), refusal);
        }
    };
    let (messages, is_batch) = match payload {
        Payload::Single(message) => (vec![message], false),
        Payload::Batch(messages) => (messages, true),
    };
    let facts = facts_of(&messages, is_batch);
    let early = checks::check_protocol_version(ctx, &messages).or_else(|| {
        if is_batch {
            checks::check_batch_version(ctx)
        } else {
            None
        }
    });
    let early = early
        .or_else(|| checks::check_tasks(ctx, &messages))
        .or_else(|| checks::check_mirrored_headers(ctx, &messages));
    if let Some(refusal) = early {
        return Decision {
            is_batch,
            messages,
            ..Decision::refused(facts, refusal)
        };
    }
    decide_messages(ctx, facts, body, messages, is_batch)
}

fn decide_messages<'a>(
    ctx: &Context<'a>,
    mut facts: Facts,
    body: &[u8],
    messages: Vec<Message>,
    is_batch: bool,
) -> Decision<'a> {
    let grant = ctx.grant;
    let (mut verdicts, mut refusals) = decide_all(
        &grant.policy,
        &messages,
        &grant.name,
        ctx.session.map(|s| s.upstream.as_str()),
    );
    let mut approved = None;
    if let (false, Some(message), Some(Some(refusal))) =
        (is_batch, messages.first(), refusals.first())
    {
        match approval::gate(ctx, message, body, refusal) {
            Gate::Unchanged => {}
            Gate::Refused(refusal) => {
                verdicts = vec![Verdict::Refuse(refusal.clone())];
                refusals = vec![Some(refusal)];
            }
            Gate::Approved(call) => {
                let call = *call;
                verdicts = vec![call.verdict];
                refusals = vec![None];
                facts.approver.clone_from(&call.approver);
                approved = Some(ApprovedForward {
                    claim: ApprovalClaim {
                        rule: call.rule,
                        nonce: call.nonce,
                        expires_at: call.expires_at,
                        used: call.used,
                    },
                    body: call.body,
                    rounds: call.rounds,
                });
            }
            Gate::Failed(failure) => {
                return Decision::failed(facts, failure, messages, verdicts, refusals, is_batch);
            }
        }
    }
    let mut reservation = None;
    let mut cas_retries = 0;
    let mut shadow_refusal = None;
    let mut service_charge = None;
    if refusals.iter().all(Option::is_none) {
        let subject = Subject {
            grant: &grant.name,
            rule: &grant.rule,
            member: grant.member,
            head: ctx.head,
            session: ctx.session.map(|s| s.upstream.as_str()),
            claims: ctx.claims,
        };
        match charge_all(
            ctx.store,
            ctx.now_secs,
            (
                ctx.config.settings.counter_slots,
                ctx.config.settings.counter_key,
            ),
            &subject,
            &messages,
            &verdicts,
        ) {
            Charge::Admitted {
                reservation: taken,
                shadow_refusal: shadow,
                service,
            } => {
                cas_retries = taken.retries;
                reservation = (!taken.taken.is_empty()).then_some(taken);
                shadow_refusal = shadow;
                if !service.is_empty() {
                    match ServiceCharge::prepare(ctx, service) {
                        Ok(charge) => service_charge = Some(charge),
                        Err(failure) => {
                            if let Some(reservation) = reservation.take() {
                                crate::counter::release(ctx.store, &reservation);
                            }
                            return Decision {
                                is_batch,
                                messages,
                                verdicts,
                                refusals,
                                ..Decision::refused(facts, failure)
                            };
                        }
                    }
                }
                // With the service still to answer, the approval is used once it has.
                if let (Some(call), None) = (&approved, &service_charge) {
                    let used = claim_approval(ctx, &call.claim, &messages);
                    if let Err(unused) = used {
                        if let Some(reservation) = reservation.take() {
                            crate::counter::release(ctx.store, &reservation);
                        }
                        match *unused {
                            Unused::Refused(refusal) => {
                                verdicts = vec![Verdict::Refuse(refusal.clone())];
                                refusals = vec![Some(refusal)];
                            }
                            Unused::Failed(failure) => {
                                return Decision::failed(
                                    facts, failure, messages, verdicts, refusals, is_batch,
                                );
                            }
                        }
                    }
                }
            }
            Charge::Refused(limit_refusals) => {
                for (index, refusal) in limit_refusals {
                    if let Some(slot) = refusals.get_mut(index) {
                        *slot = Some(refusal);
                    }
                }
            }
            Charge::Unavailable(detail) => {
                let id = (!is_batch)
                    .then(|| messages.first().and_then(|m| m.id.as_ref()))
                    .flatten();
                let refusal = Refusal::failure(id, &HostError::new("rate-limit counters", detail));
                return Decision::failed(facts, refusal, messages, verdicts, refusals, is_batch);
            }
        }
    }
    let would_deny = log_allowed(grant, &messages, &verdicts, &mut facts);

    let disposition = if refusals.iter().all(Option::is_none) {
        let outcome = match would_deny.or(shadow_refusal) {
            Some(rule) => {
                facts.rule = Some(rule);
                Outcome::DryRunWouldDeny
            }
            None if approved.is_some() => Outcome::Approved,
            None => Outcome::Allowed,
        };
        let mut forward = Forward::new(outcome);
        let mut approval_claim = None;
        if let Some(call) = approved {
            forward.replacement_body = Some(call.body);
            forward.approved = Some(Box::new(call.rounds));
            approval_claim = Some(call.claim);
        }
        forward.expected = Expected {
            ids: messages
                .iter()
                .filter(|message| message.is_request())
                .filter_map(|message| message.id.clone())
                .collect(),
            is_batch,
        };
        forward.reservation = reservation;
        forward.cas_retries = cas_retries;
        let lists = messages
            .iter()
            .filter(|message| message.method() == Some("tools/list"));
        forward.tools_list_ids = lists.clone().filter_map(|m| m.id.clone()).collect();
        forward.tools_list_learns = lists
            .clone()
            .any(|message| crate::mcp::uses_mirrored_headers(ctx.head.protocol_version(), message));
        if !is_batch {
            forward.call_id = messages.first().and_then(|m| m.id.clone());
            forward.may_create_task = messages.first().is_some_and(|message| {
                message.method() == Some("tools/call")
                    && (message.params().is_some_and(|p| p.get("task").is_some())
                        || crate::mcp::uses_mirrored_headers(ctx.head.protocol_version(), message))
            });
        }
        match service_charge {
            Some(charge) => {
                Disposition::AwaitService(Box::new(Awaiting::new(forward, charge, approval_claim)))
            }
            None => Disposition::Forward(forward),
        }
    } else {
        note_refusals(&mut facts, &refusals);
        refuse(ctx, &messages, &refusals, is_batch)
    };
    Decision {
        facts,
        disposition,
        messages,
        verdicts,
        refusals,
        is_batch,
    }
}

/// An approved call on its way to the upstream.
struct ApprovedForward {
    claim: ApprovalClaim,
    body: Vec<u8>,
    rounds: Rounds,
}

/// The approval an approved call uses up.
#[derive(Debug)]
struct ApprovalClaim {
    /// The rule that required approval.
    rule: String,
    /// The pending approval to mark used (its grant and key).
    used: Option<(String, String)>,
    nonce: String,
    expires_at: u64,
}

/// Why an approval could not be used.
enum Unused {
    Refused(MessageRefusal),
    Failed(Refusal),
}

/// Uses the approval up: its nonce is claimed for the grant until the
/// approval expires. A refusal when it was used already (or the grant has
/// too many in use); a failure when the store cannot tell.
fn claim_approval(
    ctx: &Context<'_>,
    call: &ApprovalClaim,
    messages: &[Message],
) -> Result<(), Box<Unused>> {
    let refused = |text: &str| {
        let Some(message) = messages.first() else {
            return Box::new(Unused::Failed(Refusal::failure(
                None,
                &HostError::new("approval", "no message"),
            )));
        };
        Box::new(Unused::Refused(MessageRefusal::of(
            message,
            Reason::Approval {
                step: ApprovalStep::Denied,
                rule: call.rule.clone(),
                message: text.to_owned(),
                approver: None,
            },
        )))
    };
    match nonce::claim(
        ctx.store,
        &ctx.grant.name,
        &call.nonce,
        ctx.now_secs,
        call.expires_at,
    ) {
        Ok(Claim::Claimed) => {
            if let Some((scope, key)) = &call.used {
                let used = pending::update(ctx.store, scope, key, ctx.now_secs, |entry| {
                    entry.status = pending::Status::Used;
                    true
                });
                if let Err(error) = used {
                    log::warn!("approval used, but not marked used ({error}): a retry is refused as already used");
                }
            }
            Ok(())
        }
        Ok(Claim::Taken) => Err(refused(approval::USED)),
        Ok(Claim::Full) => Err(refused(approval::FULL)),
        Err(error) => {
            let id = messages.first().and_then(|message| message.id.as_ref());
            Err(Box::new(Unused::Failed(Refusal::failure(
                id,
                &HostError::new("approval nonces", error.to_string()),
            ))))
        }
    }
}

/// Logs the allowed messages; notes the rule of the first; returns the rule
/// of the first dry-run denial.
fn log_allowed(
    grant: &Grant,
    messages: &[Message],
    verdicts: &[Verdict<'_>],
    facts: &mut Facts,
) -> Option<String> {
    let mut would_deny_rule = None;
    for (message, verdict) in messages.iter().zip(verdicts) {
        let Verdict::Allow {
            rule, would_deny, ..
        } = verdict
        else {
            continue;
        };
        if facts.rule.is_none() {
            facts.rule = Some(rule.clone());
        }
        let method = message.method().unwrap_or("");
        let target = message.target().unwrap_or("");
        match would_deny {
            Some(denial) => {
                log::info!(
                    "dry run: would deny {method} {target} for grant {}: rule {}",
                    grant.name,
                    denial.rule
                );
                would_deny_rule.get_or_insert_with(|| denial.rule.clone());
            }
            None => log::debug!(
                "allowed {method} {target} for grant {}: rule {rule}",
                grant.name
            ),
        }
    }
    would_deny_rule
}

/// The refusal of a request with at least one refused message.
fn refuse(
    ctx: &Context<'_>,
    messages: &[Message],
    refusals: &[Option<MessageRefusal>],
    is_batch: bool,
) -> Disposition {
    let all: Vec<MessageRefusal> = messages
        .iter()
        .zip(refusals)
        .map(|(message, refusal)| {
            refusal
                .clone()
                .unwrap_or_else(|| MessageRefusal::of(message, Reason::BatchNotForwarded))
        })
        .collect();
    for refusal in all.iter().filter(|r| r.reason != Reason::BatchNotForwarded) {
        log::info!(
            "refused {} {} for grant {}: rule {}",
            refusal.method,
            refusal.target.as_deref().unwrap_or(""),
            ctx.grant.name,
            refusal.rule()
        );
    }
    if let Some(session) = ctx.session.filter(|s| s.carrier == Carrier::Query) {
        return legacy_refusal(ctx, &session.upstream, &all);
    }
    let refusal = if is_batch {
        replies::batch(&all)
    } else {
        match all.iter().find(|r| r.reason != Reason::BatchNotForwarded) {
            Some(refusal) => replies::single(refusal),
            None => Refusal::failure(None, &HostError::new("decide", "no refusal to send")),
        }
    };
    Disposition::Refuse(refusal)
}

/// Legacy transport: the refusals wait for the GET stream, and pings with
/// their ids are forwarded in place of the refused messages.
fn legacy_refusal(ctx: &Context<'_>, session: &str, all: &[MessageRefusal]) -> Disposition {
    let outcome = replies::outcome_of(all.iter().filter(|r| r.reason != Reason::BatchNotForwarded));
    let mut ids = Vec::new();
    for refusal in all {
        let (Some(id), Some(body)) = (refusal.id.clone(), replies::refusal_body(refusal)) else {
            continue;
        };
        let stored = legacy::remember(
            ctx.store,
            &ctx.grant.name,
            session,
            &id,
            &body,
            ctx.now_secs,
        );
        match stored {
            Ok(PutOutcome::Stored) => ids.push(id),
            Ok(PutOutcome::Full) => {
                let error = HostError::new("legacy refusals", "table full");
                return Disposition::Refuse(Refusal::failure(Some(&id), &error));
            }
            Err(error) => {
                let error = HostError::new("legacy refusals", error.to_string());
                return Disposition::Refuse(Refusal::failure(Some(&id), &error));
            }
        }
    }
    if ids.is_empty() {
        return Disposition::Refuse(Refusal::new(outcome, empty_reply(202, ReplyKind::Accepted)));
    }
    let mut forward = Forward::new(outcome);
    forward.replacement_body = Some(legacy::pings(&ids));
    Disposition::Forward(forward)
}

/// Audit facts of the messages: the first stands for a batch.
fn facts_of(messages: &[Message], is_batch: bool) -> Facts {
    let Some(first) = messages.first() else {
        return Facts::default();
    };
    Facts {
        method: first.method().map(|method| {
            if is_batch {
                format!("batch[{}]:{method}", messages.len())
            } else {
                method.to_string()
            }
        }),
        target: first.target().map(str::to_string),
        tool: (!is_batch)
            .then_some(first)
            .and_then(Message::method)
            .filter(|method| *method == "tools/call")
            .and(first.target())
            .map(str::to_string),
        rule: None,
        limit: None,
        arg_keys: first
            .arguments()
            .and_then(serde_json::Value::as_object)
            .map(|arguments| arguments.keys().cloned().collect())
            .unwrap_or_default(),
        approver: None,
    }
}

/// Audit facts of a refusal: its rule, target and limit state.
fn note_refusals(facts: &mut Facts, refusals: &[Option<MessageRefusal>]) {
    let mut refused = refusals
        .iter()
        .flatten()
        .filter(|refusal| refusal.reason != Reason::BatchNotForwarded);
    let Some(first) = refused.next() else {
        return;
    };
    facts.rule = Some(first.rule().to_string());
    if let Reason::Approval {
        approver: Some(approver),
        ..
    } = &first.reason
    {
        facts.approver = Some(approver.clone());
    }
    if let Some(target) = &first.target {
        facts.target = Some(target.clone());
    }
    facts.limit = std::iter::once(first)
        .chain(refused)
        .find_map(|refusal| match &refusal.reason {
            Reason::RateLimited { limit_state, .. } => Some(limit_state.clone()),
            _ => None,
        });
}
