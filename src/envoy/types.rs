//! The proxy-wasm 0.2.1 ABI's enumerations, with the values and variant names
//! of the `proxy-wasm` crate's `types` module (which this module cannot link:
//! see the README's "ABI glue"). Only what the filter uses is listed, except
//! `Status` and `LogLevel`, which the host hands back and so must be read in
//! full. Values from the host stay `u32` at the FFI boundary and become these
//! enums through total functions: an out-of-range value is never a Rust enum.

/// The result of a host call (Envoy's `WasmResult`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    ParseFailure = 4,
    BadExpression = 5,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    ResultMismatch = 9,
    InternalFailure = 10,
    BrokenConnection = 11,
    Unimplemented = 12,
}

impl Status {
    /// `None` for a value the ABI does not define.
    pub fn from_raw(raw: u32) -> Option<Status> {
        Some(match raw {
            0 => Status::Ok,
            1 => Status::NotFound,
            2 => Status::BadArgument,
            3 => Status::SerializationFailure,
            4 => Status::ParseFailure,
            5 => Status::BadExpression,
            6 => Status::InvalidMemoryAccess,
            7 => Status::Empty,
            8 => Status::CasMismatch,
            9 => Status::ResultMismatch,
            10 => Status::InternalFailure,
            11 => Status::BrokenConnection,
            12 => Status::Unimplemented,
            _ => return None,
        })
    }
}

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    /// `None` for any other value, such as Envoy's "off" (6).
    pub fn from_raw(raw: u32) -> Option<LogLevel> {
        Some(match raw {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// What a stream callback returns to the host.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue = 0,
    Pause = 1,
}

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpResponseHeaders = 2,
}

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferType {
    HttpRequestBody = 0,
    HttpResponseBody = 1,
    /// The answer of a gRPC call, in `proxy_on_grpc_receive`.
    GrpcReceiveBuffer = 5,
    PluginConfiguration = 7,
}

/// Which stream `proxy_close_stream` closes, or `proxy_continue_stream`
/// lets go on.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamType {
    HttpRequest = 0,
    HttpResponse = 1,
}

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter = 0,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_and_stop_at_the_abi_list() {
        for raw in 0..=12 {
            assert_eq!(Status::from_raw(raw).map(|status| status as u32), Some(raw));
        }
        for raw in [13, 99, u32::MAX] {
            assert_eq!(Status::from_raw(raw), None);
        }
    }

    #[test]
    fn log_levels_read_back_and_off_is_none() {
        for raw in 0..=5 {
            assert_eq!(LogLevel::from_raw(raw).map(|level| level as u32), Some(raw));
        }
        assert_eq!(LogLevel::from_raw(6), None);
        assert_eq!(LogLevel::from_raw(u32::MAX), None);
    }
}
