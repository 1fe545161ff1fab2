//! Drives `HttpFilter` natively through a counting fake host, one bench case
//! at a time (inputs written by `bench/configs.py native DIR`), and reports
//! per request: the proxy-wasm host calls the filter makes (by ABI name), the
//! bytes crossing the host boundary, heap allocations, log records, and time.
//!
//!     bench-native DIR CASE [ITERATIONS]
//!
//! The first request of every case is checked (forwarded with the upstream's
//! reply untouched, answered with a denial, or its tools/list filtered), so a
//! profile never measures an error path. Run it under
//! `valgrind --tool=callgrind` for the instruction profile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mcp_policy_filter::config::Config;
use mcp_policy_filter::store::{Entry, MemoryStore, SharedStore, StoreError};
use mcp_policy_filter::filter::HttpFilter;
use mcp_policy_filter::host::fake::FakeHost;
use mcp_policy_filter::host::{encode_struct, Action, GrpcCall, HeaderMap, Host, HostError, LocalReply, StateValue};

// --- allocations -----------------------------------------------------------------------

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, so this
// allocator keeps `System`'s contract; it only counts, with atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

// --- log records (each is one proxy_log call in the module at wasm:info) ---------------

static LOG_RECORDS: AtomicU64 = AtomicU64::new(0);

struct CountingLogger;

impl log::Log for CountingLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // The module formats every record it sends to the host.
            std::hint::black_box(record.args().to_string());
            LOG_RECORDS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

static LOGGER: CountingLogger = CountingLogger;

// --- the counting host -----------------------------------------------------------------

/// The proxy-wasm ABI calls the `Host` methods map to in `src/envoy`.
const CALLS: [&str; 14] = [
    "proxy_get_header_map_pairs",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_current_time_nanoseconds",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_increment_metric",
    "proxy_set_property",
    "proxy_get_property",
    "proxy_send_local_response",
    "proxy_log",
    "proxy_define_metric",
];
const GET_HEADERS: usize = 0;
const REPLACE_HEADER: usize = 1;
const REMOVE_HEADER: usize = 2;
const GET_BUFFER: usize = 3;
const SET_BUFFER: usize = 4;
const TIME: usize = 5;
const GET_SHARED: usize = 6;
const SET_SHARED: usize = 7;
const INCREMENT_METRIC: usize = 8;
const SET_PROPERTY: usize = 9;
const GET_PROPERTY: usize = 10;
const LOCAL_RESPONSE: usize = 11;

/// The fake host, counting calls. Calls whose effect the filter never reads
/// back (metrics, filter state) are only counted, so that the profile's
/// "host" share stays small: in Envoy that work is Envoy's, not the module's.
struct CountingHost {
    inner: FakeHost,
    calls: RefCell<[u64; CALLS.len()]>,
    bytes_from_host: Cell<u64>,
    bytes_to_host: Cell<u64>,
}

impl CountingHost {
    fn new(store: MemoryStore) -> CountingHost {
        CountingHost {
            inner: FakeHost::with_store(store),
            calls: RefCell::new([0; CALLS.len()]),
            bytes_from_host: Cell::new(0),
            bytes_to_host: Cell::new(0),
        }
    }

    fn count(&self, call: usize) {
        self.calls.borrow_mut()[call] += 1;
    }

    fn from_host(&self, bytes: usize) {
        self.bytes_from_host.set(self.bytes_from_host.get() + bytes as u64);
    }

    fn to_host(&self, bytes: usize) {
        self.bytes_to_host.set(self.bytes_to_host.get() + bytes as u64);
    }
}

fn header_bytes<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    4 + headers.into_iter().map(|(n, v)| 8 + n.len() + v.len() + 2).sum::<usize>()
}

impl SharedStore for CountingHost {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.count(GET_SHARED);
        self.to_host(key.len());
        let entry = self.inner.get(key)?;
        self.from_host(entry.as_ref().map_or(0, |e| e.value.len()));
        Ok(entry)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.count(SET_SHARED);
        self.to_host(key.len() + value.len());
        self.inner.set(key, value, cas)
    }
}

impl Host for CountingHost {
    fn now_millis(&self) -> Result<u64, HostError> {
        self.count(TIME);
        self.inner.now_millis()
    }

