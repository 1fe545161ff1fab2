//! `Host` over the proxy-wasm ABI, for the stream being processed.

use std::cell::RefCell;
use std::collections::HashMap;

use super::abi;
use super::types::{BufferType, MapType, MetricType};
use crate::host::{encode_struct, GrpcCall, HeaderMap, Host, HostError, LocalReply, StateValue};
use crate::store::{Entry, SharedStore, StoreError};

pub struct EnvoyHost;

thread_local! {
    /// Metric ids of this VM, by name. A VM is single-threaded.
    static METRICS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

fn metric_id(name: &str) -> Result<u32, HostError> {
    if let Some(id) = METRICS.with(|metrics| metrics.borrow().get(name).copied()) {
        return Ok(id);
    }
    let id = abi::define_metric(MetricType::Counter, name)?;
    METRICS.with(|metrics| metrics.borrow_mut().insert(name.to_string(), id));
    Ok(id)
}

impl SharedStore for EnvoyHost {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        abi::get_shared_data(key)
            .map(|found| found.map(|(value, cas)| Entry { value, cas }))
            .map_err(|error| StoreError::Host(error.to_string()))
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        match abi::set_shared_data(key, value, cas.unwrap_or(0)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(StoreError::CasMismatch),
            Err(error) => Err(StoreError::Host(error.to_string())),
        }
    }
}

impl Host for EnvoyHost {
    fn now_millis(&self) -> Result<u64, HostError> {
        abi::now_nanos().map(|nanos| nanos / 1_000_000)
    }

    fn now_nanos(&self) -> Result<u64, HostError> {
        abi::now_nanos()
    }

    fn request_headers(&self) -> Result<HeaderMap, HostError> {
        abi::get_header_map(MapType::HttpRequestHeaders)
    }

    fn set_request_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        abi::set_header(MapType::HttpRequestHeaders, name, value)
    }

    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        abi::get_buffer(BufferType::HttpRequestBody, start, len)
    }

    fn replace_request_body(&self, start: usize, len: usize, data: &[u8]) -> Result<(), HostError> {
        abi::set_buffer(BufferType::HttpRequestBody, start, len, data)
    }

    fn response_headers(&self) -> Result<HeaderMap, HostError> {
        abi::get_header_map(MapType::HttpResponseHeaders)
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        abi::set_header(MapType::HttpResponseHeaders, name, value)
    }

    fn response_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        abi::get_buffer(BufferType::HttpResponseBody, start, len)
    }

    fn replace_response_body(
        &self,
        start: usize,
        len: usize,
        data: &[u8],
    ) -> Result<(), HostError> {
        abi::set_buffer(BufferType::HttpResponseBody, start, len, data)
    }

    fn send_reply(&self, reply: &LocalReply) -> Result<(), HostError> {
        abi::send_local_response(reply.status, reply.details, &reply.headers, &reply.body)
    }

    fn reset_stream(&self) -> Result<(), HostError> {
        abi::close_response_stream()
    }

    fn increment_counter(&self, name: &str, delta: u64) -> Result<(), HostError> {
        let id = metric_id(name)?;
        abi::increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX))
    }

    fn set_filter_state(&self, name: &str, value: &str) -> Result<(), HostError> {
        abi::set_property(name, value.as_bytes())
    }

    fn set_filter_state_struct(
        &self,
        name: &str,
        fields: &[(&str, StateValue)],
    ) -> Result<(), HostError> {
        abi::set_property(name, &encode_struct(fields))
    }

    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        abi::get_property(path)
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> Result<u32, HostError> {
        abi::dispatch_grpc_call(call)
    }

    fn resume_request(&self) -> Result<(), HostError> {
        abi::continue_request()
    }
}
