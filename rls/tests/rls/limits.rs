//! What a limit override admits, and how each descriptor is counted.

use std::time::Duration;

use envoy_types::pb::envoy::r#type::v3::RateLimitUnit::{Hour, Second};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{Code, RateLimit};
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::google::protobuf::Duration as ProtoDuration;

use crate::harness::*;

const MARGIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn an_override_admits_exactly_its_limit_then_refuses() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let descriptor = limited(&[("grant", "alice"), ("tool", "x")], 3, Hour);
    for remaining in [2, 1, 0] {
        let response = rls.call(request("admits", vec![descriptor.clone()])).await.unwrap();
        assert_eq!(codes(&response), (Code::Ok, vec![(Code::Ok, remaining)]));
    }
    let refused = rls.call(request("admits", vec![descriptor])).await.unwrap();
    assert_eq!(codes(&refused), (Code::OverLimit, vec![(Code::OverLimit, 0)]));

    let status = &refused.statuses[0];
    assert_eq!(
        status.current_limit,
        Some(RateLimit { name: String::new(), requests_per_unit: 3, unit: Unit::Hour as i32 })
    );
    let start = window_start(3_600);
    let reset = status.duration_until_reset.unwrap();
    let expected = (start + 3_600 - now()) as i64;
    assert!((expected - 1..=expected + 1).contains(&reset.seconds), "{reset:?}, expected about {expected} s");
    assert_eq!(reset.nanos, 0);

    // envoyproxy/ratelimit's key shape, expiring after one unit.
    let key = format!("admits_grant_alice_tool_x_{start}");
    assert_eq!(redis.keys("admits_*"), vec![key.clone()]);
    assert_eq!(redis.get(&key), Some(4));
    assert!((3_590..=3_600).contains(&redis.ttl(&key)));
}

#[tokio::test]
async fn two_descriptors_are_each_counted_and_both_charged_when_one_refuses() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let call =
        || request("two", vec![limited(&[("tool", "a")], 1, Hour), limited(&[("tool", "b")], 5, Hour)]);

    let first = rls.call(call()).await.unwrap();
    assert_eq!(codes(&first), (Code::Ok, vec![(Code::Ok, 0), (Code::Ok, 4)]));
    let second = rls.call(call()).await.unwrap();
    assert_eq!(codes(&second), (Code::OverLimit, vec![(Code::OverLimit, 0), (Code::Ok, 3)]));

    let start = window_start(3_600);
    assert_eq!(redis.get(&format!("two_tool_a_{start}")), Some(2));
    assert_eq!(redis.get(&format!("two_tool_b_{start}")), Some(2));
}

/// One call of a sequence against one counter: what it sends, the one status
/// it gets back as (code, limit_remaining), and the counter after it.
type Step = (&'static str, RateLimitRequest, (Code, u32), Option<i64>);

async fn run(rls: &Rls, redis: &Redis, key: &str, steps: Vec<Step>) {
    for (what, request, status, counter) in steps {
        let response = rls.call(request).await.unwrap();
        assert_eq!(codes(&response), (status.0, vec![status]), "{what}");
        assert_eq!(redis.get(key), counter, "{what}: the counter after it");
    }
}

fn with_request_hits(mut request: RateLimitRequest, hits: u32) -> RateLimitRequest {
    request.hits_addend = hits;
    request
}

#[tokio::test]
async fn hits_come_from_the_descriptor_then_the_request_and_zero_only_checks() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let base = || limited(&[("tool", "x")], 10, Hour);
    let one = |descriptor| request("hits", vec![descriptor]);
    let key = format!("hits_tool_x_{}", window_start(3_600));
    run(
        &rls,
        &redis,
        &key,
        vec![
            ("the descriptor's 3", one(with_hits(base(), 3)), (Code::Ok, 7), Some(3)),
            ("the request's 4", with_request_hits(one(base()), 4), (Code::Ok, 3), Some(7)),
            (
                "the descriptor's 2 over the request's 4",
                with_request_hits(one(with_hits(base(), 2)), 4),
                (Code::Ok, 1),
                Some(9),
            ),
            ("the descriptor's 0 checks", one(with_hits(base(), 0)), (Code::Ok, 1), Some(9)),
            ("the request's 0 is unset: 1", one(base()), (Code::Ok, 0), Some(10)),
            // As in envoyproxy/ratelimit, over means count > limit: a check at the limit passes...
            ("a check at the limit", one(with_hits(base(), 0)), (Code::Ok, 0), Some(10)),
            ("a refused hit is counted", with_request_hits(one(base()), 4), (Code::OverLimit, 0), Some(14)),
            // ...and one past it fails.
            ("a check past the limit", one(with_hits(base(), 0)), (Code::OverLimit, 0), Some(14)),
        ],
    )
    .await;

    let fresh = limited(&[("tool", "never-charged")], 10, Hour);
    let checked = rls.call(one(with_hits(fresh, 0))).await.unwrap();
    assert_eq!(codes(&checked), (Code::Ok, vec![(Code::Ok, 10)]));
    assert_eq!(redis.keys("hits_tool_never*"), Vec::<String>::new());
}

