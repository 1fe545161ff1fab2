//! A RateLimitRequest as counter charges, and the counts after them as the
//! RateLimitResponse. No I/O: the store applies the charges in between.

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration;

use crate::window::{Unit, UnitError};

/// The largest hits value accepted, the bound Envoy's own `RateLimit.HitsAddend.number` has.
pub const MAX_HITS: u64 = 1_000_000_000;

pub struct Rules<'a> {
    pub key_prefix: &'a str,
    pub allow_negative_hits: bool,
}

/// One counter update: `hits` above 0 adds, 0 reads, below 0 refunds (clamped at 0).
#[derive(Debug, PartialEq, Eq)]
pub struct Charge {
    pub key: String,
    pub hits: i64,
    pub ttl_seconds: u64,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    NoLimit,
    Counted { charge: usize, limit: u32, unit: Unit, reset_after: u64, refund: bool },
}

/// The charges of one request, in descriptor order, and how to answer from their counts.
#[derive(Debug)]
pub struct Plan {
    steps: Vec<Step>,
    pub charges: Vec<Charge>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    OverLimit,
    NoLimit,
    Refund,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::OverLimit, Outcome::NoLimit, Outcome::Refund];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::OverLimit => "over_limit",
            Outcome::NoLimit => "no_limit",
            Outcome::Refund => "refund",
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("domain must not be empty")]
    EmptyDomain,
    #[error("descriptors must not be empty")]
    NoDescriptors,
    #[error("descriptor {0}: entries must not be empty")]
    NoEntries(usize),
    #[error("descriptor {0}: an entry's key must not be empty")]
    EmptyKey(usize),
    #[error("descriptor {0}: {1}")]
    Unit(usize, UnitError),
    #[error("descriptor {0}: {1} hits is more than {MAX_HITS}")]
    TooManyHits(usize, u64),
    #[error("descriptor {0}: is_negative_hits is refused (--allow-negative-hits=false)")]
    NegativeHitsRefused(usize),
}

pub fn plan(request: &RateLimitRequest, now: u64, rules: &Rules<'_>) -> Result<Plan, Invalid> {
    if request.domain.is_empty() {
        return Err(Invalid::EmptyDomain);
    }
    if request.descriptors.is_empty() {
        return Err(Invalid::NoDescriptors);
    }
    let mut steps = Vec::with_capacity(request.descriptors.len());
    let mut charges = Vec::with_capacity(request.descriptors.len());
    for (index, descriptor) in request.descriptors.iter().enumerate() {
        if descriptor.entries.is_empty() {
            return Err(Invalid::NoEntries(index));
        }
        if descriptor.entries.iter().any(|entry| entry.key.is_empty()) {
            return Err(Invalid::EmptyKey(index));
        }
        let hits = hits(request, descriptor);
        if hits > MAX_HITS {
            return Err(Invalid::TooManyHits(index, hits));
        }
        if descriptor.is_negative_hits && !rules.allow_negative_hits {
            return Err(Invalid::NegativeHitsRefused(index));
        }
        let Some(limit) = descriptor.limit else {
            steps.push(Step::NoLimit);
            continue;
        };
        let unit = Unit::from_override(limit.unit).map_err(|error| Invalid::Unit(index, error))?;
        let window = unit.window_at(now);
        let hits = hits as i64; // at most MAX_HITS
        steps.push(Step::Counted {
            charge: charges.len(),
            limit: limit.requests_per_unit,
            unit,
            reset_after: window.reset_after,
            refund: descriptor.is_negative_hits,
        });
        charges.push(Charge {
            key: key(rules.key_prefix, &request.domain, descriptor, window.start),
            hits: if descriptor.is_negative_hits { -hits } else { hits },
            ttl_seconds: unit.seconds(),
        });
    }
    Ok(Plan { steps, charges })
}

/// The descriptor's `hits_addend` when set (0 included: check only), else the
/// request's, where 0 means unset and so 1.
fn hits(request: &RateLimitRequest, descriptor: &RateLimitDescriptor) -> u64 {
    match descriptor.hits_addend {
        Some(addend) => addend.value,
        None => u64::from(request.hits_addend.max(1)),
    }
}

