//! The ABI enumerations of `src/envoy/types.rs` carry the `proxy-wasm`
//! crate's values. The module restates them because it cannot link the
//! crate (README, "ABI glue"); a native test can, as long as it does not
//! link the module's own exports too, so this file includes `types.rs` alone.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../src/envoy/types.rs"]
mod types;

use proxy_wasm::types as sdk;

#[test]
fn enumerations_match_the_proxy_wasm_crate() {
    use types::{Action, BufferType, LogLevel, MapType, MetricType, Status, StreamType};
    let pairs = [
        (Status::Ok as u32, sdk::Status::Ok as u32),
        (Status::NotFound as u32, sdk::Status::NotFound as u32),
        (Status::BadArgument as u32, sdk::Status::BadArgument as u32),
        (
            Status::SerializationFailure as u32,
            sdk::Status::SerializationFailure as u32,
        ),
        (
            Status::ParseFailure as u32,
            sdk::Status::ParseFailure as u32,
        ),
        (Status::Empty as u32, sdk::Status::Empty as u32),
        (Status::CasMismatch as u32, sdk::Status::CasMismatch as u32),
        (
            Status::InternalFailure as u32,
            sdk::Status::InternalFailure as u32,
        ),
        (LogLevel::Trace as u32, sdk::LogLevel::Trace as u32),
        (LogLevel::Debug as u32, sdk::LogLevel::Debug as u32),
        (LogLevel::Info as u32, sdk::LogLevel::Info as u32),
        (LogLevel::Warn as u32, sdk::LogLevel::Warn as u32),
        (LogLevel::Error as u32, sdk::LogLevel::Error as u32),
        (LogLevel::Critical as u32, sdk::LogLevel::Critical as u32),
        (Action::Continue as u32, sdk::Action::Continue as u32),
        (
            StreamType::HttpResponse as u32,
            sdk::StreamType::HttpResponse as u32,
        ),
        (
            StreamType::HttpRequest as u32,
            sdk::StreamType::HttpRequest as u32,
        ),
        (Action::Pause as u32, sdk::Action::Pause as u32),
        (
            MapType::HttpRequestHeaders as u32,
            sdk::MapType::HttpRequestHeaders as u32,
        ),
        (
            MapType::HttpResponseHeaders as u32,
            sdk::MapType::HttpResponseHeaders as u32,
        ),
        (
            BufferType::HttpRequestBody as u32,
            sdk::BufferType::HttpRequestBody as u32,
        ),
        (
            BufferType::HttpResponseBody as u32,
            sdk::BufferType::HttpResponseBody as u32,
        ),
        (
            BufferType::PluginConfiguration as u32,
            sdk::BufferType::PluginConfiguration as u32,
        ),
        (
            BufferType::GrpcReceiveBuffer as u32,
            sdk::BufferType::GrpcReceiveBuffer as u32,
        ),
        (MetricType::Counter as u32, sdk::MetricType::Counter as u32),
    ];
    for (index, (ours, crate_value)) in pairs.into_iter().enumerate() {
        assert_eq!(ours, crate_value, "pair {index}");
    }
}