    fn now_nanos(&self) -> Result<u64, HostError> {
        self.count(TIME);
        self.inner.now_nanos()
    }

    fn request_headers(&self) -> Result<HeaderMap, HostError> {
        self.count(GET_HEADERS);
        let headers = self.inner.request_headers()?;
        self.from_host(header_bytes(headers.iter()));
        Ok(headers)
    }

    fn set_request_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        self.count(if value.is_some() { REPLACE_HEADER } else { REMOVE_HEADER });
        self.to_host(name.len() + value.map_or(0, str::len));
        self.inner.set_request_header(name, value)
    }

    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        self.count(GET_BUFFER);
        let body = self.inner.request_body(start, len)?;
        self.from_host(body.len());
        Ok(body)
    }

    fn replace_request_body(&self, start: usize, len: usize, data: &[u8]) -> Result<(), HostError> {
        self.count(SET_BUFFER);
        self.to_host(data.len());
        self.inner.replace_request_body(start, len, data)
    }

    fn response_headers(&self) -> Result<HeaderMap, HostError> {
        self.count(GET_HEADERS);
        let headers = self.inner.response_headers()?;
        self.from_host(header_bytes(headers.iter()));
        Ok(headers)
    }

    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError> {
        self.count(if value.is_some() { REPLACE_HEADER } else { REMOVE_HEADER });
        self.to_host(name.len() + value.map_or(0, str::len));
        self.inner.set_response_header(name, value)
    }

    fn response_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        self.count(GET_BUFFER);
        let body = self.inner.response_body(start, len)?;
        self.from_host(body.len());
        Ok(body)
    }

    fn replace_response_body(&self, start: usize, len: usize, data: &[u8]) -> Result<(), HostError> {
        self.count(SET_BUFFER);
        self.to_host(data.len());
        self.inner.replace_response_body(start, len, data)
    }

    fn send_reply(&self, reply: &LocalReply) -> Result<(), HostError> {
        self.count(LOCAL_RESPONSE);
        self.to_host(reply.body.len() + header_bytes(reply.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
        self.inner.send_reply(reply)
    }

    fn reset_stream(&self) -> Result<(), HostError> {
        self.inner.reset_stream()
    }

    fn increment_counter(&self, name: &str, delta: u64) -> Result<(), HostError> {
        self.count(INCREMENT_METRIC);
        std::hint::black_box((name, delta));
        Ok(())
    }

    fn set_filter_state(&self, name: &str, value: &str) -> Result<(), HostError> {
        self.count(SET_PROPERTY);
        self.to_host(name.len() + value.len());
        Ok(())
    }

    fn set_filter_state_struct(&self, name: &str, fields: &[(&str, StateValue)]) -> Result<(), HostError> {
        // Encoded as the Envoy host does, so that the work is counted.
        let value = encode_struct(fields);
        self.count(SET_PROPERTY);
        self.to_host(name.len() + value.len());
        Ok(())
    }

    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        self.count(GET_PROPERTY);
        let value = self.inner.property(path)?;
        self.from_host(value.as_ref().map_or(0, Vec::len));
        Ok(value)
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> Result<u32, HostError> {
        self.inner.grpc_call(call)
    }

    fn resume_request(&self) -> Result<(), HostError> {
        self.inner.resume_request()
    }
}

// --- one request -------------------------------------------------------------------------

struct Case {
    config: Rc<Config>,
    request: Vec<u8>,
    response: Vec<u8>,
    request_headers: Vec<Vec<(String, String)>>,
    response_headers: Vec<(String, String)>,
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn load(dir: &str, name: &str) -> Case {
    let read = |file: &str| {
        std::fs::read(format!("{dir}/{name}/{file}")).unwrap_or_else(|e| panic!("{dir}/{name}/{file}: {e}"))
    };
    let config = Config::from_bytes(&read("config.json"), &|_| None).unwrap_or_else(|e| panic!("config of {name}: {e}"));
    let request = read("request.json");
    let response = read("response.json");
    let tokens = String::from_utf8(read("tokens.txt")).expect("tokens are UTF-8");
    let length = request.len().to_string();
    // What Envoy hands the filter: its pseudo-headers, x-request-id and
    // x-forwarded-proto, and wrk's headers.
    let request_headers = tokens
        .lines()
        .filter(|t| !t.is_empty())
        .map(|token| {
            let mut headers = pairs(&[
                (":authority", "127.0.0.1:10000"),
                (":path", "/mcp"),
                (":method", "POST"),
                (":scheme", "http"),
                ("content-length", &length),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-protocol-version", "2025-06-18"),
                ("x-bench-response", "call"),
                ("x-forwarded-proto", "http"),
                ("x-request-id", "5b7e1c1e-3c8e-4f5e-9a51-6c1d2f3e4a5b"),
            ]);
            headers.push(("authorization".into(), format!("Bearer {token}")));
            headers
        })
        .collect();
    let response_headers = pairs(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", &response.len().to_string()),
        ("date", "Tue, 24 Nov 2026 08:00:00 GMT"),
        ("server", "envoy"),
        ("x-envoy-upstream-service-time", "0"),
    ]);
    Case {
        config: Rc::new(config),
        request,
        response,
        request_headers,
        response_headers,
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Forwarded { response_changed: bool, response_len: usize },
    Replied { status: u32, body: String },
}

/// Resets the host to a fresh stream (the harness's own cost, measured apart).
fn reset(host: &CountingHost, case: &Case, index: usize) {
    *host.inner.request_headers.borrow_mut() = case.request_headers[index % case.request_headers.len()].clone();
    *host.inner.request_body.borrow_mut() = case.request.clone();
    host.inner.response_headers.borrow_mut().clear();
    host.inner.response_body.borrow_mut().clear();
    host.inner.replies.borrow_mut().clear();
}

/// The stream callbacks, for the per-callback counts.
const PHASES: [&str; 6] = [
    "new",
    "on_request_headers",
    "on_request_body",
    "on_response_headers",
    "on_response_body",
    "drop",
];

thread_local! {
    /// Per phase: allocations, allocated bytes, host calls.
    static PHASE_COUNTS: RefCell<[[u64; 3]; PHASES.len()]> = const { RefCell::new([[0; 3]; PHASES.len()]) };
}

fn phase<T>(host: &CountingHost, index: usize, work: impl FnOnce() -> T) -> T {
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let bytes = ALLOCATED_BYTES.load(Ordering::Relaxed);
    let calls: u64 = host.calls.borrow().iter().sum();
    let result = work();
    let calls_after: u64 = host.calls.borrow().iter().sum();
    PHASE_COUNTS.with(|counts| {
        let mut counts = counts.borrow_mut();
        counts[index][0] += ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        counts[index][1] += ALLOCATED_BYTES.load(Ordering::Relaxed) - bytes;
        counts[index][2] += calls_after - calls;
    });
    result
}

fn one_request(host: &CountingHost, case: &Case) -> Outcome {
    let mut filter = phase(host, 0, || HttpFilter::new(Rc::clone(&case.config)));
    let body_len = case.request.len();
    if phase(host, 1, || filter.on_request_headers(host, false)) == Action::Pause
        && host.inner.replies.borrow().is_empty()
    {
        phase(host, 2, || filter.on_request_body(host, body_len, true));
    }
    let reply = host.inner.replies.borrow().last().cloned();
    if let Some(reply) = reply {
        phase(host, 5, || drop(filter));
        return Outcome::Replied {
            status: reply.status,
            body: String::from_utf8_lossy(&reply.body).into_owned(),
        };
    }
    *host.inner.response_headers.borrow_mut() = case.response_headers.clone();
    phase(host, 3, || filter.on_response_headers(host, false));
    *host.inner.response_body.borrow_mut() = case.response.clone();
    let len = case.response.len();
    phase(host, 4, || filter.on_response_body(host, len, true));
    phase(host, 5, || drop(filter));
    let body = host.inner.response_body.borrow();
    Outcome::Forwarded {
        response_changed: *body != case.response,
        response_len: body.len(),
    }
}

fn check(name: &str, outcome: &Outcome) {
    let ok = match (name, outcome) {
        ("s5-denied", Outcome::Replied { status: 200, body }) => body.contains("[POLICY DENIED]"),
        (n, Outcome::Forwarded { response_changed, .. }) if n.contains("list") => *response_changed,
        (_, Outcome::Forwarded { response_changed, .. }) => !response_changed,
        _ => false,
    };
    if !ok {
        eprintln!("bench-native: case {name} did not take its path: {outcome:?}");
        std::process::exit(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench-native DIR CASE [ITERATIONS]");
        std::process::exit(2);
    }
    let (dir, name) = (&args[1], &args[2]);
    let iterations: usize = args.get(3).map_or(20_000, |n| n.parse().expect("ITERATIONS is a number"));
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);

    let case = load(dir, name);
    let store = MemoryStore::new();
    let host = CountingHost::new(store.clone());
    host.inner.now_millis.set(1_795_500_000_000);

    reset(&host, &case, 0);
    let outcome = one_request(&host, &case);
    check(name, &outcome);
    // Warm-up: every distinct grant once, so per-grant counters exist.
    for index in 1..case.request_headers.len().max(100) {
        reset(&host, &case, index);
        one_request(&host, &case);
    }

    // The harness's own cost: resets alone.
    let started = Instant::now();
    for index in 0..iterations {
        reset(&host, &case, index);
        std::hint::black_box(&host);
    }
    let reset_ns = started.elapsed().as_nanos() as f64 / iterations as f64;

    *host.calls.borrow_mut() = [0; CALLS.len()];
    host.bytes_from_host.set(0);
    host.bytes_to_host.set(0);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let allocated = ALLOCATED_BYTES.load(Ordering::Relaxed);
    let records = LOG_RECORDS.load(Ordering::Relaxed);
    PHASE_COUNTS.with(|counts| *counts.borrow_mut() = [[0; 3]; PHASES.len()]);
    let started = Instant::now();
    for index in 0..iterations {
        reset(&host, &case, index);
        std::hint::black_box(one_request(&host, &case));
    }
    let total_ns = started.elapsed().as_nanos() as f64 / iterations as f64;
    let per = |value: u64| value as f64 / iterations as f64;
    // Allocations of the resets themselves (headers, body) are taken out.
    let reset_allocations = {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let bytes_before = ALLOCATED_BYTES.load(Ordering::Relaxed);
        reset(&host, &case, 0);
        (ALLOCATIONS.load(Ordering::Relaxed) - before, ALLOCATED_BYTES.load(Ordering::Relaxed) - bytes_before)
    };
    let allocations_per = per(ALLOCATIONS.load(Ordering::Relaxed) - allocations) - reset_allocations.0 as f64;
    let bytes_per = per(ALLOCATED_BYTES.load(Ordering::Relaxed) - allocated) - reset_allocations.1 as f64;

    let calls = *host.calls.borrow();
    let mut calls_per: Vec<(&str, f64)> = CALLS.iter().zip(calls).map(|(call, n)| (*call, per(n))).collect();
    // Every log record is one proxy_log call in the module.
    calls_per[12].1 = per(LOG_RECORDS.load(Ordering::Relaxed) - records);
    let call_list: Vec<String> =
        calls_per.iter().filter(|(_, n)| *n > 0.0).map(|(call, n)| format!("\"{call}\":{n:.2}")).collect();
    let host_calls: f64 = calls_per.iter().map(|(_, n)| n).sum();
    let phases: Vec<String> = PHASE_COUNTS.with(|counts| {
        let counts = counts.borrow();
        PHASES
            .iter()
            .zip(counts.iter())
            .map(|(phase, [allocations, bytes, calls])| {
                format!(
                    "\"{phase}\":{{\"allocations\":{:.1},\"allocated_bytes\":{:.0},\"host_calls\":{:.2}}}",
                    per(*allocations),
                    per(*bytes),
                    per(*calls)
                )
            })
            .collect()
    });
    println!(
        "{{\"case\":\"{name}\",\"phases\":{{{}}},\"iterations\":{iterations},\"ns_per_request\":{:.0},\"harness_ns\":{:.0},\
         \"host_calls\":{host_calls:.2},\"calls\":{{{}}},\"bytes_from_host\":{:.0},\"bytes_to_host\":{:.0},\
         \"allocations\":{allocations_per:.1},\"allocated_bytes\":{bytes_per:.0},\"log_records\":{:.2},\
         \"shared_data_keys\":{}}}",
        phases.join(","),
        total_ns - reset_ns,
        reset_ns,
        call_list.join(","),
        per(host.bytes_from_host.get()),
        per(host.bytes_to_host.get()),
        per(LOG_RECORDS.load(Ordering::Relaxed) - records),
        store.len(),
    );
}