/// envoyproxy/ratelimit's key: `<prefix><domain>_<key>_<value>_…_<window start>`.
fn key(prefix: &str, domain: &str, descriptor: &RateLimitDescriptor, window_start: u64) -> String {
    let mut key = format!("{prefix}{domain}_");
    for entry in &descriptor.entries {
        key.push_str(&entry.key);
        key.push('_');
        key.push_str(&entry.value);
        key.push('_');
    }
    key.push_str(&window_start.to_string());
    key
}

impl Plan {
    /// `counts[i]` is charge `i`'s counter after the charge.
    pub fn answer(&self, counts: &[u64]) -> Option<(RateLimitResponse, Vec<Outcome>)> {
        if counts.len() != self.charges.len() {
            return None;
        }
        let mut statuses = Vec::with_capacity(self.steps.len());
        let mut outcomes = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let (status, outcome) = match *step {
                Step::NoLimit => {
                    (DescriptorStatus { code: Code::Ok.into(), ..Default::default() }, Outcome::NoLimit)
                }
                Step::Counted { charge, limit, unit, reset_after, refund } => {
                    let count = *counts.get(charge)?;
                    let over = !refund && count > u64::from(limit);
                    let outcome = match (refund, over) {
                        (true, _) => Outcome::Refund,
                        (false, true) => Outcome::OverLimit,
                        (false, false) => Outcome::Ok,
                    };
                    let status = DescriptorStatus {
                        code: if over { Code::OverLimit } else { Code::Ok }.into(),
                        current_limit: Some(RateLimit {
                            name: String::new(),
                            requests_per_unit: limit,
                            unit: unit.response_unit().into(),
                        }),
                        limit_remaining: u32::try_from(u64::from(limit).saturating_sub(count)).unwrap_or(0),
                        duration_until_reset: Some(Duration { seconds: reset_after as i64, nanos: 0 }),
                        quota: None,
                    };
                    (status, outcome)
                }
            };
            statuses.push(status);
            outcomes.push(outcome);
        }
        let over = outcomes.contains(&Outcome::OverLimit);
        let response = RateLimitResponse {
            overall_code: if over { Code::OverLimit } else { Code::Ok }.into(),
            statuses,
            ..Default::default()
        };
        Some((response, outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::{
        Entry, RateLimitOverride,
    };
    use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
    use envoy_types::pb::google::protobuf::UInt64Value;

    const NOW: u64 = 1_700_000_010;
    const RULES: Rules<'static> = Rules { key_prefix: "", allow_negative_hits: true };

    fn descriptor(entries: &[(&str, &str)], limit: Option<(u32, RateLimitUnit)>) -> RateLimitDescriptor {
        RateLimitDescriptor {
            entries: entries
                .iter()
                .map(|(k, v)| Entry { key: k.to_string(), value: v.to_string() })
                .collect(),
            limit: limit
                .map(|(requests_per_unit, unit)| RateLimitOverride { requests_per_unit, unit: unit as i32 }),
            hits_addend: None,
            is_negative_hits: false,
        }
    }

    fn request(descriptors: Vec<RateLimitDescriptor>) -> RateLimitRequest {
        RateLimitRequest { domain: "mcp".into(), descriptors, hits_addend: 0 }
    }

    #[test]
    fn keys_follow_envoyproxy_ratelimit() {
        let request =
            request(vec![descriptor(&[("grant", "alice"), ("tool", "x")], Some((5, RateLimitUnit::Minute)))]);
        let plan = plan(&request, NOW, &RULES).unwrap();
        assert_eq!(
            plan.charges,
            vec![Charge { key: "mcp_grant_alice_tool_x_1699999980".into(), hits: 1, ttl_seconds: 60 }]
        );
        let prefixed = plan_with_prefix(&request, "p:");
        assert_eq!(prefixed.charges[0].key, "p:mcp_grant_alice_tool_x_1699999980");
    }

    fn plan_with_prefix(request: &RateLimitRequest, key_prefix: &str) -> Plan {
        plan(request, NOW, &Rules { key_prefix, allow_negative_hits: true }).unwrap()
    }

    #[test]
    fn hits_come_from_the_descriptor_then_the_request_then_one() {
        let mut with_own = descriptor(&[("a", "1")], Some((5, RateLimitUnit::Hour)));
        with_own.hits_addend = Some(UInt64Value { value: 3 });
        let mut check_only = descriptor(&[("a", "2")], Some((5, RateLimitUnit::Hour)));
        check_only.hits_addend = Some(UInt64Value { value: 0 });
        let plain = descriptor(&[("a", "3")], Some((5, RateLimitUnit::Hour)));
        let mut request = request(vec![with_own, check_only, plain]);
        let hits = |request: &RateLimitRequest| -> Vec<i64> {
            plan(request, NOW, &RULES).unwrap().charges.iter().map(|c| c.hits).collect()
        };
        assert_eq!(hits(&request), vec![3, 0, 1]);
        request.hits_addend = 4;
        assert_eq!(hits(&request), vec![3, 0, 4]);
        request.descriptors[2].is_negative_hits = true;
        assert_eq!(hits(&request), vec![3, 0, -4]);
    }

    #[test]
    fn invalid_requests_are_named() {
        let good = descriptor(&[("a", "1")], Some((5, RateLimitUnit::Hour)));
        let check = |mut request: RateLimitRequest, edit: fn(&mut RateLimitRequest), rules: &Rules<'_>| {
            edit(&mut request);
            plan(&request, NOW, rules).unwrap_err()
        };
        let base = || request(vec![good.clone()]);
        assert_eq!(check(base(), |r| r.domain.clear(), &RULES), Invalid::EmptyDomain);
        assert_eq!(check(base(), |r| r.descriptors.clear(), &RULES), Invalid::NoDescriptors);
        assert_eq!(check(base(), |r| r.descriptors[0].entries.clear(), &RULES), Invalid::NoEntries(0));
        assert_eq!(check(base(), |r| r.descriptors[0].entries[0].key.clear(), &RULES), Invalid::EmptyKey(0));
        assert_eq!(
            check(base(), |r| r.descriptors[0].limit.as_mut().unwrap().unit = 5, &RULES),
            Invalid::Unit(0, UnitError::Unsupported("MONTH"))
        );
        assert_eq!(
            check(
                base(),
                |r| r.descriptors[0].hits_addend = Some(UInt64Value { value: MAX_HITS + 1 }),
                &RULES
            ),
            Invalid::TooManyHits(0, MAX_HITS + 1)
        );
        let refusing = Rules { key_prefix: "", allow_negative_hits: false };
        assert_eq!(
            check(base(), |r| r.descriptors[0].is_negative_hits = true, &refusing),
            Invalid::NegativeHitsRefused(0)
        );
    }

    #[test]
    fn descriptors_without_an_override_are_not_counted() {
        let request = request(vec![
            descriptor(&[("a", "1")], None),
            descriptor(&[("a", "2")], Some((1, RateLimitUnit::Second))),
        ]);
        let plan = plan(&request, NOW, &RULES).unwrap();
        assert_eq!(plan.charges.len(), 1);
        let (response, outcomes) = plan.answer(&[2]).unwrap();
        assert_eq!(outcomes, vec![Outcome::NoLimit, Outcome::OverLimit]);
        assert_eq!(response.overall_code, Code::OverLimit as i32);
        assert_eq!(response.statuses[0], DescriptorStatus { code: Code::Ok as i32, ..Default::default() });
        assert_eq!(response.statuses[1].code, Code::OverLimit as i32);
        assert_eq!(response.statuses[1].limit_remaining, 0);
    }

    #[test]
    fn answers_carry_the_limit_the_remainder_and_the_reset() {
        let mut refund = descriptor(&[("a", "2")], Some((3, RateLimitUnit::Minute)));
        refund.is_negative_hits = true;
        let request = request(vec![descriptor(&[("a", "1")], Some((10, RateLimitUnit::Minute))), refund]);
        let plan = plan(&request, NOW, &RULES).unwrap();
        assert!(plan.answer(&[1]).is_none());
        let (response, outcomes) = plan.answer(&[4, 7]).unwrap();
        assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Refund]);
        assert_eq!(response.overall_code, Code::Ok as i32);
        let first = &response.statuses[0];
        assert_eq!(first.limit_remaining, 6);
        assert_eq!(
            first.current_limit,
            Some(RateLimit {
                name: String::new(),
                requests_per_unit: 10,
                unit: Unit::Minute.response_unit() as i32
            })
        );
        assert_eq!(first.duration_until_reset, Some(Duration { seconds: 30, nanos: 0 }));
        // A refund is never over its limit, even when its counter still is.
        assert_eq!((response.statuses[1].code, response.statuses[1].limit_remaining), (Code::Ok as i32, 0));
    }
}
