//! An in-memory host with Envoy's semantics, for native tests of the filter:
//! header maps, buffered bodies, local replies, a clock, and shared data
//! whose compare-and-swap behaves like Envoy's (see `crate::store`).

use std::cell::{Cell, RefCell};

use super::{GrpcCall, HeaderMap, Host, HostError, LocalReply, StateValue};
use crate::store::{Entry, MemoryStore, SharedStore, StoreError};

#[derive(Default)]
pub struct FakeHost {
    pub now_millis: Cell<u64>,
    pub request_headers: RefCell<Vec<(String, String)>>,
    pub request_body: RefCell<Vec<u8>>,
    pub response_headers: RefCell<Vec<(String, String)>>,
    /// The response body chunk currently buffered (what the filter may read and replace).
    pub response_body: RefCell<Vec<u8>>,
    pub replies: RefCell<Vec<LocalReply>>,
    pub store: MemoryStore,
    /// Makes every header call fail, for fail-closed tests.
    pub broken_headers: Cell<bool>,
    /// Makes reading the response body fail.
    pub broken_response_body: Cell<bool>,
    /// Makes replacing the response body fail.
    pub broken_response_replace: Cell<bool>,
    /// Makes the clock fail.
    pub broken_clock: Cell<bool>,
    /// How many times the filter reset the stream.
    pub resets: Cell<u32>,
    pub counters: RefCell<std::collections::BTreeMap<String, u64>>,
    pub filter_state: RefCell<std::collections::BTreeMap<String, String>>,
    /// Filter-state objects (`set_filter_state_struct`), as JSON objects.
    pub state_objects: RefCell<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Properties by path joined with '/'.
    pub properties: RefCell<std::collections::BTreeMap<String, Vec<u8>>>,
    /// The gRPC calls started, in order; call `n` (from 0) got token `n + 1`.
    pub grpc_calls: RefCell<Vec<RecordedCall>>,
    /// Makes starting a gRPC call fail.
    pub broken_grpc: Cell<bool>,
    /// How many times a paused request was resumed.
    pub resumed: Cell<u32>,
}

/// A gRPC call the filter started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCall {
    pub service: Vec<u8>,
    pub service_name: String,
    pub method: String,
    pub message: Vec<u8>,
    pub timeout_ms: u32,
}

impl FakeHost {
    /// A host sharing `store` with others, as Envoy's workers share shared data.
    pub fn with_store(store: MemoryStore) -> FakeHost {
        FakeHost {
            store,
            ..FakeHost::default()
        }
    }

    pub fn request_header(&self, name: &str) -> Option<String> {
        self.request_headers
            .borrow()
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        self.response_headers
            .borrow()
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.counters.borrow().get(name).copied().unwrap_or(0)
    }

    pub fn state(&self, name: &str) -> Option<String> {
        self.filter_state.borrow().get(name).cloned()
    }

    /// Field `field` of the filter-state object `name`.
    pub fn state_field(&self, name: &str, field: &str) -> Option<serde_json::Value> {
        self.state_objects.borrow().get(name)?.get(field).cloned()
    }

    pub fn last_reply(&self) -> Option<LocalReply> {
        self.replies.borrow().last().cloned()
    }
}

fn set_header(map: &RefCell<Vec<(String, String)>>, name: &str, value: Option<&str>) {
    let mut map = map.borrow_mut();
    map.retain(|(candidate, _)| !candidate.eq_ignore_ascii_case(name));
    if let Some(value) = value {
        map.push((name.to_string(), value.to_string()));
    }
}

