//! Charging the limits of allowed messages: resolving scopes (claims
//! included) and mapping counter refusals back to messages.

use super::limits::{self, charge, Charge, Subject};
use super::observe;
use super::verdict::{rate_limit_message, Reason, Refusal, Verdict};
use super::HttpFilter;
use crate::counter::Reservation;
use crate::host::Host;
use crate::mcp::Message;

impl HttpFilter {
    /// The JWT claims that `claim:<name>` scopes need, from the metadata
    /// Envoy's jwt_authn filter wrote for this request.
    pub(super) fn claims(
        &self,
        host: &dyn Host,
        limits: &[&crate::policy::Limit],
    ) -> Vec<(String, Option<String>)> {
        let mut claims: Vec<(String, Option<String>)> = Vec::new();
        for limit in limits {
            let crate::policy::Scope::Claim(name) = &limit.scope else {
                continue;
            };
            if claims.iter().any(|(known, _)| known == name) {
                continue;
            }
            let path = [
                "metadata",
                "filter_metadata",
                "envoy.filters.http.jwt_authn",
                self.config.settings.jwt_payload_metadata_key.as_str(),
                name.as_str(),
            ];
            let value = match host.property(&path) {
                Ok(value) => value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
                Err(error) => {
                    log::warn!("cannot read claim {name}: {error}");
                    None
                }
            };
            claims.push((name.clone(), value));
        }
        claims
    }

    /// Charges every limit of every allowed message, all or nothing. On
    /// refusal, returns the refusal for each message index that had one.
    pub(super) fn charge_limits(
        &mut self,
        host: &dyn Host,
        grant: &str,
        messages: &[Message],
        verdicts: &[Verdict<'_>],
    ) -> Result<Reservation, Vec<(usize, Refusal)>> {
        let mut all_limits = Vec::new();
        let mut owner = Vec::new();
        for (index, verdict) in verdicts.iter().enumerate() {
            if let Verdict::Allow { limits, .. } = verdict {
                for limit in limits {
                    all_limits.push(*limit);
                    owner.push(index);
                }
            }
        }
        if all_limits.is_empty() {
            return Ok(Reservation::default());
        }
        let now_secs = match self.request_now_secs(host) {
            Ok(now_secs) => now_secs,
            Err(error) => {
                return Err(unavailable_for_all(messages, verdicts, &error.to_string()));
            }
        };
        let claims = self.claims(host, &all_limits);
        let subject = Subject {
            grant,
            head: &self.head,
            claims,
        };
        let (charge, shadow_refused) = charge(
            host,
            now_secs,
            self.config.settings.counter_slots,
            &all_limits,
            &subject,
        );
        for index in shadow_refused {
            if let Some(limit) = all_limits.get(index) {
                log::info!(
                    "dry run: limit {} would refuse a call for grant {grant}",
                    limit.rule
                );
                self.shadow_refusal
                    .get_or_insert_with(|| limit.rule.clone());
            }
        }
        match charge {
            Charge::Admitted(reservation) => {
                observe::count(
                    host,
                    observe::COUNTER_CAS_RETRIES,
                    u64::from(reservation.retries),
                );
                Ok(reservation)
            }
            Charge::Unavailable(detail) => {
                log::error!("counter store unavailable, refusing: {detail}");
                observe::count(host, observe::FAIL_CLOSED, 1);
                Err(unavailable_for_all(messages, verdicts, &detail))
            }
            Charge::Refused(limit_refusals) => {
                let mut refusals: Vec<(usize, Refusal)> = Vec::new();
                for limit_refusal in limit_refusals {
                    let (Some(limit), Some(&message_index)) = (
                        all_limits.get(limit_refusal.index),
                        owner.get(limit_refusal.index),
                    ) else {
                        continue;
                    };
                    let Some(message) = messages.get(message_index) else {
                        continue;
                    };
                    match refusals
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
                                    *limit_state = limit_state_of(limit, &limit_refusal, now_secs);
                                }
                            }
                        }
                        None => refusals.push((
                            message_index,
                            Refusal::rate_limited(
                                message,
                                limit,
                                limit_refusal.retry_after_secs,
                                limit_state_of(limit, &limit_refusal, now_secs),
                            ),
                        )),
                    }
                }
                Err(refusals)
            }
        }
    }
}

/// `count/max, resets at <unix seconds>`, for the audit log.
fn limit_state_of(
    limit: &crate::policy::Limit,
    refusal: &limits::LimitRefusal,
    now_secs: u64,
) -> String {
    format!(
        "{}/{} resets_at={}",
        refusal.count,
        limit.max,
        now_secs.saturating_add(refusal.retry_after_secs)
    )
}

fn unavailable_for_all(
    messages: &[Message],
    verdicts: &[Verdict<'_>],
    detail: &str,
) -> Vec<(usize, Refusal)> {
    verdicts
        .iter()
        .enumerate()
        .filter(
            |(_, verdict)| matches!(verdict, Verdict::Allow { limits, .. } if !limits.is_empty()),
        )
        .filter_map(|(index, _)| {
            messages.get(index).map(|message| {
                (
                    index,
                    Refusal::of(
                        message,
                        Reason::CountersUnavailable {
                            detail: detail.to_string(),
                        },
                    ),
                )
            })
        })
        .collect()
}