#[tokio::test]
async fn negative_hits_refund_clamp_at_zero_and_are_never_over_the_limit() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let base = || limited(&[("tool", "x")], 5, Hour);
    let one = |descriptor| request("refund", vec![descriptor]);
    let key = format!("refund_tool_x_{}", window_start(3_600));
    let mut unsized_refund = refund(base(), 0);
    unsized_refund.hits_addend = None;
    run(
        &rls,
        &redis,
        &key,
        vec![
            ("4 hits", one(with_hits(base(), 4)), (Code::Ok, 1), Some(4)),
            ("a refund of 3", one(refund(base(), 3)), (Code::Ok, 4), Some(1)),
            ("a refund past 0 clamps", one(refund(base(), 10)), (Code::Ok, 5), Some(0)),
            ("7 hits", one(with_hits(base(), 7)), (Code::OverLimit, 0), Some(7)),
            ("a refund that leaves it over is OK", one(refund(base(), 1)), (Code::Ok, 0), Some(6)),
            (
                "a refund takes the request's hits",
                with_request_hits(one(unsized_refund.clone()), 2),
                (Code::Ok, 1),
                Some(4),
            ),
            ("or 1", one(unsized_refund), (Code::Ok, 2), Some(3)),
        ],
    )
    .await;
    assert!(redis.ttl(&key) > 0, "a refund keeps the window's expiry");

    let absent = limited(&[("tool", "absent")], 5, Hour);
    let refunded = rls.call(one(refund(absent, 2))).await.unwrap();
    assert_eq!(codes(&refunded), (Code::Ok, vec![(Code::Ok, 5)]));
    assert_eq!(redis.keys("refund_tool_absent*"), Vec::<String>::new(), "a refund creates no counter");
}

#[tokio::test]
async fn negative_hits_are_refused_when_disabled() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &["--allow-negative-hits", "false"]).await;
    let descriptor = limited(&[("tool", "x")], 5, Hour);
    let error = rls.call(request("no-refunds", vec![refund(descriptor.clone(), 1)])).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error:?}");
    assert!(error.message().contains("is_negative_hits"), "{error:?}");
    assert_eq!(redis.keys("no-refunds_*"), Vec::<String>::new());
    assert!(rls.call(request("no-refunds", vec![descriptor])).await.is_ok());
}

