//! The proxy-wasm entry points: the root context that loads configuration and
//! the per-stream contexts that hand callbacks to `filter::HttpFilter`.

mod abi;
mod host;
mod logger;

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action as WasmAction, ContextType};

use crate::config::Config;
use crate::filter::HttpFilter;
use crate::host::Action;
use host::EnvoyHost;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = match option_env!("MCP_POLICY_GIT_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};

proxy_wasm::main! {{
    logger::install();
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(PolicyRoot { config: None }) });
}}

struct PolicyRoot {
    config: Option<Rc<Config>>,
}

impl Context for PolicyRoot {}

impl RootContext for PolicyRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        logger::follow_host_level();
        log::info!("mcp-policy-filter {VERSION} (git {GIT_REVISION}) started");
        true
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        logger::follow_host_level();
        let bytes = match abi::get_buffer(
            abi::BUFFER_PLUGIN_CONFIGURATION,
            0,
            plugin_configuration_size,
        ) {
            Ok(bytes) => bytes,
            Err(error) => {
                log::error!("cannot read the plugin configuration: {error}");
                return false;
            }
        };
        match Config::from_bytes(&bytes) {
            Ok(config) => {
                if config.grants.is_empty() {
                    log::warn!("configuration has no grants: every request will be answered 401");
                }
                log::info!(
                    "policy configuration loaded: {} grant(s)",
                    config.grants.names().len()
                );
                self.config = Some(Rc::new(config));
                true
            }
            Err(error) => {
                let kept = if self.config.is_some() {
                    "; the previous configuration stays in force"
                } else {
                    ""
                };
                log::error!("rejected policy configuration{kept}:\n{error}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Without a configuration there is nothing to enforce; Envoy's
        // failure policy (FAIL_CLOSED) then refuses the stream.
        let config = self.config.as_ref()?;
        Some(Box::new(PolicyStream {
            filter: HttpFilter::new(Rc::clone(config)),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct PolicyStream {
    filter: HttpFilter,
}

fn to_wasm(action: Action) -> WasmAction {
    match action {
        Action::Continue => WasmAction::Continue,
        Action::Pause => WasmAction::Pause,
    }
}

impl Context for PolicyStream {}

impl HttpContext for PolicyStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> WasmAction {
        to_wasm(self.filter.on_request_headers(&EnvoyHost, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> WasmAction {
        to_wasm(
            self.filter
                .on_request_body(&EnvoyHost, body_size, end_of_stream),
        )
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> WasmAction {
        to_wasm(self.filter.on_request_trailers(&EnvoyHost))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> WasmAction {
        to_wasm(self.filter.on_response_headers(&EnvoyHost, end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> WasmAction {
        to_wasm(
            self.filter
                .on_response_body(&EnvoyHost, body_size, end_of_stream),
        )
    }
}
