//! When Redis is gone, slow or full, no call is answered OK.

use std::time::Duration;

use envoy_types::pb::envoy::r#type::v3::RateLimitUnit::Hour;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::harness::*;

const READY_WITHIN: Duration = Duration::from_secs(5);

fn call() -> envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest {
    request("failures", vec![limited(&[("tool", "x")], 1_000, Hour)])
}

async fn ready(rls: &Rls) -> bool {
    rls.get("/readyz").await.is_some_and(|(status, _)| status == 200)
}

async fn serving(rls: &Rls) -> bool {
    rls.health("").await == ServingStatus::Serving && rls.health(SERVICE).await == ServingStatus::Serving
}

#[tokio::test]
async fn redis_killed_fails_closed_and_restarted_answers_again_without_a_restart() {
    let mut redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    eventually("ready", READY_WITHIN, || ready(&rls)).await;
    assert!(serving(&rls).await);
    assert_eq!(rls.call(call()).await.unwrap().overall_code(), Code::Ok);

    redis.kill();
    for _ in 0..3 {
        let error = rls.call(call()).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    }
    eventually("/readyz fails", READY_WITHIN, || async { rls.get("/readyz").await.unwrap().0 == 503 }).await;
    eventually("gRPC health NOT_SERVING", READY_WITHIN, || async {
        rls.health("").await == ServingStatus::NotServing
            && rls.health(SERVICE).await == ServingStatus::NotServing
    })
    .await;
    assert_eq!(rls.get("/healthz").await.unwrap().0, 200, "liveness does not follow Redis");
    assert_eq!(rls.metric("mcp_policy_rls_redis_up").await, 0.0);

    redis.start_again();
    eventually("answers OK again", READY_WITHIN, || async { rls.call(call()).await.is_ok() }).await;
    eventually("ready again", READY_WITHIN, || ready(&rls)).await;
    eventually("SERVING again", READY_WITHIN, || serving(&rls)).await;
    assert!(rls.metric("mcp_policy_rls_errors_total{kind=\"redis_unavailable\"}").await >= 3.0);
}

#[tokio::test]
async fn starting_before_redis_is_not_ready_until_redis_answers() {
    let mut redis = Redis::absent(free_port());
    let rls = Rls::start(&redis, &[]).await;
    assert_eq!(rls.get("/readyz").await.unwrap().0, 503);
    assert_eq!(rls.health("").await, ServingStatus::NotServing);
    assert_eq!(rls.call(call()).await.unwrap_err().code(), tonic::Code::Unavailable);

    redis.start_again();
    eventually("ready", READY_WITHIN, || ready(&rls)).await;
    eventually("answers OK", READY_WITHIN, || async { rls.call(call()).await.is_ok() }).await;
}

#[tokio::test]
async fn a_redis_slower_than_the_timeout_is_unavailable() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &["--redis-timeout", "200ms"]).await;
    assert!(rls.call(call()).await.is_ok());

    redis.pause();
    let started = std::time::Instant::now();
    let error = rls.call(call()).await.unwrap_err();
    let took = started.elapsed();
    redis.resume();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(2), "{took:?}");
    assert_eq!(rls.metric("mcp_policy_rls_errors_total{kind=\"redis_timeout\"}").await, 1.0);
    eventually("answers OK again", READY_WITHIN, || async { rls.call(call()).await.is_ok() }).await;
}

#[tokio::test]
async fn a_full_redis_is_unavailable_never_ok() {
    const PER_CALL: usize = 100;
    let redis = Redis::with_maxmemory("2mb");
    let rls = Rls::start(&redis, &[]).await;
    let mut client = rls.client().await;
    let keys = |call: usize| (0..PER_CALL).map(move |i| format!("{call}-{i}"));
    let distinct = |call: usize| {
        request("full", keys(call).map(|session| limited(&[("session", &session)], 5, Hour)).collect())
    };
    let counted = |call: usize| {
        let start = window_start(3_600);
        keys(call).map(|session| redis.get(&format!("full_session_{session}_{start}"))).collect::<Vec<_>>()
    };

    // Filling it: an answer is OK with every counter charged, or UNAVAILABLE
    // with none (Redis refuses the whole script). Near the cap Redis admits
    // some calls and refuses others, as its buffers come and go.
    let (mut admitted, mut refused) = (0, 0);
    for call in 0..1_000 {
        match client.should_rate_limit(distinct(call)).await {
            Ok(response) => {
                assert_eq!(response.into_inner().overall_code(), Code::Ok);
                assert_eq!(counted(call), vec![Some(1); PER_CALL], "call {call}");
                admitted += 1;
            }
            Err(error) => {
                assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
                assert!(error.message().contains("maxmemory"), "{error:?}");
                assert_eq!(counted(call), vec![None; PER_CALL], "call {call}");
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
        }
    }
    assert!(admitted > 0 && refused == 20, "{admitted} admitted, {refused} refused");
    assert_eq!(rls.metric("mcp_policy_rls_errors_total{kind=\"redis_full\"}").await, 20.0);

    // Well past the cap nothing is OK: new counters, existing ones, checks and refunds.
    let mut admin = redis.connection().unwrap();
    redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("1mb").query::<()>(&mut admin).unwrap();
    let existing = limited(&[("session", "0-0")], 5, Hour);
    for request in [
        distinct(10_000),
        request("full", vec![existing.clone()]),
        request("full", vec![with_hits(existing.clone(), 0)]),
        request("full", vec![refund(existing, 1)]),
    ] {
        let error = client.should_rate_limit(request).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    }
    assert_eq!(counted(0)[0], Some(1));
    assert_eq!(rls.metric("mcp_policy_rls_errors_total{kind=\"redis_full\"}").await, 24.0);
    assert!(ready(&rls).await, "a full Redis still answers pings");
}