/// Envoy hands header names over lowercased, whatever the client sent.
fn as_envoy_gives(headers: &[(String, String)]) -> HeaderMap {
    headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

fn splice(buffer: &RefCell<Vec<u8>>, start: usize, len: usize, data: &[u8]) {
    let mut body = buffer.borrow_mut();
    let end = start.saturating_add(len).min(body.len());
    let start = start.min(end);
    body.splice(start..end, data.iter().copied());
}

fn slice(buffer: &[u8], start: usize, len: usize) -> Vec<u8> {
    buffer.iter().skip(start).take(len).copied().collect()
}

impl SharedStore for FakeHost {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.store.get(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.store.set(key, value, cas)
    }
}

impl Host for FakeHost {
    fn now_millis(&self) -> Result<u64, HostError> {
        if self.broken_clock.get() {
            return Err(HostError::new("get_current_time", "injected failure"));
        }
        Ok(self.now_millis.get())
    }

    fn request_headers(&self) -> Result<HeaderMap, HostError> {
        if self.broken_headers.get() {
            return Err(HostError::new("get_map", "injected failure"));
        }
        Ok(as_envoy_gives(&self.request_headers.borrow()))
    }

    fn set_request_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        set_header(&self.request_headers, name, value);
        Ok(())
    }

    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        Ok(slice(&self.request_body.borrow(), start, len))
    }

    fn replace_request_body(&self, start: usize, len: usize, data: &[u8]) -> Result<(), HostError> {
        splice(&self.request_body, start, len, data);
        Ok(())
    }

    fn response_headers(&self) -> Result<HeaderMap, HostError> {
        Ok(as_envoy_gives(&self.response_headers.borrow()))
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        set_header(&self.response_headers, name, value);
        Ok(())
    }

    fn response_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        if self.broken_response_body.get() {
            return Err(HostError::new("get_buffer_bytes", "injected failure"));
        }
        Ok(slice(&self.response_body.borrow(), start, len))
    }

    fn replace_response_body(
        &self,
        start: usize,
        len: usize,
        data: &[u8],
    ) -> Result<(), HostError> {
        if self.broken_response_replace.get() {
            return Err(HostError::new("set_buffer_bytes", "injected failure"));
        }
        splice(&self.response_body, start, len, data);
        Ok(())
    }

    fn send_reply(&self, reply: &LocalReply) -> Result<(), HostError> {
        self.replies.borrow_mut().push(reply.clone());
        Ok(())
    }

    fn reset_stream(&self) -> Result<(), HostError> {
        self.resets.set(self.resets.get() + 1);
        Ok(())
    }

    fn increment_counter(&self, name: &str, delta: u64) -> Result<(), HostError> {
        *self
            .counters
            .borrow_mut()
            .entry(name.to_string())
            .or_insert(0) += delta;
        Ok(())
    }

    fn set_filter_state(&self, name: &str, value: &str) -> Result<(), HostError> {
        self.filter_state
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
        Ok(())
    }

    fn set_filter_state_struct(
        &self,
        name: &str,
        fields: &[(&str, StateValue)],
    ) -> Result<(), HostError> {
        let object = fields
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    StateValue::Text(text) => serde_json::Value::from(*text),
                    StateValue::Number(number) => serde_json::Value::from(*number),
                };
                (key.to_string(), value)
            })
            .collect();
        self.state_objects
            .borrow_mut()
            .insert(name.to_string(), serde_json::Value::Object(object));
        Ok(())
    }

    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.properties.borrow().get(&path.join("/")).cloned())
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> Result<u32, HostError> {
        if self.broken_grpc.get() {
            return Err(HostError::new("dispatch_grpc_call", "injected failure"));
        }
        let mut calls = self.grpc_calls.borrow_mut();
        calls.push(RecordedCall {
            service: call.service.to_vec(),
            service_name: call.service_name.to_owned(),
            method: call.method.to_owned(),
            message: call.message.to_vec(),
            timeout_ms: call.timeout_ms,
        });
        Ok(u32::try_from(calls.len()).unwrap_or(u32::MAX))
    }

    fn resume_request(&self) -> Result<(), HostError> {
        self.resumed.set(self.resumed.get() + 1);
        Ok(())
    }
}
