//! The module's contexts: one root per plugin configuration (it holds the
//! validated `Config`), one stream per HTTP request (it holds the
//! `HttpFilter`). A VM runs one callback at a time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::types::{Action as AbiAction, BufferType};
use super::{abi, calls, host::EnvoyHost, logger, GIT_REVISION, VERSION};
use crate::config::Config;
use crate::filter::refusal::{Outcome, Refusal, ReplyKind};
use crate::filter::{HttpFilter, ServiceReply, STATE_OBJECT};
use crate::host::{Action, Host};

#[derive(Default)]
struct Root {
    config: Option<Rc<Config>>,
}

thread_local! {
    static ROOTS: RefCell<HashMap<u32, Root>> = RefCell::new(HashMap::new());
    /// A stream created while its root had no configuration has no entry:
    /// it is refused, never forwarded.
    static STREAMS: RefCell<HashMap<u32, Rc<RefCell<HttpFilter>>>> =
        RefCell::new(HashMap::new());
}

pub fn create(context_id: u32, root_context_id: u32) {
    if root_context_id == 0 {
        logger::install();
        ROOTS.with(|roots| roots.borrow_mut().insert(context_id, Root::default()));
        return;
    }
    let config = ROOTS.with(|roots| {
        roots
            .borrow()
            .get(&root_context_id)
            .and_then(|root| root.config.clone())
    });
    if let Some(config) = config {
        let filter = Rc::new(RefCell::new(HttpFilter::new(config)));
        STREAMS.with(|streams| streams.borrow_mut().insert(context_id, filter));
    }
}

pub fn delete(context_id: u32) {
    let filter = STREAMS.with(|streams| streams.borrow_mut().remove(&context_id));
    if let Some(token) = filter.and_then(|filter| filter.try_borrow().ok()?.awaited_call()) {
        calls::forget(token);
    }
    ROOTS.with(|roots| roots.borrow_mut().remove(&context_id));
}

pub fn vm_start(_root_context_id: u32, _vm_configuration_size: usize) -> bool {
    logger::follow_host_level();
    log::info!("mcp-policy-filter {VERSION} (git {GIT_REVISION}) started");
    true
}

/// Validates the plugin configuration. A rejected one leaves the previous
/// one (if any) in force, and Envoy keeps the old filter configuration.
pub fn configure(root_context_id: u32, configuration_size: usize) -> bool {
    logger::follow_host_level();
    let bytes = match abi::get_buffer(BufferType::PluginConfiguration, 0, configuration_size) {
        Ok(bytes) => bytes,
        Err(error) => {
            log::error!("cannot read the plugin configuration: {error}");
            return false;
        }
    };
    ROOTS.with(|roots| {
        let mut roots = roots.borrow_mut();
        let root = roots.entry(root_context_id).or_default();
        let variables = super::environment::variables();
        let env = |name: &str| {
            variables
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| value.clone())
        };
        match Config::from_bytes(&bytes, &env) {
            Ok(config) => {
                if config.grants.is_empty() {
                    log::warn!("configuration has no grants: every request will be answered 401");
                }
                log::info!(
                    "policy configuration loaded: {} grant(s)",
                    config.grants.names().len()
                );
                let declaration =
                    crate::host::declare_property_arguments(STATE_OBJECT, crate::host::STRUCT_TYPE_URL);
                if let Err(error) = abi::call_foreign_function("declare_property", &declaration) {
                    log::warn!(
                        "wasm.{STATE_OBJECT} not declared as a google.protobuf.Struct ({error}); access logs cannot read its fields"
                    );
                }
                root.config = Some(Rc::new(config));
                true
            }
            Err(error) => {
                let kept = if root.config.is_some() {
                    "; the previous configuration stays in force"
                } else {
                    ""
                };
                log::error!("rejected policy configuration{kept}:\n{error}");
                false
            }
        }
    })
}

fn to_abi(action: Action) -> AbiAction {
    match action {
        Action::Continue => AbiAction::Continue,
        Action::Pause => AbiAction::Pause,
    }
}

/// Runs a callback on the stream's filter; `None` when the stream has none
/// (or, were the host to re-enter, when it is already in a callback). The
/// gRPC calls the callback started are routed for their answers.
fn with_filter(
    context_id: u32,
    callback: impl FnOnce(&mut HttpFilter) -> Action,
) -> Option<AbiAction> {
    let filter = STREAMS.with(|streams| streams.borrow().get(&context_id).map(Rc::clone))?;
    let mut filter = filter.try_borrow_mut().ok()?;
    let action = callback(&mut filter);
    calls::route(context_id, filter.take_dispatched());
    Some(to_abi(action))
}

/// The rate-limit service's answer for a stream paused for it (already the
/// effective context): the filter resumes or refuses the request itself.
pub fn service_reply(context_id: u32, reply: ServiceReply) {
    let done = with_filter(context_id, |filter| {
        filter.on_service_reply(&EnvoyHost, reply);
        Action::Continue
    });
    if done.is_none() {
        log::warn!("the rate-limit service answered for stream {context_id}, which has no filter");
    }
}

/// Runs a request callback. A stream without a filter is refused.
fn on_request(context_id: u32, callback: impl FnOnce(&mut HttpFilter) -> Action) -> AbiAction {
    with_filter(context_id, callback).unwrap_or_else(|| refuse_unfiltered(context_id))
}

/// Runs a response callback; a response on a stream without a filter was
/// refused on the way in, so it passes as it is.
fn on_response(context_id: u32, callback: impl FnOnce(&mut HttpFilter) -> Action) -> AbiAction {
    with_filter(context_id, callback).unwrap_or(AbiAction::Continue)
}

fn refuse_unfiltered(context_id: u32) -> AbiAction {
    log::error!("stream {context_id} has no policy configuration; refusing it");
    let refusal = Refusal::protocol(
        Outcome::Denied,
        ReplyKind::NoConfiguration,
        503,
        None,
        crate::mcp::INTERNAL_ERROR,
        "The policy filter has no configuration",
    );
    if let Err(error) = EnvoyHost.send_reply(&refusal.reply) {
        log::error!("cannot send local reply: {error}");
    }
    AbiAction::Pause
}

pub fn request_headers(context_id: u32, end_of_stream: bool) -> AbiAction {
    on_request(context_id, |filter| {
        filter.on_request_headers(&EnvoyHost, end_of_stream)
    })
}

pub fn request_body(context_id: u32, body_size: usize, end_of_stream: bool) -> AbiAction {
    on_request(context_id, |filter| {
        filter.on_request_body(&EnvoyHost, body_size, end_of_stream)
    })
}

pub fn request_trailers(context_id: u32) -> AbiAction {
    on_request(context_id, |filter| filter.on_request_trailers(&EnvoyHost))
}

pub fn response_headers(context_id: u32, end_of_stream: bool) -> AbiAction {
    on_response(context_id, |filter| {
        filter.on_response_headers(&EnvoyHost, end_of_stream)
    })
}

pub fn response_body(context_id: u32, body_size: usize, end_of_stream: bool) -> AbiAction {
    on_response(context_id, |filter| {
        filter.on_response_body(&EnvoyHost, body_size, end_of_stream)
    })
}
