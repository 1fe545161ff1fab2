//! The host-call probe of `bench/hostcalls.py`. Its plugin configuration is
//! `<call> <count>`; each request makes `count` calls of `<call>` in
//! on_http_request_headers, then continues. `body <count>` holds the headers
//! until the whole body is in, as the policy filter does, then reads the body
//! `count` times. `none 0` is the baseline: the cost of any Wasm filter.
//! `minimal 1` is the reference filter, the floor `make bench`
//! compares the policy filter with: headers held, the body read once, parsed
//! into a `serde_json::Value`, its `params.name` read, and one shared-data
//! compare-and-swap; an unreadable body gets a 400.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { probe: Rc::new(Probe::default()) }) });
}}

#[derive(Default)]
struct Probe {
    call: String,
    count: usize,
    metric: u32,
}

struct Root {
    probe: Rc<Probe>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&config).into_owned();
        let mut parts = text.split_whitespace();
        let call = parts.next().unwrap_or("none").to_string();
        let count = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let metric = proxy_wasm::hostcalls::define_metric(MetricType::Counter, "bench_probe").unwrap_or(0);
        self.probe = Rc::new(Probe { call, count, metric });
        true
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { probe: Rc::clone(&self.probe) }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream {
    probe: Rc<Probe>,
}

impl Context for Stream {}

impl Stream {
    fn run(&self, body_size: usize) {
        let probe = &self.probe;
        for index in 0..probe.count {
            match probe.call.as_str() {
                "get_header_map_pairs" => {
                    std::hint::black_box(self.get_http_request_headers());
                }
                "get_header" => {
                    std::hint::black_box(self.get_http_request_header("authorization"));
                }
                "remove_header" => self.set_http_request_header("x-bench-absent", None),
                "replace_header" => self.set_http_request_header("accept-encoding", Some("identity")),
                "set_property" => {
                    let name = format!("bench_probe_{index}");
                    self.set_property(vec![name.as_str()], Some(b"value-of-the-probe"));
                }
                "get_property" => {
                    std::hint::black_box(self.get_property(vec!["request", "path"]));
                }
                "current_time" => {
                    std::hint::black_box(self.get_current_time());
                }
                "increment_metric" => {
                    let _ = proxy_wasm::hostcalls::increment_metric(probe.metric, 1);
                }
                "shared_data_cas" => {
                    let key = "bench_probe_counter";
                    let (value, cas) = self.get_shared_data(key);
                    let next = value.map_or(0u64, |v| v.len() as u64) + 1;
                    let _ = self.set_shared_data(key, Some(&next.to_le_bytes()), cas);
                }
                "log_info" => log::info!("probe {index}"),
                "body" => {
                    let body = self.get_http_request_body(0, body_size);
                    // Counted, so that the run shows the body was read.
                    let _ = proxy_wasm::hostcalls::increment_metric(probe.metric, body.map_or(0, |b| b.len() as i64));
                }
                _ => {}
            }
        }
    }

    fn holds_headers(&self) -> bool {
        matches!(self.probe.call.as_str(), "body" | "minimal")
    }

    fn minimal(&self, body_size: usize) -> Action {
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        let names_a_tool = serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|value| value.pointer("/params/name").is_some_and(serde_json::Value::is_string));
        if !names_a_tool {
            self.send_http_response(400, vec![], Some(b"unreadable body"));
            return Action::Pause;
        }
        let key = "bench_minimal_counter";
        let (value, cas) = self.get_shared_data(key);
        let count = value
            .and_then(|bytes| bytes.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes))
            .unwrap_or(0);
        let _ = self.set_shared_data(key, Some(&(count + 1).to_le_bytes()), cas);
        Action::Continue
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _n: usize, end_of_stream: bool) -> Action {
        if !self.holds_headers() || end_of_stream {
            self.run(0);
            return Action::Continue;
        }
        // Held until the body is in, as the policy filter does.
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.holds_headers() {
            if !end_of_stream {
                return Action::Pause;
            }
            if self.probe.call == "minimal" {
                return self.minimal(body_size);
            }
            self.run(body_size);
        }
        Action::Continue
    }
}
