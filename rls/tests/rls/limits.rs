//! What a limit override admits, and how each descriptor is counted.

use std::time::Duration;

use envoy_types::pb::envoy::r#type::v3::RateLimitUnit::{Hour, Second};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{Code, RateLimit};
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
        let response = rls
            .call(request("admits", vec![descriptor.clone()]))
            .await
            .unwrap();
        assert_eq!(codes(&response), (Code::Ok, vec![(Code::Ok, remaining)]));
    }
    let refused = rls.call(request("admits", vec![descriptor])).await.unwrap();
    assert_eq!(
        codes(&refused),
        (Code::OverLimit, vec![(Code::OverLimit, 0)])
    );

    let status = &refused.statuses[0];
    assert_eq!(
        status.current_limit,
        Some(RateLimit {
            name: String::new(),
            requests_per_unit: 3,
            unit: Unit::Hour as i32
        })
    );
    let start = window_start(3_600);
    let reset = status.duration_until_reset.unwrap();
    let expected = (start + 3_600 - now()) as i64;
    assert!(
        (expected - 1..=expected + 1).contains(&reset.seconds),
        "{reset:?}, expected about {expected} s"
    );
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
    let call = || {
        request(
            "two",
            vec![
                limited(&[("tool", "a")], 1, Hour),
                limited(&[("tool", "b")], 5, Hour),
            ],
        )
    };

    let first = rls.call(call()).await.unwrap();
    assert_eq!(
        codes(&first),
        (Code::Ok, vec![(Code::Ok, 0), (Code::Ok, 4)])
    );
    let second = rls.call(call()).await.unwrap();
    assert_eq!(
        codes(&second),
        (Code::OverLimit, vec![(Code::OverLimit, 0), (Code::Ok, 3)])
    );

    let start = window_start(3_600);
    assert_eq!(redis.get(&format!("two_tool_a_{start}")), Some(2));
    assert_eq!(redis.get(&format!("two_tool_b_{start}")), Some(2));
}

#[tokio::test]
async fn hits_come_from_the_descriptor_then_the_request_and_zero_only_checks() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let base = || limited(&[("tool", "x")], 10, Hour);
    let remaining = |response: Result<_, tonic::Status>| codes(&response.unwrap()).1[0];

    assert_eq!(
        remaining(rls.call(request("hits", vec![with_hits(base(), 3)])).await),
        (Code::Ok, 7)
    );
    let mut at_request_level = request("hits", vec![base()]);
    at_request_level.hits_addend = 4;
    assert_eq!(
        remaining(rls.call(at_request_level.clone()).await),
        (Code::Ok, 3)
    );
    let mut both = request("hits", vec![with_hits(base(), 2)]);
    both.hits_addend = 4;
    assert_eq!(remaining(rls.call(both).await), (Code::Ok, 1));
    // A descriptor's 0 checks without counting.
    assert_eq!(
        remaining(rls.call(request("hits", vec![with_hits(base(), 0)])).await),
        (Code::Ok, 1)
    );
    // A request's 0 is proto3's unset: one hit.
    assert_eq!(
        remaining(rls.call(request("hits", vec![base()])).await),
        (Code::Ok, 0)
    );
    // At exactly the limit a check passes (as in envoyproxy/ratelimit: over means count > limit)...
    assert_eq!(
        remaining(rls.call(request("hits", vec![with_hits(base(), 0)])).await),
        (Code::Ok, 0)
    );
    assert_eq!(
        remaining(rls.call(at_request_level).await),
        (Code::OverLimit, 0)
    );
    // ...and past it, it fails.
    assert_eq!(
        remaining(rls.call(request("hits", vec![with_hits(base(), 0)])).await),
        (Code::OverLimit, 0)
    );
    assert_eq!(
        redis.get(&format!("hits_tool_x_{}", window_start(3_600))),
        Some(14)
    );

    let fresh = limited(&[("tool", "never-charged")], 10, Hour);
    assert_eq!(
        remaining(rls.call(request("hits", vec![with_hits(fresh, 0)])).await),
        (Code::Ok, 10)
    );
    assert_eq!(redis.keys("hits_tool_never*"), Vec::<String>::new());
}

