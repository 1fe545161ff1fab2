//! Charging the limits of allowed messages against the shared counters: who
//! each limit counts for, all or nothing across every limit of the request,
//! and the refusal each message gets when a limit has no room.

use super::verdict::{rate_limit_message, MessageRefusal, Reason, Verdict};
use crate::counter::{
    reserve_in, reserve_placed, CounterSpec, LimitError, LimitRefusal, Region, Reservation, Table,
};
use crate::filter::request::RequestHead;
use crate::mcp::Message;
use crate::policy::{Limit, Scope};
use crate::store::SharedStore;

const ENFORCED_PREFIX: &str = "mcp-policy/v1/c";
const SHADOW_PREFIX: &str = "mcp-policy/v1/dry";
const SEPARATOR: char = '\u{1f}';

/// Where `claim:<name>` scopes read verified token claims.
pub trait ClaimSource {
    /// The claim's value as text; `None` when the request has none.
    fn claim(&self, name: &str) -> Option<String>;
}

impl ClaimSource for crate::identity::Claims {
    fn claim(&self, name: &str) -> Option<String> {
        let value = self.get(name)?;
        Some(value.strings().join(" "))
    }
}

/// No claims at all (no JWT was verified).
pub struct NoClaims;

impl ClaimSource for NoClaims {
    fn claim(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Who a limit is counted for.
pub struct Subject<'a> {
    pub grant: &'a str,
    /// The configured grant it is (or is a member of).
    pub rule: &'a str,
    /// A member of a grant named from a claim: its grant-scoped counters are
    /// values a client chooses, bounded with the rule's.
    pub member: bool,
    pub head: &'a RequestHead,
    /// The upstream's session id (unsealed), so that every replica counts a
    /// session as one.
    pub session: Option<&'a str>,
    pub claims: &'a dyn ClaimSource,
}

pub fn counter_key(limit: &Limit, subject: &Subject<'_>) -> String {
    let prefix = if limit.dry_run {
        SHADOW_PREFIX
    } else {
        ENFORCED_PREFIX
    };
    let scope = match &limit.scope {
        Scope::Grant => format!("grant:{}", subject.grant),
        Scope::Global => "global".to_string(),
        Scope::Session => match subject.session {
            Some(session) => format!("session:{session}"),
            None => format!("grant:{}", subject.grant),
        },
        Scope::Header(name) => format!(
            "header:{name}{SEPARATOR}{}",
            subject.head.header(name).unwrap_or("")
        ),
        // Requests without the claim share one budget.
        Scope::Claim(name) => match subject.claims.claim(name) {
            Some(value) => format!("claim:{name}{SEPARATOR}={value}"),
            None => format!("claim:{name}{SEPARATOR}(absent)"),
        },
    };
    format!("{prefix}/{}{SEPARATOR}{scope}", limit.counter)
}

/// What charging the request's limits came to.
pub enum Charge {
    /// Every enforced limit counted here had room; the units taken.
    Admitted {
        reservation: Reservation,
        /// The rule of a dry-run limit that would have refused.
        shadow_refusal: Option<String>,
        /// The limits the rate-limit service counts, still to be charged.
        service: Vec<ServiceLimit>,
    },
    /// Refusals by message index; nothing was taken.
    Refused(Vec<(usize, MessageRefusal)>),
    /// The counter store failed; nothing was taken.
    Unavailable(String),
}

/// Where a counter lives. A listed grant's own and the global counters the
/// configuration fixes each have a slot of their own, so nothing can crowd
/// them out; counters per a value the client chooses (a session, a header, a
/// claim, and the own counters of a grant named from a claim) live in the
/// grant rule's part of the table, `slots` slots hashed with the
/// deployment's `secret`, so that a grant can only crowd out itself.
pub fn table_of(
    limit: &Limit,
    key: &str,
    subject: &Subject<'_>,
    slots: u32,
    secret: Option<[u8; 32]>,
) -> Table {
    let region = if limit.dry_run {
        Region::Shadow
    } else {
        Region::Enforced
    };
    match limit.scope {
        Scope::Global => Table::dedicated(region, key),
        Scope::Grant if !subject.member => Table::dedicated(region, key),
        Scope::Grant | Scope::Session | Scope::Header(_) | Scope::Claim(_) => {
            Table::partitioned(region, subject.rule, slots, secret)
        }
    }
}

/// A limit of an allowed message that the rate-limit service counts.
#[derive(Clone, Debug)]
pub struct ServiceLimit {
    /// The message it counts for.
    pub message: usize,
    pub limit: Limit,
    /// Whose budget (`counter_key`): sent only as a keyed hash.
    pub identity: String,
}

/// Charges every limit of every allowed message counted here, all or
/// nothing, and lists those the rate-limit service counts. Dry-run limits
/// count in shadow counters; their refusals are only reported.
pub fn charge_all(
    store: &dyn SharedStore,
    now_secs: u64,
    (slots, secret): (u32, Option<[u8; 32]>),
    subject: &Subject<'_>,
    messages: &[Message],
    verdicts: &[Verdict<'_>],
) -> Charge {
    let mut enforced = Vec::new();
    // (message index, limit) for each enforced spec.
    let mut owners: Vec<(usize, &Limit)> = Vec::new();
    let mut shadow_refusal = None;
    let mut service = Vec::new();
    for (index, verdict) in verdicts.iter().enumerate() {
        let Verdict::Allow { limits, .. } = verdict else {
            continue;
        };
        for limit in limits {
            if limit.counted_by_service() {
                service.push(ServiceLimit {
                    message: index,
                    limit: (*limit).clone(),
                    identity: counter_key(limit, subject),
                });
                continue;
            }
            let spec = CounterSpec {
                key: counter_key(limit, subject),
                window: limit.window,
                max: limit.max,
            };
            let table = table_of(limit, &spec.key, subject, slots, secret);
            if limit.dry_run {
                let refused = matches!(
                    reserve_in(store, table, now_secs, std::slice::from_ref(&spec)),
                    Err(LimitError::Exhausted(_))
                );
                if refused {
                    log::info!(
                        "dry run: limit {} would refuse a call for grant {}",
                        limit.rule,
                        subject.grant
                    );
                    shadow_refusal.get_or_insert_with(|| limit.rule.clone());
                }
            } else {
                enforced.push((table, spec));
                owners.push((index, *limit));
            }
        }
    }
    let placed: Vec<(Table, &CounterSpec)> = enforced
        .iter()
        .map(|(table, spec)| (*table, spec))
        .collect();
    match reserve_placed(store, now_secs, &placed) {
        Ok(reservation) => Charge::Admitted {
            reservation,
            shadow_refusal,
            service,
        },
        Err(LimitError::StoreUnavailable(detail)) => Charge::Unavailable(detail),
        Err(LimitError::Exhausted(refused)) => {
            Charge::Refused(refusals_by_message(messages, &owners, &refused, now_secs))
        }
    }
}

/// One refusal per message; where several of its limits refused, the one
/// that resets last is reported.
pub(super) fn refusals_by_message(
    messages: &[Message],
    owners: &[(usize, &Limit)],
    refused: &[LimitRefusal],
    now_secs: u64,
) -> Vec<(usize, MessageRefusal)> {
    let mut by_message: Vec<(usize, MessageRefusal)> = Vec::new();
    for limit_refusal in refused {
        let Some(&(message_index, limit)) = owners.get(limit_refusal.index) else {
            continue;
        };
        let Some(message) = messages.get(message_index) else {
            continue;
        };
        let state = limit_state(limit, limit_refusal, now_secs);
        match by_message
            .iter_mut()
            .find(|(index, _)| *index == message_index)
        {
            Some((_, existing)) => {
                if let Reason::RateLimited {
                    retry_after_secs,
                    message,
                    rule,
                    limit_state,
                } = &mut existing.reason
                {
                    if limit_refusal.retry_after_secs > *retry_after_secs {
                        *retry_after_secs = limit_refusal.retry_after_secs;
                        *message = rate_limit_message(limit);
                        *rule = limit.rule.clone();
                        *limit_state = state;
                    }
                }
            }
            None => by_message.push((
                message_index,
                MessageRefusal::rate_limited(message, limit, limit_refusal.retry_after_secs, state),
            )),
        }
    }
    by_message
}

/// `count/max resets_at=<unix seconds>`, for the audit log.
fn limit_state(limit: &Limit, refusal: &LimitRefusal, now_secs: u64) -> String {
    format!(
        "{}/{} resets_at={}",
        refusal.count,
        limit.max,
        now_secs.saturating_add(refusal.retry_after_secs)
    )
}
