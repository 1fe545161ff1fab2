//! The limits the rate-limit service counts (`"counted_by":
//! "rate_limit_service"`): the charge a decision awaits, and the decision
//! once the service answered or could not. Host-free, as the rest of
//! `decide`: the filter dispatches `Awaiting::request` and hands the answer
//! to `settle`; `mcp-policy explain` shows the request and settles it with
//! a simulated answer.
//!
//! Local limits were charged first, all or nothing; the service charges
//! every descriptor of the call even when one refuses, so a refused call
//! may have used units of its other service limits (given back at once
//! when the service takes refunds).

use super::charge::{refusals_by_message, ServiceLimit};
use super::verdict::MessageRefusal;
use super::{
    claim_approval, note_refusals, refuse, ApprovalClaim, Context, Disposition, Facts, Forward,
    Unused,
};
use crate::config::rate_limit_service::{FailureMode, RateLimitService};
use crate::counter::{release, LimitRefusal};
use crate::filter::refusal::Refusal;
use crate::host::HostError;
use crate::mcp::Message;
use crate::policy::Limit;
use crate::rate_limit_service::{
    charge_request, encode, keyed_value, refund_request, Answer, CallFailure, Counter, Unit,
};

/// The counters one request draws from at the service, each once (a batch
/// that calls a counter twice takes two hits of it).
#[derive(Debug)]
pub struct ServiceCharge {
    pub counters: Vec<Counter>,
    /// Per counter: the (message index, limit) it counts for.
    owners: Vec<Vec<(usize, Limit)>>,
    /// Per counter: whose budget, unhashed (never sent).
    identities: Vec<String>,
}

impl ServiceCharge {
    /// A failure when the configuration cannot count them (no service, no
    /// counter key, a window no unit expresses): the load-time checks make
    /// that impossible in the filter, but a bare policy given to explain
    /// has no service.
    pub fn prepare(ctx: &Context<'_>, limits: Vec<ServiceLimit>) -> Result<ServiceCharge, Refusal> {
        let settings = &ctx.config.settings;
        let unusable = |detail: &str| {
            Refusal::failure(
                None,
                &HostError::new("rate-limit service", detail.to_owned()),
            )
        };
        if settings.rate_limit_service.is_none() {
            return Err(unusable(
                "a limit is counted by the rate-limit service, and none is configured",
            ));
        }
        let Some(secret) = settings.counter_key else {
            return Err(unusable(
                "a limit is counted by the rate-limit service, and there is no counter_key",
            ));
        };
        let mut charge = ServiceCharge {
            counters: Vec::new(),
            owners: Vec::new(),
            identities: Vec::new(),
        };
        for ServiceLimit {
            message,
            limit,
            identity,
        } in limits
        {
            if let Some(at) = charge
                .identities
                .iter()
                .position(|known| *known == identity)
            {
                if let (Some(counter), Some(owners)) =
                    (charge.counters.get_mut(at), charge.owners.get_mut(at))
                {
                    counter.hits = counter.hits.saturating_add(1);
                    owners.push((message, limit));
                }
                continue;
            }
            let (Some(unit), Ok(max)) = (Unit::of(limit.window), u32::try_from(limit.max)) else {
                return Err(unusable(
                    "a limit the rate-limit service counts has a window or max it cannot express",
                ));
            };
            charge.counters.push(Counter {
                name: limit.counter.clone(),
                scope: limit.scope.name(),
                value: keyed_value(&secret, &identity),
                max,
                unit,
                hits: 1,
            });
            charge.owners.push(vec![(message, limit)]);
            charge.identities.push(identity);
        }
        Ok(charge)
    }
}

/// A decision waiting for the rate-limit service.
#[derive(Debug)]
pub struct Awaiting {
    /// What is forwarded once the service admits the call.
    pub forward: Forward,
    pub charge: ServiceCharge,
    /// The approval the call uses, once admitted.
    approval: Option<ApprovalClaim>,
}

impl Awaiting {
    pub(super) fn new(
        forward: Forward,
        charge: ServiceCharge,
        approval: Option<ApprovalClaim>,
    ) -> Awaiting {
        Awaiting {
            forward,
            charge,
            approval,
        }
    }

    /// The `ShouldRateLimit` request to send, serialized.
    pub fn request(&self, service: &RateLimitService) -> Vec<u8> {
        encode(&charge_request(&service.domain, &self.charge.counters))
    }
}

/// The refund of `counters`, serialized.
pub fn refund(service: &RateLimitService, counters: &[Counter]) -> Vec<u8> {
    encode(&refund_request(&service.domain, counters))
}

