//! The `ShouldRateLimit` requests the filter sends: one descriptor per
//! counter, charged (or refunded) in one call.

use hmac::{Hmac, Mac};
use prost::Message;
use sha2::Sha256;

use super::proto::{
    Entry, EnvoyGrpc, GrpcService, RateLimitDescriptor, RateLimitOverride, RateLimitRequest,
    UInt64Value,
};
use super::Unit;

/// One counter a call draws from, as the service sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The counter's name in the policy.
    pub name: String,
    /// Whose budget, by kind: `grant`, `global`, `session`, `header:<name>`, `claim:<name>`.
    pub scope: String,
    /// Whose budget: a keyed hash of the counter's identity (`keyed_value`).
    pub value: String,
    pub max: u32,
    pub unit: Unit,
    /// Units this call takes (several for a batch that calls it more than once).
    pub hits: u64,
}

/// The keyed hash that stands for a counter's identity (which carries the
/// session id, header or claim value): HMAC-SHA-256 with the counter key,
/// its first 128 bits in hex.
pub fn keyed_value(secret: &[u8; 32], identity: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(identity.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Takes each counter's hits.
pub fn charge_request(domain: &str, counters: &[Counter]) -> RateLimitRequest {
    request(domain, counters, false)
}

/// Gives each counter's hits back (`is_negative_hits`): only for services
/// that implement it, which the others would count as more hits.
pub fn refund_request(domain: &str, counters: &[Counter]) -> RateLimitRequest {
    request(domain, counters, true)
}

/// The request's own `hits_addend` carries the hits when every counter takes
/// the same (services that ignore a descriptor's, such as Limitador, then
/// count right); otherwise each descriptor carries its own.
fn request(domain: &str, counters: &[Counter], refund: bool) -> RateLimitRequest {
    let first = counters.first().map_or(1, |counter| counter.hits);
    let shared = counters.iter().all(|counter| counter.hits == first);
    let request_hits = match u32::try_from(first) {
        Ok(hits) if shared => Some(hits),
        _ => None,
    };
    RateLimitRequest {
        domain: domain.to_owned(),
        descriptors: counters
            .iter()
            .map(|counter| RateLimitDescriptor {
                entries: vec![
                    entry("counter", &counter.name),
                    entry("scope", &counter.scope),
                    entry("value", &counter.value),
                ],
                limit: Some(RateLimitOverride {
                    requests_per_unit: counter.max,
                    unit: counter.unit.number(),
                }),
                hits_addend: request_hits.is_none().then_some(UInt64Value {
                    value: counter.hits,
                }),
                is_negative_hits: refund,
            })
            .collect(),
        hits_addend: match request_hits {
            Some(1) | None => 0,
            Some(hits) => hits,
        },
    }
}

fn entry(key: &str, value: &str) -> Entry {
    Entry {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

pub fn encode(request: &RateLimitRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// The serialized `envoy.config.core.v3.GrpcService` naming the Envoy
/// cluster that reaches the service: what `proxy_grpc_call` takes.
pub fn grpc_service(cluster: &str) -> Vec<u8> {
    GrpcService {
        envoy_grpc: Some(EnvoyGrpc {
            cluster_name: cluster.to_owned(),
        }),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(name: &str, hits: u64) -> Counter {
        Counter {
            name: name.into(),
            scope: "grant".into(),
            value: "ab".into(),
            max: 30,
            unit: Unit::Minute,
            hits,
        }
    }

    #[test]
    fn one_hit_each_is_the_default_hits() {
        let request = charge_request("mcp", &[counter("a", 1), counter("b", 1)]);
        assert_eq!(request.hits_addend, 0);
        assert!(request.descriptors.iter().all(|d| d.hits_addend.is_none()));
        assert!(request.descriptors.iter().all(|d| !d.is_negative_hits));
        let entries: Vec<(&str, &str)> = request.descriptors[0]
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            entries,
            [("counter", "a"), ("scope", "grant"), ("value", "ab")]
        );
        assert_eq!(
            request.descriptors[0].limit,
            Some(RateLimitOverride {
                requests_per_unit: 30,
                unit: 2
            })
        );
    }

    #[test]
    fn equal_hits_go_in_the_request_and_unequal_ones_in_each_descriptor() {
        let same = charge_request("mcp", &[counter("a", 3), counter("b", 3)]);
        assert_eq!(same.hits_addend, 3);
        assert!(same.descriptors.iter().all(|d| d.hits_addend.is_none()));
        let mixed = refund_request("mcp", &[counter("a", 2), counter("b", 1)]);
        assert_eq!(mixed.hits_addend, 0);
        let hits: Vec<Option<u64>> = mixed
            .descriptors
            .iter()
            .map(|d| d.hits_addend.as_ref().map(|h| h.value))
            .collect();
        assert_eq!(hits, [Some(2), Some(1)]);
        assert!(mixed.descriptors.iter().all(|d| d.is_negative_hits));
    }

    #[test]
    fn keyed_values_depend_on_the_key_and_hide_the_identity() {
        let one = keyed_value(&[1; 32], "mcp-policy/v1/c/texts\u{1f}session:s-1");
        assert_eq!(one.len(), 32);
        assert!(one.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            one,
            keyed_value(&[2; 32], "mcp-policy/v1/c/texts\u{1f}session:s-1")
        );
        assert_ne!(
            one,
            keyed_value(&[1; 32], "mcp-policy/v1/c/texts\u{1f}session:s-2")
        );
        assert!(!one.contains("s-1"));
    }
}
