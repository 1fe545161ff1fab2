use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitService;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tonic::{Request, Response, Status};
use tracing::{debug, warn};

use crate::metrics::{Metrics, INVALID_REQUEST};
use crate::plan::{plan, Rules};
use crate::store::Store;

pub struct RateLimiter {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub key_prefix: String,
    pub allow_negative_hits: bool,
}

#[tonic::async_trait]
impl RateLimitService for RateLimiter {
    async fn should_rate_limit(
        &self,
        request: Request<RateLimitRequest>,
    ) -> Result<Response<RateLimitResponse>, Status> {
        self.metrics.requests.inc();
        let request = request.into_inner();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Status::internal("the clock is before 1970"))?
            .as_secs();
        let rules = Rules { key_prefix: &self.key_prefix, allow_negative_hits: self.allow_negative_hits };
        let plan = plan(&request, now, &rules).map_err(|invalid| {
            self.metrics.errors.with_label_values(&[INVALID_REQUEST]).inc();
            debug!(domain = %request.domain, error = %invalid, "invalid request");
            Status::invalid_argument(invalid.to_string())
        })?;

        let counts = if plan.charges.is_empty() {
            Vec::new()
        } else {
            let started = Instant::now();
            let result = self.store.charge(&plan.charges).await;
            self.metrics.redis_round_trip.observe(started.elapsed().as_secs_f64());
            result.map_err(|error| {
                self.metrics.errors.with_label_values(&[error.kind()]).inc();
                warn!(domain = %request.domain, kind = error.kind(), %error, "request failed");
                Status::unavailable(error.to_string())
            })?
        };

        let (response, outcomes) = plan
            .answer(&counts)
            .ok_or_else(|| Status::internal("redis answered a different number of counters"))?;
        for outcome in &outcomes {
            self.metrics.descriptors.with_label_values(&[outcome.label()]).inc();
        }
        debug!(domain = %request.domain, overall_code = response.overall_code().as_str_name(), ?outcomes, "answered");
        Ok(Response::new(response))
    }
}