#[tokio::test]
async fn negative_hits_refund_clamp_at_zero_and_are_never_over_the_limit() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    clear_of_window_end(3_600, MARGIN).await;
    let base = || limited(&[("tool", "x")], 5, Hour);
    let key = format!("refund_tool_x_{}", window_start(3_600));
    let answer = |response: Result<_, tonic::Status>| codes(&response.unwrap());

    assert_eq!(
        answer(
            rls.call(request("refund", vec![with_hits(base(), 4)]))
                .await
        ),
        (Code::Ok, vec![(Code::Ok, 1)])
    );
    assert_eq!(
        answer(rls.call(request("refund", vec![refund(base(), 3)])).await),
        (Code::Ok, vec![(Code::Ok, 4)])
    );
    assert_eq!(redis.get(&key), Some(1));
    assert_eq!(
        answer(rls.call(request("refund", vec![refund(base(), 10)])).await),
        (Code::Ok, vec![(Code::Ok, 5)])
    );
    assert_eq!(redis.get(&key), Some(0));
    assert!(redis.ttl(&key) > 0, "a refund keeps the window's expiry");

    // Past the limit, a refund that leaves the counter over it is still OK.
    assert_eq!(
        answer(
            rls.call(request("refund", vec![with_hits(base(), 7)]))
                .await
        ),
        (Code::OverLimit, vec![(Code::OverLimit, 0)])
    );
    assert_eq!(
        answer(rls.call(request("refund", vec![refund(base(), 1)])).await),
        (Code::Ok, vec![(Code::Ok, 0)])
    );
    assert_eq!(redis.get(&key), Some(6));

    // Without its own hits_addend a refund takes the request's, or 1.
    let mut whole_request = request("refund", vec![refund(base(), 0)]);
    whole_request.descriptors[0].hits_addend = None;
    whole_request.hits_addend = 2;
    assert_eq!(
        answer(rls.call(whole_request).await),
        (Code::Ok, vec![(Code::Ok, 1)])
    );
    assert_eq!(redis.get(&key), Some(4));

    // Refunding a counter that does not exist creates none.
    let absent = limited(&[("tool", "absent")], 5, Hour);
    assert_eq!(
        answer(rls.call(request("refund", vec![refund(absent, 2)])).await),
        (Code::Ok, vec![(Code::Ok, 5)])
    );
    assert_eq!(redis.keys("refund_tool_absent*"), Vec::<String>::new());
}

#[tokio::test]
async fn negative_hits_are_refused_when_disabled() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &["--allow-negative-hits", "false"]).await;
    let descriptor = limited(&[("tool", "x")], 5, Hour);
    let error = rls
        .call(request("no-refunds", vec![refund(descriptor.clone(), 1)]))
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error:?}");
    assert!(error.message().contains("is_negative_hits"), "{error:?}");
    assert_eq!(redis.keys("no-refunds_*"), Vec::<String>::new());
    assert!(rls
        .call(request("no-refunds", vec![descriptor]))
        .await
        .is_ok());
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
    assert_eq!(
        statuses,
        vec![(Code::Ok, 1), (Code::Ok, 0), (Code::OverLimit, 0)]
    );
    assert_eq!(
        answers[2].statuses[0].duration_until_reset,
        Some(ProtoDuration {
            seconds: 1,
            nanos: 0
        })
    );

    clear_of_window_end(1, Duration::from_secs(1)).await;
    let next = client.should_rate_limit(call()).await.unwrap().into_inner();
    assert_eq!(codes(&next), (Code::Ok, vec![(Code::Ok, 1)]));
    assert_eq!(redis.keys("roll_*").len(), 2);
}

#[tokio::test]
async fn descriptors_without_an_override_are_ok_and_not_counted() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    let alone = rls
        .call(request("nolimit", vec![unlimited(&[("tool", "x")])]))
        .await
        .unwrap();
    assert_eq!(codes(&alone), (Code::Ok, vec![(Code::Ok, 0)]));
    assert_eq!(alone.statuses[0].current_limit, None);
    assert_eq!(alone.statuses[0].duration_until_reset, None);

    let mixed = request(
        "nolimit",
        vec![
            unlimited(&[("tool", "x")]),
            limited(&[("tool", "y")], 0, Hour),
        ],
    );
    let answer = rls.call(mixed).await.unwrap();
    assert_eq!(
        codes(&answer),
        (Code::OverLimit, vec![(Code::Ok, 0), (Code::OverLimit, 0)])
    );
    assert_eq!(
        redis.keys("nolimit_*"),
        vec![format!("nolimit_tool_y_{}", window_start(3_600))]
    );
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
        (
            "no entries",
            request("invalid", vec![good(), limited(&[], 5, Hour)]),
        ),
        (
            "an empty key",
            request("invalid", vec![limited(&[("", "x")], 5, Hour)]),
        ),
        ("unit UNKNOWN", request("invalid", vec![with_unit(0)])),
        ("unit 99", request("invalid", vec![with_unit(99)])),
        ("unit MONTH", request("invalid", vec![with_unit(5)])),
        ("unit YEAR", request("invalid", vec![with_unit(6)])),
        (
            "hits over 1e9",
            request("invalid", vec![good(), with_hits(good(), 1_000_000_001)]),
        ),
    ];
    for (case, request) in cases {
        let error = rls.call(request).await.unwrap_err();
        assert_eq!(
            error.code(),
            tonic::Code::InvalidArgument,
            "{case}: {error:?}"
        );
    }
    assert_eq!(redis.keys("*"), Vec::<String>::new());
    assert_eq!(
        rls.metric("mcp_policy_rls_errors_total{kind=\"invalid_request\"}")
            .await,
        9.0
    );
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
                let response = client
                    .should_rate_limit(request)
                    .await
                    .unwrap()
                    .into_inner();
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
    assert_eq!(
        redis.get(&format!("exact_tool_x_{}", window_start(3_600))),
        Some((CLIENTS * CALLS) as i64)
    );
}