#[tokio::test]
async fn windows_roll_over_each_second() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    let mut client = rls.client().await;
    let call = || request("roll", vec![limited(&[("tool", "x")], 2, Second)]);
    clear_of_window_end(1, Duration::from_millis(800)).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(client.should_rate_limit(call()).await.unwrap().into_inner());
    }
    let statuses: Vec<_> = answers.iter().map(|answer| codes(answer).1[0]).collect();
    assert_eq!(statuses, vec![(Code::Ok, 1), (Code::Ok, 0), (Code::OverLimit, 0)]);
    assert_eq!(answers[2].statuses[0].duration_until_reset, Some(ProtoDuration { seconds: 1, nanos: 0 }));

    clear_of_window_end(1, Duration::from_secs(1)).await;
    let second = now();
    let next = client.should_rate_limit(call()).await.unwrap().into_inner();
    assert_eq!(codes(&next), (Code::Ok, vec![(Code::Ok, 1)]));
    // A key of its own, expiring a second after its last charge.
    assert_eq!(redis.get(&format!("roll_tool_x_{second}")), Some(1));
    assert!(redis.ttl(&format!("roll_tool_x_{second}")) <= 1);
}

#[tokio::test]
async fn descriptors_without_an_override_are_ok_and_not_counted() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    let alone = rls.call(request("nolimit", vec![unlimited(&[("tool", "x")])])).await.unwrap();
    assert_eq!(codes(&alone), (Code::Ok, vec![(Code::Ok, 0)]));
    assert_eq!(alone.statuses[0].current_limit, None);
    assert_eq!(alone.statuses[0].duration_until_reset, None);

    let mixed = request("nolimit", vec![unlimited(&[("tool", "x")]), limited(&[("tool", "y")], 0, Hour)]);
    let answer = rls.call(mixed).await.unwrap();
    assert_eq!(codes(&answer), (Code::OverLimit, vec![(Code::Ok, 0), (Code::OverLimit, 0)]));
    assert_eq!(redis.keys("nolimit_*"), vec![format!("nolimit_tool_y_{}", window_start(3_600))]);
}

#[tokio::test]
async fn invalid_requests_are_invalid_argument_and_count_nothing() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    let good = || limited(&[("tool", "x")], 5, Hour);
    let with_unit = |unit: i32| {
        let mut descriptor = good();
        descriptor.limit.as_mut().unwrap().unit = unit;
        descriptor
    };
    let cases = [
        ("empty domain", request("", vec![good()])),
        ("no descriptors", request("invalid", vec![])),
        ("no entries", request("invalid", vec![good(), limited(&[], 5, Hour)])),
        ("an empty key", request("invalid", vec![limited(&[("", "x")], 5, Hour)])),
        ("unit UNKNOWN", request("invalid", vec![with_unit(0)])),
        ("unit 99", request("invalid", vec![with_unit(99)])),
        ("unit MONTH", request("invalid", vec![with_unit(5)])),
        ("unit YEAR", request("invalid", vec![with_unit(6)])),
        ("hits over 1e9", request("invalid", vec![good(), with_hits(good(), 1_000_000_001)])),
    ];
    for (case, request) in cases {
        let error = rls.call(request).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument, "{case}: {error:?}");
    }
    assert_eq!(redis.keys("*"), Vec::<String>::new());
    assert_eq!(rls.metric("mcp_policy_rls_errors_total{kind=\"invalid_request\"}").await, 9.0);
}

#[tokio::test]
async fn concurrent_clients_admit_exactly_the_limit() {
    const CLIENTS: usize = 64;
    const CALLS: usize = 25;
    const LIMIT: u32 = 500;
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, Duration::from_secs(30)).await;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = rls.client().await;
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0;
            for _ in 0..CALLS {
                let request = request("exact", vec![limited(&[("tool", "x")], LIMIT, Hour)]);
                let response = client.should_rate_limit(request).await.unwrap().into_inner();
                admitted += usize::from(response.overall_code() == Code::Ok);
            }
            admitted
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        admitted += task.await.unwrap();
    }
    assert_eq!(admitted, LIMIT as usize);
    assert_eq!(redis.get(&format!("exact_tool_x_{}", window_start(3_600))), Some((CLIENTS * CALLS) as i64));
}
