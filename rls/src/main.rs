mod health;
mod http;
mod logs;
mod metrics;
mod plan;
mod service;
mod settings;
mod shutdown;
mod store;
mod window;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tracing::{error, info, warn};

use crate::health::Health;
use crate::metrics::Metrics;
use crate::service::RateLimiter;
use crate::settings::Settings;
use crate::shutdown::{stopped, Signals};
use crate::store::Store;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Err(error) = logs::init(settings.log_level.clone(), settings.log_format) {
        eprintln!("mcp-policy-rls: {error}");
        return ExitCode::FAILURE;
    }
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!(%error, "mcp-policy-rls stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), BoxError> {
    let signals = Signals::listen()?;
    let metrics = Arc::new(Metrics::new()?);
    let store = Store::new(&settings.redis_url, settings.redis_timeout)?;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health::new(reporter).await;
    let limiter = RateLimiter {
        store: store.clone(),
        metrics: metrics.clone(),
        key_prefix: settings.key_prefix,
        allow_negative_hits: settings.allow_negative_hits,
    };
    let grpc_listener = bind(settings.grpc_addr, "gRPC").await?;
    let http_listener = bind(settings.http_addr, "HTTP").await?;
    info!(
        grpc = %settings.grpc_addr,
        http = %settings.http_addr,
        redis_timeout = ?settings.redis_timeout,
        allow_negative_hits = settings.allow_negative_hits,
        "listening"
    );

    let (stop, stop_signal) = watch::channel(false);
    let probe = tokio::spawn(health.clone().watch_redis(
        store,
        metrics.clone(),
        settings.redis_probe_interval,
        stop_signal.clone(),
    ));
    let grpc = Server::builder()
        .add_service(health_service)
        .add_service(RateLimitServiceServer::new(limiter))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
            stopped(stop_signal.clone()),
        );
    let http = axum::serve(http_listener, http::router(health.ready.clone(), metrics))
        .with_graceful_shutdown(stopped(stop_signal));
    let servers = async {
        tokio::try_join!(async { grpc.await.map_err(BoxError::from) }, async {
            http.await.map_err(BoxError::from)
        },)
    };
    tokio::pin!(servers);

    tokio::select! {
        result = &mut servers => {
            result?;
            return Err("the listeners stopped without a signal".into());
        }
        name = signals.received() => info!(signal = name, "shutting down"),
    }
    health.report(ServingStatus::NotServing).await;
    let _ = stop.send(true);
    match tokio::time::timeout(settings.drain_timeout, &mut servers).await {
        Ok(result) => {
            result?;
        }
        Err(_) => warn!(drain_timeout = ?settings.drain_timeout, "in-flight requests were cut off"),
    }
    probe.await?;
    info!("stopped");
    Ok(())
}

async fn bind(address: std::net::SocketAddr, name: &str) -> Result<TcpListener, BoxError> {
    TcpListener::bind(address).await.map_err(|error| format!("{name} listener on {address}: {error}").into())
}