/// The decision once the service answered.
#[derive(Debug)]
pub struct Settled {
    pub disposition: Disposition,
    /// Units to give back at once (only where the service takes refunds).
    pub refund: Vec<Counter>,
    /// Admitted without the service's count (`"failure_mode": "allow"`).
    pub failed_open: bool,
}

/// Finishes the decision with the service's answer, or its failure.
pub fn settle(
    ctx: &Context<'_>,
    awaiting: Awaiting,
    messages: &[Message],
    is_batch: bool,
    facts: &mut Facts,
    answer: Result<Answer, CallFailure>,
) -> Settled {
    let Some(service) = ctx.config.settings.rate_limit_service.as_ref() else {
        let failure = Refusal::failure(
            None,
            &HostError::new("rate-limit service", "none is configured"),
        );
        return refused(
            ctx,
            awaiting.forward,
            Disposition::Refuse(failure),
            Vec::new(),
        );
    };
    let Awaiting {
        mut forward,
        charge,
        approval,
    } = awaiting;
    let refundable = |counters: Vec<Counter>| {
        if service.refunds {
            counters
        } else {
            Vec::new()
        }
    };
    match answer {
        Ok(Answer::Ok) => {
            if let Some(claim) = &approval {
                if let Err(unused) = claim_approval(ctx, claim, messages) {
                    let disposition = match *unused {
                        Unused::Refused(refusal) => {
                            let mut refusals: Vec<Option<MessageRefusal>> =
                                vec![None; messages.len()];
                            if let Some(slot) = refusals.first_mut() {
                                *slot = Some(refusal);
                            }
                            note_refusals(facts, &refusals);
                            refuse(ctx, messages, &refusals, is_batch)
                        }
                        Unused::Failed(failure) => Disposition::Refuse(failure),
                    };
                    return refused(ctx, forward, disposition, refundable(charge.counters));
                }
            }
            forward.service_units = refundable(charge.counters);
            Settled {
                disposition: Disposition::Forward(forward),
                refund: Vec::new(),
                failed_open: false,
            }
        }
        Ok(Answer::OverLimit(statuses)) => {
            let mut owners: Vec<(usize, &Limit)> = Vec::new();
            let mut over = Vec::new();
            let mut unspent = Vec::new();
            for (index, (counter, counted_for)) in
                charge.counters.iter().zip(&charge.owners).enumerate()
            {
                let status = statuses.as_ref().and_then(|statuses| statuses.get(index));
                if status.is_some_and(|status| !status.over) {
                    unspent.push(counter.clone());
                    continue;
                }
                for (message, limit) in counted_for {
                    over.push(LimitRefusal {
                        index: owners.len(),
                        count: u64::from(counter.max)
                            .saturating_sub(status.map_or(0, |status| u64::from(status.remaining))),
                        retry_after_secs: status
                            .and_then(|status| status.reset_after)
                            .unwrap_or_else(|| limit.window.retry_after(ctx.now_secs)),
                        no_slot: false,
                    });
                    owners.push((*message, limit));
                }
            }
            let mut refusals: Vec<Option<MessageRefusal>> = vec![None; messages.len()];
            for (index, refusal) in refusals_by_message(messages, &owners, &over, ctx.now_secs) {
                if let Some(slot) = refusals.get_mut(index) {
                    *slot = Some(refusal);
                }
            }
            note_refusals(facts, &refusals);
            let disposition = refuse(ctx, messages, &refusals, is_batch);
            refused(ctx, forward, disposition, refundable(unspent))
        }
        Err(failure) if service.failure_mode == FailureMode::Allow => {
            log::warn!("the rate-limit service failed ({failure}); admitting the call uncounted by it (failure_mode allow)");
            Settled {
                disposition: Disposition::Forward(forward),
                refund: Vec::new(),
                failed_open: true,
            }
        }
        Err(failure) => {
            let id = (!is_batch)
                .then(|| messages.first().and_then(|message| message.id.as_ref()))
                .flatten();
            let refusal = Refusal::rate_limit_unavailable(id, &failure);
            refused(ctx, forward, Disposition::Refuse(refusal), Vec::new())
        }
    }
}

/// A refusal after local limits were charged: their units go back.
fn refused(
    ctx: &Context<'_>,
    forward: Forward,
    disposition: Disposition,
    refund: Vec<Counter>,
) -> Settled {
    if let Some(reservation) = &forward.reservation {
        release(ctx.store, reservation);
    }
    Settled {
        disposition,
        refund,
        failed_open: false,
    }
}
