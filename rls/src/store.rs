//! The counters in Redis: every charge of a request in one script call.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::TcpSettings;
use redis::{Client, IntoConnectionInfo, RedisError, Script};

use crate::plan::Charge;

#[derive(Clone)]
pub struct Store {
    connection: ConnectionManager,
    script: Script,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis is unavailable: {0}")]
    Unavailable(RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis refuses writes (maxmemory reached): {0}")]
    Full(RedisError),
}

impl StoreError {
    pub const KINDS: [&'static str; 3] = ["redis_unavailable", "redis_timeout", "redis_full"];

    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => Self::KINDS[0],
            StoreError::Timeout(_) => Self::KINDS[1],
            StoreError::Full(_) => Self::KINDS[2],
        }
    }

    fn from_redis(error: RedisError) -> StoreError {
        if error.code() == Some("OOM") || error.to_string().contains("OOM command not allowed") {
            StoreError::Full(error)
        } else {
            StoreError::Unavailable(error)
        }
    }
}

impl Store {
    /// Connects on first use, and reconnects after the connection drops.
    pub fn new(url: &str, timeout: Duration) -> Result<Store, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        // Without TCP_NODELAY, concurrent calls wait on delayed ACKs (tens of ms).
        let info = url.into_connection_info()?.set_tcp_settings(TcpSettings::default().set_nodelay(true));
        let connection = ConnectionManager::new_lazy_with_config(Client::open(info)?, config)?;
        Ok(Store { connection, script: Script::new(include_str!("charge.lua")), timeout })
    }

    /// Applies the charges; returns each counter after its charge.
    pub async fn charge(&self, charges: &[Charge]) -> Result<Vec<u64>, StoreError> {
        let mut invocation = self.script.prepare_invoke();
        for charge in charges {
            invocation.key(&charge.key).arg(charge.hits).arg(charge.ttl_seconds);
        }
        let mut connection = self.connection.clone();
        self.bounded(async move { invocation.invoke_async(&mut connection).await }).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(async move { redis::cmd("PING").query_async::<()>(&mut connection).await }).await
    }

    async fn bounded<T>(&self, call: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_timeout() => Err(StoreError::Timeout(self.timeout)),
            Ok(Err(error)) => Err(StoreError::from_redis(error)),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        }
    }
}
