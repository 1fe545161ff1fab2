//! Readiness follows Redis: a ping every interval sets /readyz, the gRPC
//! health statuses and the redis_up gauge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use tokio::sync::watch;
use tonic::server::NamedService;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::service::RateLimiter;
use crate::store::Store;

/// The overall server ("") and the rate-limit service.
const SERVICES: [&str; 2] = ["", <RateLimitServiceServer<RateLimiter> as NamedService>::NAME];

#[derive(Clone)]
pub struct Health {
    pub ready: Arc<AtomicBool>,
    reporter: HealthReporter,
}

impl Health {
    pub async fn new(reporter: HealthReporter) -> Health {
        let health = Health { ready: Arc::new(AtomicBool::new(false)), reporter };
        health.report(ServingStatus::NotServing).await;
        health
    }

    pub async fn report(&self, status: ServingStatus) {
        self.ready.store(status == ServingStatus::Serving, Ordering::Relaxed);
        for service in SERVICES {
            self.reporter.set_service_status(service, status).await;
        }
    }

    pub async fn watch_redis(
        self,
        store: Store,
        metrics: Arc<Metrics>,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut was_up = None;
        loop {
            let result = store.ping().await;
            let up = result.is_ok();
            if was_up != Some(up) {
                match result {
                    Ok(()) => info!("redis answers: serving"),
                    Err(error) => warn!(%error, "redis does not answer: not serving"),
                }
                self.report(if up { ServingStatus::Serving } else { ServingStatus::NotServing }).await;
                metrics.redis_up.set(i64::from(up));
                was_up = Some(up);
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    }
}
