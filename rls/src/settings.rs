use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};
use tracing_subscriber::filter::Targets;

/// A rate-limit service speaking Envoy's RLS protocol
/// (envoy.service.ratelimit.v3.RateLimitService) for mcp-policy-filter.
///
/// It has no limits of its own: each descriptor's `limit` override is its
/// limit. Counters are fixed windows in Redis. Every flag can also be set by
/// the environment variable shown with it.
#[derive(Debug, Parser)]
#[command(name = "mcp-policy-rls", version, args_override_self = true)]
pub struct Settings {
    /// gRPC listener: RateLimitService and grpc.health.v1.Health.
    #[arg(long, env = "RLS_GRPC_ADDR", default_value = "0.0.0.0:8081")]
    pub grpc_addr: SocketAddr,

    /// HTTP listener: /healthz, /readyz and /metrics.
    #[arg(long, env = "RLS_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// The Redis that holds the counters: redis://[[user]:password@]host[:port][/db].
    #[arg(long, env = "RLS_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Longest wait for one Redis round trip, reconnecting included. A request
    /// that waits longer fails with UNAVAILABLE. Keep it below the caller's
    /// own RLS timeout.
    #[arg(long, env = "RLS_REDIS_TIMEOUT", default_value = "100ms", value_parser = positive_duration)]
    pub redis_timeout: Duration,

    /// How often Redis is pinged for /readyz and the gRPC health status.
    #[arg(long, env = "RLS_REDIS_PROBE_INTERVAL", default_value = "1s", value_parser = positive_duration)]
    pub redis_probe_interval: Duration,

    /// Prefix of every counter key, to share one Redis between deployments
    /// (envoyproxy/ratelimit's CACHE_KEY_PREFIX).
    #[arg(long, env = "RLS_KEY_PREFIX", default_value = "")]
    pub key_prefix: String,

    /// Accept descriptors with `is_negative_hits` (refunds). With `false`, a
    /// request that holds one is refused with INVALID_ARGUMENT.
    #[arg(long, env = "RLS_ALLOW_NEGATIVE_HITS", default_value_t = true, action = ArgAction::Set)]
    pub allow_negative_hits: bool,

    /// After SIGTERM or SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "RLS_DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// Log filter: a level (error, warn, info, debug, trace) or directives
    /// such as `info,mcp_policy_rls=debug`.
    #[arg(long, env = "RLS_LOG_LEVEL", default_value = "info")]
    pub log_level: Targets,

    /// Log format.
    #[arg(long, env = "RLS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, with key=value fields.
    Text,
    /// One JSON object per event.
    Json,
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than zero".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Settings::command().debug_assert();
    }

    #[test]
    fn durations_and_booleans_parse() {
        let settings = Settings::try_parse_from([
            "mcp-policy-rls",
            "--redis-timeout",
            "250ms",
            "--allow-negative-hits",
            "false",
        ])
        .unwrap();
        assert_eq!(settings.redis_timeout, Duration::from_millis(250));
        assert!(!settings.allow_negative_hits);
        assert!(Settings::try_parse_from(["mcp-policy-rls", "--redis-timeout", "0s"]).is_err());
    }
}
