//! `src/rate_limit_service/proto.rs` declares the rate-limit service's
//! messages itself (the module links prost, not Envoy's generated protos):
//! each is checked here against the `envoy-types` crate, Envoy's data-plane
//! API as generated (a native dev-dependency only), in both directions.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use envoy_types::pb::envoy::config::core::v3::grpc_service::TargetSpecifier;
use envoy_types::pb::envoy::config::core::v3::GrpcService as EnvoyGrpcService;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor as EnvoyDescriptor;
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus as EnvoyStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{
    RateLimitRequest as EnvoyRequest, RateLimitResponse as EnvoyResponse,
};
use envoy_types::pb::google::protobuf::Duration as EnvoyDuration;
use mcp_policy_filter::rate_limit_service::proto::{
    DescriptorStatus, Duration, Entry, RateLimitDescriptor, RateLimitOverride, RateLimitRequest,
    RateLimitResponse, UInt64Value,
};
use mcp_policy_filter::rate_limit_service::{
    charge_request, grpc_service, read, refund_request, Answer, Counter, Status, Unit,
};
use prost::Message;

fn counter(name: &str, scope: &str, max: u32, unit: Unit, hits: u64) -> Counter {
    Counter {
        name: name.into(),
        scope: scope.into(),
        value: "0123456789abcdef0123456789abcdef".into(),
        max,
        unit,
        hits,
    }
}

#[test]
fn a_charge_reads_as_envoys_rate_limit_request() {
    let ours = charge_request(
        "mcp_policy",
        &[
            counter("texts", "grant", 30, Unit::Minute, 1),
            counter("calls", "header:x-team", 600, Unit::Hour, 2),
        ],
    );
    let envoy = EnvoyRequest::decode(ours.encode_to_vec().as_slice()).unwrap();
    assert_eq!(envoy.domain, "mcp_policy");
    assert_eq!(envoy.hits_addend, 0);
    assert_eq!(envoy.descriptors.len(), 2);
    let first = &envoy.descriptors[0];
    let entries: Vec<(&str, &str)> = first
        .entries
        .iter()
        .map(|entry| (entry.key.as_str(), entry.value.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("counter", "texts"),
            ("scope", "grant"),
            ("value", "0123456789abcdef0123456789abcdef")
        ]
    );
    let limit = first.limit.unwrap();
    assert_eq!(limit.requests_per_unit, 30);
    assert_eq!(limit.unit(), RateLimitUnit::Minute);
    assert_eq!(first.hits_addend.unwrap().value, 1);
    assert!(!first.is_negative_hits);
    let second = &envoy.descriptors[1];
    assert_eq!(second.limit.unwrap().unit(), RateLimitUnit::Hour);
    assert_eq!(second.hits_addend.unwrap().value, 2);

    let refund = refund_request("d", &[counter("texts", "global", 1, Unit::Second, 3)]);
    let envoy = EnvoyRequest::decode(refund.encode_to_vec().as_slice()).unwrap();
    assert_eq!(envoy.hits_addend, 3);
    assert!(envoy.descriptors[0].is_negative_hits);
    assert!(envoy.descriptors[0].hits_addend.is_none());
    assert_eq!(
        envoy.descriptors[0].limit.unwrap().unit(),
        RateLimitUnit::Second
    );
}

#[test]
fn every_unit_has_envoys_number() {
    for (unit, envoy) in [
        (Unit::Second, RateLimitUnit::Second),
        (Unit::Minute, RateLimitUnit::Minute),
        (Unit::Hour, RateLimitUnit::Hour),
        (Unit::Day, RateLimitUnit::Day),
    ] {
        assert_eq!(unit.number(), envoy as i32);
        assert_eq!(unit.name().to_uppercase(), envoy.as_str_name());
    }
}

#[test]
fn envoys_request_reads_as_ours_field_by_field() {
    let envoy = EnvoyRequest {
        domain: "x".into(),
        descriptors: vec![EnvoyDescriptor {
            entries: vec![
                envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry {
                    key: "k".into(),
                    value: "v".into(),
                },
            ],
            limit: Some(
                envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride {
                    requests_per_unit: 7,
                    unit: RateLimitUnit::Day as i32,
                },
            ),
            hits_addend: Some(envoy_types::pb::google::protobuf::UInt64Value { value: 9 }),
            is_negative_hits: true,
        }],
        hits_addend: 4,
    };
    let ours = RateLimitRequest::decode(envoy.encode_to_vec().as_slice()).unwrap();
    assert_eq!(
        ours,
        RateLimitRequest {
            domain: "x".into(),
            descriptors: vec![RateLimitDescriptor {
                entries: vec![Entry {
                    key: "k".into(),
                    value: "v".into()
                }],
                limit: Some(RateLimitOverride {
                    requests_per_unit: 7,
                    unit: 4
                }),
                hits_addend: Some(UInt64Value { value: 9 }),
                is_negative_hits: true,
            }],
            hits_addend: 4,
        }
    );
}

#[test]
fn envoys_response_reads_as_ours() {
    let envoy = EnvoyResponse {
        overall_code: Code::OverLimit as i32,
        statuses: vec![
            EnvoyStatus {
                code: Code::Ok as i32,
                current_limit: Some(RateLimit {
                    name: "n".into(),
                    requests_per_unit: 30,
                    unit: 2,
                }),
                limit_remaining: 12,
                duration_until_reset: Some(EnvoyDuration {
                    seconds: 40,
                    nanos: 0,
                }),
                quota: None,
            },
            EnvoyStatus {
                code: Code::OverLimit as i32,
                current_limit: None,
                limit_remaining: 0,
                duration_until_reset: Some(EnvoyDuration {
                    seconds: 3,
                    nanos: 500,
                }),
                quota: None,
            },
        ],
        ..Default::default()
    };
    let bytes = envoy.encode_to_vec();
    let ours = RateLimitResponse::decode(bytes.as_slice()).unwrap();
    assert_eq!(ours.overall_code, 2);
    assert_eq!(
        ours.statuses[1],
        DescriptorStatus {
            code: 2,
            limit_remaining: 0,
            duration_until_reset: Some(Duration {
                seconds: 3,
                nanos: 500
            }),
        }
    );
    assert_eq!(
        read(&bytes, 2).unwrap(),
        Answer::OverLimit(Some(vec![
            Status {
                over: false,
                remaining: 12,
                reset_after: Some(40)
            },
            Status {
                over: true,
                remaining: 0,
                reset_after: Some(4)
            },
        ]))
    );
    let ok = EnvoyResponse {
        overall_code: Code::Ok as i32,
        ..Default::default()
    };
    assert_eq!(read(&ok.encode_to_vec(), 0).unwrap(), Answer::Ok);
}

#[test]
fn the_grpc_service_names_the_cluster_for_envoys_own_client() {
    let envoy = EnvoyGrpcService::decode(grpc_service("mcp_policy_rls").as_slice()).unwrap();
    match envoy.target_specifier {
        Some(TargetSpecifier::EnvoyGrpc(target)) => {
            assert_eq!(target.cluster_name, "mcp_policy_rls");
            assert_eq!(target.authority, "");
        }
        other => panic!("{other:?}"),
    }
}
