use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::plan::Outcome;
use crate::store::StoreError;

pub const INVALID_REQUEST: &str = "invalid_request";

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounter,
    pub descriptors: IntCounterVec,
    pub errors: IntCounterVec,
    pub redis_round_trip: Histogram,
    pub redis_up: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("mcp_policy_rls".into()), None)?;
        let requests = IntCounter::new("requests_total", "ShouldRateLimit calls received.")?;
        let descriptors = IntCounterVec::new(
            Opts::new(
                "descriptors_total",
                "Descriptors answered, by outcome: ok, over_limit, no_limit (no limit override, not counted), refund.",
            ),
            &["outcome"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "errors_total",
                "ShouldRateLimit calls answered with an error, by kind: invalid_request (INVALID_ARGUMENT), \
                 redis_unavailable, redis_timeout, redis_full (UNAVAILABLE).",
            ),
            &["kind"],
        )?;
        let redis_round_trip = Histogram::with_opts(
            HistogramOpts::new(
                "redis_round_trip_seconds",
                "Time of the one Redis call that charges a request.",
            )
            .buckets(exponential_buckets(0.000_1, 2.0, 15)?),
        )?;
        let redis_up = IntGauge::new("redis_up", "1 while the last Redis ping was answered, else 0.")?;
        for outcome in Outcome::ALL {
            descriptors.with_label_values(&[outcome.label()]);
        }
        for kind in StoreError::KINDS.into_iter().chain([INVALID_REQUEST]) {
            errors.with_label_values(&[kind]);
        }
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(descriptors.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(redis_round_trip.clone()))?;
        registry.register(Box::new(redis_up.clone()))?;
        Ok(Metrics { registry, requests, descriptors, errors, redis_round_trip, redis_up })
    }

    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_exported_from_the_start() {
        let text = Metrics::new().unwrap().render().unwrap();
        for line in [
            "mcp_policy_rls_requests_total 0",
            "mcp_policy_rls_descriptors_total{outcome=\"no_limit\"} 0",
            "mcp_policy_rls_errors_total{kind=\"redis_full\"} 0",
            "mcp_policy_rls_errors_total{kind=\"invalid_request\"} 0",
            "mcp_policy_rls_redis_round_trip_seconds_count 0",
            "mcp_policy_rls_redis_up 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
}
