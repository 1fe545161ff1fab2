//! The rate-limit service protocol as the filter speaks it: Envoy's
//! `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` (gRPC),
//! which envoyproxy/ratelimit, Kuadrant's Limitador and `mcp-policy-rls`
//! serve. Pure: the filter dispatches the bytes built here and reads the
//! answer with `answer::read`.
//!
//! Each counter is one descriptor with three entries, `counter` (its name),
//! `scope` (`grant`, `global`, `session`, `header:<name>`, `claim:<name>`)
//! and `value` (a hash of whose budget it is, keyed with `counter_key`, so
//! that no session id, header or claim value leaves the filter), and a
//! limit override: `max` per `unit`.

pub mod answer;
pub mod proto;
pub mod request;
pub mod unit;

pub use answer::{read, Answer, CallFailure, Status};
pub use request::{charge_request, encode, grpc_service, keyed_value, refund_request, Counter};
pub use unit::Unit;

/// The gRPC service and method the filter calls.
pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
pub const METHOD: &str = "ShouldRateLimit";
