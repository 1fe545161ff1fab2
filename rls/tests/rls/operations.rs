//! The service as operators run it: metrics, signals, the command line.

use std::process::Command;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::r#type::v3::RateLimitUnit::Hour;

use crate::harness::*;

#[tokio::test]
async fn metrics_count_requests_descriptors_errors_and_redis_calls() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &[]).await;
    let limit = || limited(&[("tool", "x")], 1, Hour);
    rls.call(request("metrics", vec![limit(), unlimited(&[("tool", "y")])])).await.unwrap();
    rls.call(request("metrics", vec![limit()])).await.unwrap();
    rls.call(request("metrics", vec![refund(limit(), 1)])).await.unwrap();
    rls.call(request("metrics", vec![unlimited(&[("tool", "y")])])).await.unwrap();
    rls.call(request("", vec![limit()])).await.unwrap_err();

    let (status, text) = rls.get("/metrics").await.unwrap();
    assert_eq!(status, 200);
    for (line, value) in [
        ("mcp_policy_rls_requests_total", 5.0),
        ("mcp_policy_rls_descriptors_total{outcome=\"ok\"}", 1.0),
        ("mcp_policy_rls_descriptors_total{outcome=\"over_limit\"}", 1.0),
        ("mcp_policy_rls_descriptors_total{outcome=\"no_limit\"}", 2.0),
        ("mcp_policy_rls_descriptors_total{outcome=\"refund\"}", 1.0),
        ("mcp_policy_rls_errors_total{kind=\"invalid_request\"}", 1.0),
        ("mcp_policy_rls_errors_total{kind=\"redis_unavailable\"}", 0.0),
        ("mcp_policy_rls_redis_round_trip_seconds_count", 3.0),
    ] {
        assert_eq!(rls.metric(line).await, value, "{line} in\n{text}");
    }
    eventually("redis_up", std::time::Duration::from_secs(5), || async {
        rls.metric("mcp_policy_rls_redis_up").await == 1.0
    })
    .await;
    assert!(text.contains("# TYPE mcp_policy_rls_redis_round_trip_seconds histogram"));
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish_then_stops() {
    let redis = Redis::start();
    let mut rls = Rls::start(&redis, &[]).await;
    let mut client = rls.client().await;
    let call = || request("stop", vec![limited(&[("tool", "x")], 5, Hour)]);
    client.should_rate_limit(call()).await.unwrap();

    redis.pause();
    let mut in_flight = client.clone();
    let in_flight = tokio::spawn(async move { in_flight.should_rate_limit(call()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    rls.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.resume();
    let answer = in_flight.await.unwrap().unwrap().into_inner();
    assert_eq!(answer.statuses[0].limit_remaining, 3);

    let started = Instant::now();
    let status = rls.exit().await;
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let log = rls.log();
    assert!(log.contains("signal=\"SIGTERM\"") && log.contains("stopped"), "{log}");
    assert!(!log.contains("cut off"), "{log}");
}

#[test]
fn help_names_every_setting_and_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_mcp-policy-rls")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, variable) in [
        ("--grpc-addr", "RLS_GRPC_ADDR"),
        ("--http-addr", "RLS_HTTP_ADDR"),
        ("--redis-url", "RLS_REDIS_URL"),
        ("--redis-timeout", "RLS_REDIS_TIMEOUT"),
        ("--allow-negative-hits", "RLS_ALLOW_NEGATIVE_HITS"),
        ("--log-level", "RLS_LOG_LEVEL"),
        ("--log-format", "RLS_LOG_FORMAT"),
    ] {
        assert!(help.contains(flag) && help.contains(variable), "{flag} / {variable} missing:\n{help}");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let redis = Redis::start();
    let rls = Rls::start(&redis, &["--log-format", "json"]).await;
    rls.call(request("logs", vec![limited(&[("tool", "x")], 1, Hour)])).await.unwrap();
    let log = rls.log();
    let listening = log.lines().find(|line| line.contains("listening")).unwrap_or_else(|| panic!("{log}"));
    assert!(listening.starts_with('{') && listening.contains("\"level\":\"INFO\""), "{listening}");
    assert!(listening.contains(&format!("\"grpc\":\"{}\"", rls.grpc)), "{listening}");
}
