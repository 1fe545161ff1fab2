//! Real processes on loopback: a redis-server in a temporary directory and
//! the mcp-policy-rls binary, both killed when dropped, and clients for them.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::{
    Entry, RateLimitOverride,
};
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::UInt64Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";

/// The longest any one call of a test may take.
const CALL_LIMIT: Duration = Duration::from_secs(10);

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `check` every 20 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -{name}");
}

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    maxmemory: &'static str,
    dir: TempDir,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::with_maxmemory("64mb")
    }

    pub fn with_maxmemory(maxmemory: &'static str) -> Redis {
        Redis::on_port(free_port(), maxmemory)
    }

    /// Not started: `start_again` starts it.
    pub fn absent(port: u16) -> Redis {
        Redis { child: None, port, maxmemory: "64mb", dir: TempDir::new().unwrap() }
    }

    fn on_port(port: u16, maxmemory: &'static str) -> Redis {
        let mut redis = Redis::absent(port);
        redis.maxmemory = maxmemory;
        redis.start_again();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A fresh, empty Redis on the same port.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis is running");
        let log = std::fs::File::create(self.dir.path().join("redis.log")).unwrap();
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.connection().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on {port}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn pause(&self) {
        signal(self.child.as_ref().unwrap(), "STOP");
    }

    pub fn resume(&self) {
        signal(self.child.as_ref().unwrap(), "CONT");
    }

    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let connection = redis::Client::open(self.url())?.get_connection_with_timeout(CALL_LIMIT)?;
        connection.set_read_timeout(Some(CALL_LIMIT))?;
        Ok(connection)
    }

    pub fn get(&self, key: &str) -> Option<i64> {
        redis::cmd("GET").arg(key).query(&mut self.connection().unwrap()).unwrap()
    }

    pub fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL").arg(key).query(&mut self.connection().unwrap()).unwrap()
    }

    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> =
            redis::cmd("KEYS").arg(pattern).query(&mut self.connection().unwrap()).unwrap();
        keys.sort();
        keys
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.kill();
    }
}

pub struct Rls {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    dir: TempDir,
}

impl Rls {
    pub async fn start(redis: &Redis, args: &[&str]) -> Rls {
        let dir = TempDir::new().unwrap();
        let grpc: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-policy-rls"))
            .args(["--grpc-addr", &grpc.to_string(), "--http-addr", &http.to_string()])
            .args([
                "--redis-url",
                &redis.url(),
                "--redis-probe-interval",
                "50ms",
                "--log-level",
                "info,mcp_policy_rls=debug",
            ])
            // Generous: the machine may be busy. Tests of the timeout set their own.
            .args(["--redis-timeout", "2s"])
            .args(args)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("rls.log")).unwrap())
            .spawn()
            .unwrap();
        let rls = Rls { child, grpc, http, dir };
        eventually("mcp-policy-rls answers /healthz", Duration::from_secs(10), || async {
            rls.get("/healthz").await.is_some_and(|(status, _)| status == 200)
        })
        .await;
        rls
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rls.log")).unwrap_or_default()
    }

    /// Every call on it fails after CALL_LIMIT, whatever the service does.
    async fn channel(&self) -> Channel {
        let endpoint = Channel::from_shared(format!("http://{}", self.grpc)).unwrap();
        endpoint.connect_timeout(CALL_LIMIT).timeout(CALL_LIMIT).connect().await.unwrap()
    }

    pub async fn client(&self) -> RateLimitServiceClient<Channel> {
        RateLimitServiceClient::new(self.channel().await)
    }

    pub async fn call(&self, request: RateLimitRequest) -> Result<RateLimitResponse, tonic::Status> {
        self.client().await.should_rate_limit(request).await.map(|r| r.into_inner())
    }

    pub async fn health(&self, service: &str) -> ServingStatus {
        let mut client = HealthClient::new(self.channel().await);
        let response = client.check(HealthCheckRequest { service: service.into() }).await.unwrap();
        response.into_inner().status()
    }

    /// An HTTP/1.0 GET: the status and the body, or None when nothing answers in time.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        tokio::time::timeout(CALL_LIMIT, self.get_unbounded(path)).await.ok()?
    }

    async fn get_unbounded(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(self.http).await.ok()?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: rls\r\n\r\n").as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await.unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in\n{text}"))
    }

    pub fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    /// Waits for the process to exit, keeping this runtime's clients answering.
    pub async fn exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "mcp-policy-rls did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Rls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- mcp-policy-rls log ---\n{}", self.log());
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Waits, when needed, so that at least `margin` is left in the current window of `unit_seconds`.
pub async fn clear_of_window_end(unit_seconds: u64, margin: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let unit = Duration::from_secs(unit_seconds);
    let into = Duration::from_nanos((now.as_nanos() % unit.as_nanos()) as u64);
    if unit - into < margin {
        tokio::time::sleep(unit - into + Duration::from_millis(20)).await;
    }
}

pub fn window_start(unit_seconds: u64) -> u64 {
    let now = now();
    now - now % unit_seconds
}

pub fn entries(pairs: &[(&str, &str)]) -> Vec<Entry> {
    pairs.iter().map(|(key, value)| Entry { key: key.to_string(), value: value.to_string() }).collect()
}

pub fn unlimited(pairs: &[(&str, &str)]) -> RateLimitDescriptor {
    RateLimitDescriptor { entries: entries(pairs), ..Default::default() }
}

pub fn limited(pairs: &[(&str, &str)], requests_per_unit: u32, unit: RateLimitUnit) -> RateLimitDescriptor {
    RateLimitDescriptor {
        entries: entries(pairs),
        limit: Some(RateLimitOverride { requests_per_unit, unit: unit as i32 }),
        ..Default::default()
    }
}

pub fn with_hits(mut descriptor: RateLimitDescriptor, hits: u64) -> RateLimitDescriptor {
    descriptor.hits_addend = Some(UInt64Value { value: hits });
    descriptor
}

pub fn refund(descriptor: RateLimitDescriptor, hits: u64) -> RateLimitDescriptor {
    RateLimitDescriptor { is_negative_hits: true, ..with_hits(descriptor, hits) }
}

pub fn request(domain: &str, descriptors: Vec<RateLimitDescriptor>) -> RateLimitRequest {
    RateLimitRequest { domain: domain.into(), descriptors, hits_addend: 0 }
}

/// Each status as (code, limit_remaining).
pub fn codes(response: &RateLimitResponse) -> (Code, Vec<(Code, u32)>) {
    let statuses = response.statuses.iter().map(|s| (s.code(), s.limit_remaining)).collect();
    (response.overall_code(), statuses)
}
