//! gRPC answers back to whoever waits for them. Envoy runs a module's gRPC
//! calls on the plugin's root context, so their answers come to the root
//! (`proxy_on_grpc_receive`, `proxy_on_grpc_close`) with the call's token:
//! a charge's answer goes to the stream paused for it (made the effective
//! context first, so that the filter's host calls act on that stream), a
//! refund's is only counted. Each token is forgotten when its answer comes,
//! or when its stream ends first; Envoy answers every call it dispatched,
//! with a timeout status at the latest.

use std::cell::RefCell;

use super::types::BufferType;
use super::{abi, contexts, host::EnvoyHost};
use crate::filter::{refund_settled, CallKind, Dispatched, ServiceReply};

/// A call out, and the stream that waits for it (none for a refund).
struct Out {
    token: u32,
    stream: Option<u32>,
}

thread_local! {
    /// The calls out: as many as requests in flight on this worker, so a
    /// list searched by token.
    static OUT: RefCell<Vec<Out>> = const { RefCell::new(Vec::new()) };
}

/// Records the calls a stream's filter started.
pub fn route(stream: u32, dispatched: Vec<Dispatched>) {
    if dispatched.is_empty() {
        return;
    }
    OUT.with(|out| {
        out.borrow_mut()
            .extend(dispatched.into_iter().map(|call| Out {
                token: call.token,
                stream: (call.kind == CallKind::Charge).then_some(stream),
            }))
    });
}

/// The call `token`, no longer out.
fn take(token: u32) -> Option<Out> {
    OUT.with(|out| {
        let mut out = out.borrow_mut();
        let index = out.iter().position(|call| call.token == token)?;
        Some(out.swap_remove(index))
    })
}

/// A stream ended while its charge was out: its answer goes nowhere.
pub fn forget(token: u32) {
    take(token);
}

pub fn receive(token: u32, response_size: usize) {
    deliver(token, || {
        match abi::get_buffer(BufferType::GrpcReceiveBuffer, 0, response_size) {
            Ok(bytes) => ServiceReply::Message(bytes),
            Err(error) => ServiceReply::Unreadable(error.to_string()),
        }
    });
}

pub fn close(token: u32, status_code: u32) {
    deliver(token, || match abi::grpc_status() {
        Ok((_, message)) => ServiceReply::Closed {
            status: status_code,
            message,
        },
        Err(_) => ServiceReply::Closed {
            status: status_code,
            message: String::new(),
        },
    });
}

fn deliver(token: u32, reply: impl FnOnce() -> ServiceReply) {
    match take(token) {
        Some(Out {
            stream: Some(stream),
            ..
        }) => {
            let reply = reply();
            if let Err(error) = abi::set_effective_context(stream) {
                log::warn!(
                    "the rate-limit service answered for stream {stream}, which is gone: {error}"
                );
                return;
            }
            contexts::service_reply(stream, reply);
        }
        Some(Out { stream: None, .. }) => refund_settled(&EnvoyHost, &reply()),
        None => log::debug!("a gRPC answer for call {token}, which nobody waits for"),
    }
}
