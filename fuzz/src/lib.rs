//! The checks behind every fuzz target, one public function per target.
//!
//! Each target in `fuzz_targets/` is one line that calls its function here
//! (see [`run`]), and `tests/fuzz_regressions.rs` (an integration test of
//! the main crate) includes this file with `#[path]` and replays every file
//! of `fuzz/regressions/<target>/` and `fuzz/corpus/<target>/` through the
//! same function. So this file may use only what the main crate's tests can
//! use: `mcp_policy_filter`, `serde_json` and `std`. That is why structured
//! inputs are decoded by [`Source`] (an `arbitrary::Unstructured`-like byte
//! reader) instead of the `arbitrary` crate: a crash file decodes to the
//! same request under `cargo fuzz` and under `cargo test`.
//!
//! A check panics when an invariant breaks; libFuzzer reports the panic as
//! a crash.

use std::sync::OnceLock;

use mcp_policy_filter::host::{decode_header_map, encode_header_map, HeaderMap};
use mcp_policy_filter::mcp::{
    case_variant_key_conflict, denial_result, error_response, filter_tools_list_json, read_payload,
    sniff_id, Message, MessageKind, Payload, ReadError, ReadLimits, RequestId, SseSplitter,
    ToolsListStreamFilter, DEFAULT_MAX_DEPTH, INVALID_PARAMS, INVALID_REQUEST, MAX_SAFE_INTEGER,
    PARSE_ERROR,
};
use mcp_policy_filter::policy::{Decision, DenialKind, Listing, Mode, Policy, Request};
use serde_json::{Map, Number, Value};

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[&str] = &[
    "read_payload",
    "sse_stream",
    "tools_list_json",
    "policy_evaluate",
    "policy_compile",
    "header_map",
];

/// Runs the check of `target` on `data`; `false` for an unknown target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "read_payload" => read_payload_target(data),
        "sse_stream" => sse_stream(data),
        "tools_list_json" => tools_list_json(data),
        "policy_evaluate" => policy_evaluate(data),
        "policy_compile" => policy_compile(data),
        "header_map" => header_map(data),
        _ => return false,
    }
    true
}

// ---------------------------------------------------------------------------
// read_payload
// ---------------------------------------------------------------------------

/// `read_payload` with the default depth and with small ones, and `sniff_id`.
pub fn read_payload_target(data: &[u8]) {
    let sniffed = sniff_id(data);
    if let Some(id) = &sniffed {
        check_id(id);
    }
    let default = read_checked(data, DEFAULT_MAX_DEPTH, sniffed.as_ref());
    for depth in [0, 1, 2, 3, 5] {
        let small = read_checked(data, depth, sniffed.as_ref());
        if let Ok(payload) = &small {
            // Accepted under a tighter limit: accepted the same way by default.
            assert_eq!(
                Some(payload),
                default.as_ref().ok(),
                "depth {depth} accepted what depth 64 did not"
            );
        }
    }
    // Limits above the ceiling act as the ceiling.
    let _ = read_payload(
        data,
        &ReadLimits {
            max_depth: usize::MAX,
        },
    );
    let _ = case_variant_key_conflict(data, &ReadLimits::default());
    if let Ok(payload) = &default {
        reread_reserialised(data, payload);
        for message in payload.messages() {
            check_replies(message);
        }
    }
}

/// The replies the gateway writes for a message are JSON that echoes its id
/// and carries the (fuzzed) text intact, and the reader reads them back.
fn check_replies(message: &Message) {
    let text = message
        .target()
        .or(message.method())
        .unwrap_or("x\u{0}\n\"");
    let id_value = match &message.id {
        Some(id) => serde_json::from_str(id.as_json()).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let reply = error_response(message.id.as_ref(), INVALID_REQUEST, text);
    let value: Value = serde_json::from_slice(&reply)
        .unwrap_or_else(|e| panic!("error_response is not JSON: {e}"));
    assert_eq!(value["id"], id_value, "error_response changed the id");
    assert_eq!(
        value["error"]["message"], text,
        "error_response changed the message"
    );
    assert_eq!(value["error"]["code"], INVALID_REQUEST);
    if let Some(id) = &message.id {
        let read = read_payload(&reply, &ReadLimits::default())
            .unwrap_or_else(|e| panic!("own error reply unreadable: {e}"));
        assert_eq!(
            read.messages()
                .iter()
                .map(|m| m.id.as_ref())
                .collect::<Vec<_>>(),
            vec![Some(id)]
        );
        let meta = [
            ("mcp-policy/rule", Value::from(text)),
            ("mcp-policy/rule", Value::Null),
        ];
        let denial = denial_result(id, Some(text), text, &meta);
        let value: Value = serde_json::from_slice(&denial)
            .unwrap_or_else(|e| panic!("denial_result is not JSON: {e}"));
        assert_eq!(value["id"], id_value, "denial_result changed the id");
        assert_eq!(
            value["result"]["content"][0]["text"],
            format!("[POLICY DENIED] {text}")
        );
        assert_eq!(
            value["result"]["_meta"]["mcp-policy/rule"], text,
            "denial_result: the first meta value wins"
        );
        assert_eq!(value["result"]["isError"], true);
        assert_eq!(value["result"]["resultType"], text);
    }
}

fn read_checked(
    data: &[u8],
    depth: usize,
    sniffed: Option<&RequestId>,
) -> Result<Payload, ReadError> {
    let result = read_payload(data, &ReadLimits { max_depth: depth });
    match &result {
        Err(error) => {
            assert!(
                [PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS].contains(&error.code),
                "unexpected error code {}",
                error.code
            );
            assert!(!error.message.is_empty());
            if error.code == PARSE_ERROR {
                assert_eq!(
                    error.id.as_ref(),
                    sniffed,
                    "a -32700 error carries the sniffed id"
                );
            }
            if let Some(id) = &error.id {
                check_id(id);
            }
        }
        Ok(payload) => {
            assert!(std::str::from_utf8(data).is_ok(), "accepted invalid UTF-8");
            assert!(
                !data.starts_with(b"\xEF\xBB\xBF"),
                "accepted a byte-order mark"
            );
            let messages = payload.messages();
            assert!(!messages.is_empty(), "accepted an empty batch");
            for message in messages {
                check_message(message);
            }
            match payload {
                Payload::Single(message) => {
                    assert_eq!(
                        sniffed,
                        message.id.as_ref(),
                        "sniff_id disagrees with read_payload"
                    );
                }
                Payload::Batch(messages) => {
                    assert_eq!(sniffed, None, "sniff_id found an id in a batch");
                    let mut seen = Vec::new();
                    for message in messages {
                        if let Some(id) = &message.id {
                            let key = (message.is_request(), id.clone());
                            assert!(
                                !seen.contains(&key),
                                "duplicate id {id} accepted in a batch"
                            );
                            seen.push(key);
                        }
                    }
                }
            }
        }
    }
    result
}

/// Invariants of one accepted message.
fn check_message(message: &Message) {
    match &message.kind {
        MessageKind::Request { method, params } | MessageKind::Notification { method, params } => {
            assert_eq!(
                message.is_request(),
                message.id.is_some(),
                "request without id or notification with one"
            );
            assert_eq!(message.method(), Some(method.as_str()));
            assert!(
                matches!(
                    params,
                    None | Some(Value::Object(_)) | Some(Value::Array(_))
                ),
                "params of the wrong type"
            );
            match method.as_str() {
                "tools/call" | "prompts/get" | "resources/read" => {
                    assert!(
                        message.target().is_some(),
                        "{method} accepted without a string target"
                    );
                    assert!(
                        matches!(params, Some(Value::Object(_))),
                        "{method} accepted without object params"
                    );
                    assert!(
                        matches!(message.arguments(), None | Some(Value::Object(_))),
                        "{method} accepted with non-object arguments"
                    );
                }
                _ => {}
            }
        }
        MessageKind::Response => {
            assert!(message.id.is_some(), "response without id");
            assert_eq!(message.method(), None);
            assert_eq!(message.target(), None);
        }
    }
    if let Some(id) = &message.id {
        check_id(id);
    }
}

/// An id is a string or a safe integer, held as its canonical JSON text.
fn check_id(id: &RequestId) {
    let value: Value =
        serde_json::from_str(id.as_json()).unwrap_or_else(|e| panic!("id {id} is not JSON: {e}"));
    match (&value, id.as_integer(), id.as_string()) {
        (Value::String(text), None, Some(string)) => assert_eq!(text, &string),
        (Value::Number(number), Some(integer), None) => {
            assert_eq!(number.as_i64(), Some(integer), "id {id}");
            assert!(
                integer.unsigned_abs() <= MAX_SAFE_INTEGER.unsigned_abs(),
                "unsafe integer id {id}"
            );
        }
        _ => panic!("id {id} is neither a string nor an integer"),
    }
}

/// What the policy sees of a message.
fn summary(message: &Message) -> (u8, Option<String>, Option<String>, Option<String>, bool) {
    let kind = match message.kind {
        MessageKind::Request { .. } => 0,
        MessageKind::Notification { .. } => 1,
        MessageKind::Response => 2,
    };
    (
        kind,
        message.id.as_ref().map(|id| id.as_json().to_owned()),
        message.method().map(str::to_owned),
        message.target().map(str::to_owned),
        message.arguments().is_some(),
    )
}

/// serde_json reads an accepted body too, and the reader reads serde_json's
/// re-serialisation of it as the same messages (kind, id, method, target).
fn reread_reserialised(data: &[u8], payload: &Payload) {
    let value: Value = serde_json::from_slice(data)
        .unwrap_or_else(|e| panic!("read_payload accepted what serde_json refuses: {e}"));
    let text = serde_json::to_vec(&value)
        .unwrap_or_else(|e| panic!("serde_json cannot write its value: {e}"));
    let again = read_payload(&text, &ReadLimits::default()).unwrap_or_else(|e| {
        panic!(
            "the re-serialisation {} was refused: {e}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(payload.is_batch(), again.is_batch());
    let before: Vec<_> = payload.messages().iter().map(summary).collect();
    let after: Vec<_> = again.messages().iter().map(summary).collect();
    assert_eq!(
        before,
        after,
        "re-serialisation {} reads differently",
        String::from_utf8_lossy(&text)
    );
}

// ---------------------------------------------------------------------------
// SSE: an independent reference reader, the splitter and the stream filter
// ---------------------------------------------------------------------------

/// What `keep` rejects in the tools/list targets: names starting with "x".
pub fn keep(name: &str) -> bool {
    !name.starts_with('x')
}

/// The ids of the forwarded tools/list requests in the tools/list targets.
pub fn tools_list_ids() -> Vec<RequestId> {
    let one = RequestId::from_integer(1).unwrap_or_else(|| RequestId::from_string("1"));
    vec![one, RequestId::from_string("a")]
}

/// (event, data, id) of one block.
type Fields = (Option<String>, String, Option<String>);

/// Reference event-stream reader, written from the WHATWG text: decode as
/// UTF-8 (U+FFFD for bad bytes, one leading BOM dropped), split lines at
/// CRLF, LF or CR, and end a block at every blank line. Returns the fields
/// of the complete blocks, and those of the unterminated tail (if any line
/// of it has content).
fn reference_blocks(stream: &[u8]) -> (Vec<Fields>, Option<Fields>) {
    let text = String::from_utf8_lossy(stream);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut blocks = Vec::new();
    let mut current = Block::default();
    let mut rest = text;
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        let after = if rest[end..].starts_with("\r\n") {
            end + 2
        } else {
            end + 1
        };
        rest = &rest[after..];
        if line.is_empty() {
            blocks.push(std::mem::take(&mut current).fields());
        } else {
            current.line(line);
        }
    }
    if !rest.is_empty() {
        current.line(rest);
        current.any = true;
    }
    let tail = if current.any {
        Some(current.fields())
    } else {
        None
    };
    (blocks, tail)
}

#[derive(Default)]
struct Block {
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    any: bool,
}

impl Block {
    fn line(&mut self, line: &str) {
        self.any = true;
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match name {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()).filter(|event| !event.is_empty()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn fields(self) -> Fields {
        (self.event, self.data.unwrap_or_default(), self.id)
    }
}

/// `data` split into a stream and chunk lengths: the last byte's low four
/// bits say how many bytes before it are chunk lengths (0 allowed: an empty
/// push); the rest of the stream goes in one last chunk.
fn chunked(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let Some((&last, body)) = data.split_last() else {
        return (data, Vec::new());
    };
    let count = usize::from(last & 0x0f).min(body.len());
    let (stream, lengths) = body.split_at(body.len() - count);
    let mut chunks = Vec::new();
    let mut rest = stream;
    for &length in lengths {
        let (chunk, tail) = rest.split_at(usize::from(length).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    (stream, chunks)
}

/// The splitter over `chunks`: (fields of each event, all raw bytes, pending).
fn split(chunks: &[&[u8]]) -> (Vec<Fields>, Vec<u8>, Vec<u8>) {
    let mut splitter = SseSplitter::new();
    let mut fields = Vec::new();
    let mut raw = Vec::new();
    for chunk in chunks {
        for event in splitter.push(chunk) {
            raw.extend_from_slice(&event.raw);
            fields.push((event.event, event.data, event.id));
        }
    }
    let pending = splitter.pending().to_vec();
    assert_eq!(splitter.take_pending(), pending);
    assert!(splitter.pending().is_empty());
    (fields, raw, pending)
}

fn filter_stream(chunks: &[&[u8]]) -> Vec<u8> {
    let mut filter = ToolsListStreamFilter::new(tools_list_ids());
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(filter.push(chunk, &keep));
        assert!(filter.pending_len() <= chunks.iter().map(|c| c.len()).sum::<usize>());
    }
    out.extend(filter.finish(&keep));
    assert_eq!(filter.pending_len(), 0);
    out
}

/// The stream cut at fuzzer-chosen points, whole and byte by byte, through
/// `SseSplitter` and `ToolsListStreamFilter`.
pub fn sse_stream(data: &[u8]) {
    let (stream, chunks) = chunked(data);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let (reference, reference_tail) = reference_blocks(stream);

    let (whole_fields, whole_raw, whole_pending) = split(&[stream]);
    assert_eq!(
        whole_fields, reference,
        "splitter and reference reader disagree"
    );
    for cut in [&chunks, &bytes] {
        let (fields, raw, pending) = split(cut);
        // Every byte is in exactly one event's raw or in pending.
        let mut all = raw.clone();
        all.extend_from_slice(&pending);
        assert_eq!(
            all, stream,
            "raw bytes of the events and pending are not the input"
        );
        // Boundaries and fields do not depend on the cuts; the pending bytes
        // only by the LF of a CRLF cut after its CR.
        assert_eq!(
            fields, whole_fields,
            "fields depend on where the stream was cut"
        );
        assert!(
            pending == whole_pending || pending.strip_prefix(b"\n") == Some(&whole_pending[..]),
            "pending bytes depend on where the stream was cut"
        );
    }
    let mut all = whole_raw;
    all.extend_from_slice(&whole_pending);
    assert_eq!(all, stream);

    // The filter: same output however the stream was cut, and no event a
    // client could read holds a tool keep() rejects in one of our responses.
    let out = filter_stream(&[stream]);
    assert_eq!(
        filter_stream(&chunks),
        out,
        "filter output depends on the cuts"
    );
    assert_eq!(
        filter_stream(&bytes),
        out,
        "filter output depends on the cuts (byte by byte)"
    );
    let (out_blocks, out_tail) = reference_blocks(&out);
    assert_eq!(
        out_blocks.len(),
        reference.len(),
        "the filter added or removed events"
    );
    assert_eq!(
        out_tail.is_some(),
        reference_tail.is_some(),
        "the filter added or removed the tail"
    );
    for (_, data, _) in out_blocks.iter().chain(out_tail.iter()) {
        if let Ok(value) = serde_json::from_str::<Value>(data) {
            if let Some(leak) = leaked_tool(&value) {
                panic!(
                    "the filtered stream carries the rejected tool {leak:?} in event data {data:?}"
                );
            }
        }
    }
    let json_like = reference
        .iter()
        .chain(reference_tail.iter())
        .any(|(_, data, _)| {
            matches!(
                data.trim_start_matches([' ', '\t', '\n', '\r'])
                    .chars()
                    .next(),
                Some('{' | '[')
            )
        });
    if !json_like {
        assert_eq!(out, stream, "a stream without JSON data was changed");
    }
}

/// Go `encoding/json` folding for ASCII keys: ASCII case, and `K` (Kelvin
/// sign) for k, `ſ` (long s) for s. Independent of the crate's folding.
fn go_key_is(key: &str, lower_ascii: &str) -> bool {
    let mut chars = key.chars();
    for wanted in lower_ascii.chars() {
        let Some(ch) = chars.next() else { return false };
        let ch = match ch {
            '\u{212A}' => 'k',
            '\u{017F}' => 's',
            other => other.to_ascii_lowercase(),
        };
        if ch != wanted {
            return false;
        }
    }
    chars.next().is_none()
}

/// An id that some client certainly matches to one of `tools_list_ids()`
/// (1 and "a"): a subset of what the filter must treat as ours.
fn is_our_id(id: &Value) -> bool {
    match id {
        Value::Number(number) => number.as_f64() == Some(1.0),
        Value::String(text) => text == "a" || text == "1",
        Value::Bool(flag) => *flag,
        _ => false,
    }
}

/// The first tool name `keep` rejects in a response to one of our ids, in a
/// single response or a batch, with Go-style key folding.
fn leaked_tool(value: &Value) -> Option<String> {
    let responses: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for response in responses {
        let Some(response) = response.as_object() else {
            continue;
        };
        if !response
            .iter()
            .any(|(key, id)| go_key_is(key, "id") && is_our_id(id))
        {
            continue;
        }
        let results = response
            .iter()
            .filter(|(key, _)| go_key_is(key, "result"))
            .filter_map(|(_, r)| r.as_object());
        for result in results {
            let lists = result
                .iter()
                .filter(|(key, _)| go_key_is(key, "tools"))
                .filter_map(|(_, t)| t.as_array());
            for tool in lists.flatten().filter_map(Value::as_object) {
                for (key, name) in tool {
                    if let Some(name) = name
                        .as_str()
                        .filter(|name| go_key_is(key, "name") && !keep(name))
                    {
                        return Some(name.to_owned());
                    }
                }
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// tools_list_json
// ---------------------------------------------------------------------------

/// `value` without the `tools` arrays of any response: what a rewrite may
/// not change.
fn without_tools(value: &Value) -> Value {
    let strip = |response: &Value| -> Value {
        let Some(object) = response.as_object() else {
            return response.clone();
        };
        let mut out = Map::new();
        for (key, member) in object {
            let member = match member.as_object() {
                Some(result) if go_key_is(key, "result") => Value::Object(
                    result
                        .iter()
                        .filter(|(k, v)| !(v.is_array() && go_key_is(k, "tools")))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                _ => member.clone(),
            };
            out.insert(key.clone(), member);
        }
        Value::Object(out)
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => strip(other),
    }
}

/// `filter_tools_list_json`: never panics; refuses a body whatever the
/// policy keeps; a rewrite parses, keeps every other member, and holds no
/// rejected tool; "nothing to change" means there was none.
pub fn tools_list_json(data: &[u8]) {
    let ids = tools_list_ids();
    let filtered = filter_tools_list_json(data, &ids, &keep);
    // One pass reads and cuts: a body is refused whatever the policy.
    assert_eq!(
        filter_tools_list_json(data, &ids, &|_| true).is_err(),
        filtered.is_err(),
        "refused under one policy only"
    );
    match filtered {
        Err(error) => assert!(!error.message.is_empty()),
        Ok(None) => {
            let value: Value = serde_json::from_slice(data)
                .unwrap_or_else(|e| panic!("accepted a response serde_json cannot read: {e}"));
            if let Some(leak) = leaked_tool(&value) {
                panic!("left the rejected tool {leak:?} in place");
            }
        }
        Ok(Some(out)) => {
            let before: Value = serde_json::from_slice(data)
                .unwrap_or_else(|e| panic!("accepted a response serde_json cannot read: {e}"));
            let after: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                panic!(
                    "the rewritten response is not JSON ({e}): {}",
                    String::from_utf8_lossy(&out)
                )
            });
            if let Some(leak) = leaked_tool(&after) {
                panic!("the rewrite kept the rejected tool {leak:?}");
            }
            assert_eq!(
                without_tools(&before),
                without_tools(&after),
                "the rewrite changed more than tools"
            );
            // Rewriting is idempotent: nothing left to remove.
            assert_eq!(
                filter_tools_list_json(&out, &ids, &keep),
                Ok(None),
                "a second pass changed the rewrite"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Structured input
// ---------------------------------------------------------------------------

/// Reads structured values from fuzz bytes (zeros once they run out).
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Source { data }
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&byte, rest)) => {
                self.data = rest;
                byte
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for byte in &mut bytes {
            *byte = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    /// Up to `max` bytes, as text (invalid UTF-8 replaced).
    fn text(&mut self, max: usize) -> String {
        let len = self.below(max + 1).min(self.data.len());
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    /// One of `words` most of the time, else free text.
    fn word(&mut self, words: &[&str]) -> String {
        let choice = self.below(words.len() + 2);
        match words.get(choice) {
            Some(word) => (*word).to_owned(),
            None => self.text(24),
        }
    }

    fn number(&mut self) -> Number {
        match self.below(6) {
            0 => Number::from(self.below(256) as i64 - 28),
            1 => Number::from(self.u64() as i64),
            2 => Number::from(self.u64()),
            3 => {
                let pick = [
                    100.0,
                    100.5,
                    99.999,
                    1.0,
                    2.5,
                    -0.0,
                    0.5,
                    1e300,
                    100.000_000_000_001,
                ];
                Number::from_f64(pick[self.below(pick.len())]).unwrap_or_else(|| Number::from(0))
            }
            4 => Number::from(100 + self.below(3) as i64 - 1),
            _ => Number::from_f64(f64::from_bits(self.u64())).unwrap_or_else(|| Number::from(1)),
        }
    }

    /// A JSON value at most `depth` containers deep, with keys and strings
    /// the policies look at.
    fn value(&mut self, depth: usize) -> Value {
        const KEYS: &[&str] = &[
            "n",
            "s",
            "v",
            "items",
            "a",
            "0",
            "b",
            "amount_total",
            "currency",
            "text",
            "point_of_sale",
            "doc_type",
            "invoices",
            "50",
        ];
        const STRINGS: &[&str] = &[
            "abc",
            "ac",
            "abbbc",
            "x",
            "xyz",
            "1",
            "PES",
            "DOL",
            "EUR",
            "my password is",
            "cbu 123",
            "",
        ];
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.byte() & 1 == 1),
            2 | 3 => Value::Number(self.number()),
            4 => Value::String(self.word(STRINGS)),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => {
                let mut object = Map::new();
                for _ in 0..self.below(5) {
                    let key = self.word(KEYS);
                    let value = self.value(depth - 1);
                    object.insert(key, value);
                }
                Value::Object(object)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// policy_evaluate
// ---------------------------------------------------------------------------

/// A policy whose rules the checks below can predict (the oracle policy).
pub const ORACLE_POLICY: &str = r#"{
  "version": "1",
  "default": "deny",
  "hide": ["secret_*", "drop_db"],
  "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 100}]},
  "tools": {
    "get_*": {},
    "gt": {"deny_if": [{"conditions": [{"path": "args.n", "op": "gt", "value": 100}], "on_deny": "too big"}]},
    "re": {"deny_if": [{"conditions": [{"path": "args.s", "op": "regex", "value": "^ab*c$"}]}]},
    "in": {"require": [{"path": "args.v", "op": "in", "value": [1, "1", 2.5, null]}]},
    "contains": {"deny_if": [{"conditions": [{"path": "args.items", "op": "contains", "value": "x"}]}]},
    "exists": {"require": [{"path": "args.a.0.b", "op": "exists", "value": true}]},
    "deny": {"action": "deny", "message": "no"},
    "approve": {"action": "require_approval"},
    "zero": {"limits": [{"counter": "z", "window": 60, "max": 0}]},
    "dry": {"mode": "dry_run", "action": "deny"},
    "who": {"require": [{"path": "request.grant", "op": "eq", "value": "alice"}, {"path": "request.session", "op": "exists", "value": true}]},
    "batch": {"deny_if": [{"conditions": [{"path": "args.invoices.*.amount_total", "op": "gt", "value": 100}]}]},
    "pair": {"deny_if": [{"conditions": [{"path": "args.invoices.*.currency", "op": "eq", "value": "DOL"}, {"path": "args.invoices.*.amount_total", "op": "gt", "value": 100}]}]},
    "every": {"require": [{"path": "args.items.*.n", "op": "gt", "value": 100, "on_deny": "each item over 100"}]}
  },
  "methods": {
    "resources/read": {"default": "deny", "rules": {"file:///public/*": "allow"}},
    "prompts/get": {"default": "allow", "rules": {"secret*": "deny"}},
    "logging/setLevel": "deny"
  }
}"#;

/// The policies requests are decided against, compiled once: the seed
/// policy, the repository's example policies, the oracle policy, and the
/// no-policy policy. Index 3 is the oracle policy.
pub fn policies() -> &'static [Policy] {
    static POLICIES: OnceLock<Vec<Policy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let texts = [
            include_str!("../../policies/seed-policy.json"),
            include_str!("../../policies/mcp-afip-invoice-guard.json"),
            include_str!("../../policies/mcp-afip-dry-run.json"),
            ORACLE_POLICY,
            include_str!("../../policies/mcp-afip-recommended.json"),
        ];
        let mut policies: Vec<Policy> = texts
            .iter()
            .map(|text| {
                Policy::from_json_text(text)
                    .unwrap_or_else(|e| panic!("a fuzz policy does not load: {e}"))
            })
            .collect();
        policies.push(Policy::deny_all_no_policy());
        policies
    })
}

const ORACLE: usize = 3;
const NO_POLICY: usize = 5;

/// One request for `policy_evaluate`, decoded from bytes.
#[derive(Debug)]
pub struct EvalInput {
    pub policy: usize,
    pub method: String,
    pub target: Option<String>,
    pub arguments: Option<Value>,
    pub grant: String,
    pub session: Option<String>,
}

impl EvalInput {
    pub fn decode(data: &[u8]) -> EvalInput {
        const METHODS: &[&str] = &[
            "tools/call",
            "tools/call",
            "tools/call",
            "tools/call",
            "resources/read",
            "prompts/get",
            "initialize",
            "ping",
            "tools/list",
            "notifications/initialized",
            "logging/setLevel",
            "tasks/get",
            "completion/complete",
            "sampling/x",
        ];
        const TARGETS: &[&str] = &[
            "gt",
            "re",
            "in",
            "contains",
            "exists",
            "deny",
            "approve",
            "zero",
            "dry",
            "who",
            "get_x",
            "get_",
            "secret_a",
            "drop_db",
            "create_invoice",
            "send_text",
            "logout_instance",
            "delete_instance",
            "cancel_invoice",
            "create_invoice_batch",
            "batch",
            "pair",
            "every",
            "file:///public/a",
            "file:///private",
            "secret1",
            "unknown",
        ];
        let mut source = Source::new(data);
        let policy = source.below(policies().len());
        let method = source.word(METHODS);
        let target = if source.below(8) == 0 {
            None
        } else {
            Some(source.word(TARGETS))
        };
        let arguments = match source.below(8) {
            0 => None,
            1 => Some(source.value(3)),
            _ => {
                let mut object = Map::new();
                for _ in 0..source.below(4) + 1 {
                    let key = source.word(&[
                        "n",
                        "s",
                        "v",
                        "items",
                        "a",
                        "amount_total",
                        "currency",
                        "text",
                        "point_of_sale",
                        "doc_type",
                        "invoices",
                    ]);
                    let value = source.value(3);
                    object.insert(key, value);
                }
                Some(Value::Object(object))
            }
        };
        let grant = source.word(&["alice", "bob"]);
        let session = if source.byte() & 1 == 0 {
            None
        } else {
            Some(source.word(&["s-1"]))
        };
        EvalInput {
            policy,
            method,
            target,
            arguments,
            grant,
            session,
        }
    }

    pub fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            target: self.target.as_deref(),
            arguments: self.arguments.as_ref(),
            grant: &self.grant,
            session: self.session.as_deref(),
        }
    }
}

/// A request against a fixed policy: deciding never panics, is repeatable,
/// agrees with `listing`, and with the oracle policy's predicted decisions.
pub fn policy_evaluate(data: &[u8]) {
    let input = EvalInput::decode(data);
    let request = input.request();
    let policy = &policies()[input.policy];
    let decision = policy.decide(&request);
    assert_eq!(
        format!("{decision:?}"),
        format!("{:?}", policy.decide(&request)),
        "decide is not repeatable"
    );
    match &decision {
        Decision::Allow {
            rule,
            limits,
            would_deny,
        } => {
            assert!(
                rule.starts_with('/') || rule.starts_with('('),
                "odd rule {rule:?}"
            );
            for limit in limits {
                assert!(
                    limit.rule.starts_with("/tools/")
                        || limit.rule.starts_with("/all_tools/limits/"),
                    "odd limit rule {:?}",
                    limit.rule
                );
            }
            if let Some(denial) = would_deny {
                assert!(!denial.message.is_empty() && !denial.rule.is_empty());
            }
        }
        Decision::Deny(denial) => {
            assert!(
                policy.mode() == Mode::Enforce,
                "a dry-run policy denied {input:?}: {denial:?}"
            );
            assert!(!denial.message.is_empty());
            assert!(
                denial.rule.starts_with('/') || denial.rule.starts_with('('),
                "odd rule {:?}",
                denial.rule
            );
        }
    }
    if input.method == "tools/call" {
        if let Some(tool) = request.target {
            check_listing(policy, tool, &decision, &input);
        }
        if input.policy == NO_POLICY {
            assert!(
                matches!(&decision, Decision::Deny(d) if d.rule == "(no policy)"),
                "{decision:?}"
            );
        }
    }
    if input.policy == ORACLE {
        if let Some(expected) = oracle(&input) {
            assert_eq!(outcome(&decision), expected, "oracle policy: {input:?}");
        }
    }
}

/// `listing` must agree with what calling the tool gives.
fn check_listing(policy: &Policy, tool: &str, decision: &Decision<'_>, input: &EvalInput) {
    let listing = policy.listing(tool);
    if policy.mode() == Mode::DryRun {
        assert_eq!(listing, Listing::Visible, "dry-run policy hides {tool:?}");
        return;
    }
    let hidden_denial = matches!(decision, Decision::Deny(d) if d.kind == DenialKind::Hidden);
    assert_eq!(
        listing == Listing::Hidden,
        hidden_denial,
        "listing {listing:?} but decision {decision:?} for {input:?}"
    );
    if listing == Listing::NeverAllowed {
        let blocked = match decision {
            Decision::Deny(_) => true,
            Decision::Allow { limits, .. } => {
                limits.iter().any(|limit| limit.max == 0 && !limit.dry_run)
            }
        };
        assert!(
            blocked,
            "listing NeverAllowed but {decision:?} for {input:?}"
        );
    }
}

/// "allow <rule>" or "deny <kind> <rule>".
fn outcome(decision: &Decision<'_>) -> String {
    match decision {
        Decision::Allow { rule, .. } => format!("allow {rule}"),
        Decision::Deny(denial) => format!("deny {:?} {}", denial.kind, denial.rule),
    }
}

/// The member at a dotted path, the condition language's way: objects by
/// key, arrays by canonical index.
fn at_path<'v>(arguments: Option<&'v Value>, path: &[&str]) -> Option<&'v Value> {
    let mut current = arguments?;
    for segment in path {
        current = match current {
            Value::Object(members) => members.get(*segment)?,
            Value::Array(items) => {
                let canonical = !segment.is_empty()
                    && segment.bytes().all(|b| b.is_ascii_digit())
                    && (*segment == "0" || !segment.starts_with('0'));
                if !canonical {
                    return None;
                }
                items.get(segment.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Exact `number > 100`.
fn above_100(number: &Number) -> bool {
    if let Some(i) = number.as_i64() {
        i > 100
    } else if let Some(u) = number.as_u64() {
        u > 100
    } else {
        number.as_f64().is_some_and(|f| f > 100.0)
    }
}

/// Value equality of numbers as exact values; other JSON as is.
fn same_number(number: &Number, int: i64, float: f64) -> bool {
    match (number.as_i64(), number.as_u64()) {
        (Some(i), _) => i == int,
        (None, Some(_)) => false,
        (None, None) => number.as_f64() == Some(float),
    }
}

/// The oracle policy's decision, where the checks can predict it.
fn oracle(input: &EvalInput) -> Option<String> {
    let args = input.arguments.as_ref();
    let target = input.target.as_deref();
    let allow_tool = |tool: &str| format!("allow /tools/{tool}");
    match input.method.as_str() {
        "tools/call" => {}
        "resources/read" => {
            return Some(match target {
                Some(uri) if uri.starts_with("file:///public/") => {
                    "allow /methods/resources~1read/rules/file:~1~1~1public~1*".to_owned()
                }
                _ => "deny Denied /methods/resources~1read/default".to_owned(),
            })
        }
        "prompts/get" => {
            return Some(match target {
                Some(name) if name.starts_with("secret") => {
                    "deny Denied /methods/prompts~1get/rules/secret*".to_owned()
                }
                _ => "allow /methods/prompts~1get/default".to_owned(),
            })
        }
        "logging/setLevel" => return Some("deny Denied /methods/logging~1setLevel".to_owned()),
        "ping" | "initialize" | "tools/list" | "notifications/initialized" => {
            return Some("allow (protocol)".to_owned())
        }
        _ => return None,
    }
    let Some(tool) = target else {
        return Some("deny Denied (no tool name)".to_owned());
    };
    if tool.starts_with("secret_") || tool == "drop_db" {
        return Some("deny Hidden (hidden)".to_owned());
    }
    let condition_error = |rule: &str| format!("deny ConditionError {rule}");
    Some(match tool {
        "gt" => match at_path(args, &["n"]) {
            None => allow_tool(tool),
            Some(Value::Number(n)) if above_100(n) => "deny Denied /tools/gt/deny_if/0".to_owned(),
            Some(Value::Number(_)) => allow_tool(tool),
            Some(_) => condition_error("/tools/gt/deny_if/0/conditions/0"),
        },
        "re" => match at_path(args, &["s"]) {
            None => allow_tool(tool),
            Some(Value::String(s)) => {
                let body = s.strip_prefix('a').and_then(|rest| rest.strip_suffix('c'));
                if body.is_some_and(|b| b.chars().all(|c| c == 'b')) {
                    "deny Denied /tools/re/deny_if/0".to_owned()
                } else {
                    allow_tool(tool)
                }
            }
            Some(_) => condition_error("/tools/re/deny_if/0/conditions/0"),
        },
        "in" => {
            let ok = match at_path(args, &["v"]) {
                Some(Value::Number(n)) => {
                    same_number(n, 1, 1.0)
                        || (n.as_f64() == Some(2.5) && n.as_i64().is_none() && n.as_u64().is_none())
                }
                Some(Value::String(s)) => s == "1",
                Some(Value::Null) => true,
                _ => false,
            };
            if ok {
                allow_tool(tool)
            } else {
                "deny Denied /tools/in/require/0".to_owned()
            }
        }
        "contains" => match at_path(args, &["items"]) {
            None => allow_tool(tool),
            Some(Value::Array(items)) if items.iter().any(|item| item == "x") => {
                "deny Denied /tools/contains/deny_if/0".to_owned()
            }
            Some(Value::Array(_)) => allow_tool(tool),
            Some(Value::String(s)) if s.contains('x') => {
                "deny Denied /tools/contains/deny_if/0".to_owned()
            }
            Some(Value::String(_)) => allow_tool(tool),
            Some(_) => condition_error("/tools/contains/deny_if/0/conditions/0"),
        },
        "exists" => match at_path(args, &["a", "0", "b"]) {
            Some(_) => allow_tool(tool),
            None => "deny Denied /tools/exists/require/0".to_owned(),
        },
        "deny" => "deny Denied /tools/deny/action".to_owned(),
        "approve" => "deny ApprovalRequired /tools/approve/action".to_owned(),
        "zero" | "dry" => allow_tool(tool),
        "who" => {
            if input.grant != "alice" {
                "deny Denied /tools/who/require/0".to_owned()
            } else if input.session.is_none() {
                "deny Denied /tools/who/require/1".to_owned()
            } else {
                allow_tool(tool)
            }
        }
        "batch" | "pair" => any_invoice(tool, args),
        "every" => match at_path(args, &["items"]) {
            None => "deny Denied /tools/every/require/0".to_owned(),
            Some(Value::Array(items)) => items
                .iter()
                .find_map(|item| match item.get("n") {
                    Some(Value::Number(n)) if above_100(n) => None,
                    None | Some(Value::Number(_)) => {
                        Some("deny Denied /tools/every/require/0".to_owned())
                    }
                    Some(_) => Some(condition_error("/tools/every/require/0")),
                })
                .unwrap_or_else(|| allow_tool(tool)),
            Some(_) => condition_error("/tools/every/require/0"),
        },
        _ if tool.starts_with("get_") => "allow /tools/get_*".to_owned(),
        _ => "deny Denied (default deny)".to_owned(),
    })
}

/// The oracle's `batch` (some invoice over 100) and `pair` (some invoice in
/// dollars and over 100): elements in order, the first that decides wins.
fn any_invoice(tool: &str, args: Option<&Value>) -> String {
    let rule = format!("/tools/{tool}/deny_if/0");
    let items = match at_path(args, &["invoices"]) {
        None => return format!("allow /tools/{tool}"),
        Some(Value::Array(items)) => items,
        Some(_) => return format!("deny ConditionError {rule}/conditions/0"),
    };
    let amount = if tool == "pair" { 1 } else { 0 };
    for item in items {
        let member = |key: &str| item.as_object().and_then(|o| o.get(key));
        if tool == "pair" && member("currency") != Some(&Value::from("DOL")) {
            continue;
        }
        match member("amount_total") {
            Some(Value::Number(n)) if above_100(n) => return format!("deny Denied {rule}"),
            None | Some(Value::Number(_)) => {}
            Some(_) => return format!("deny ConditionError {rule}/conditions/{amount}"),
        }
    }
    format!("allow /tools/{tool}")
}

// ---------------------------------------------------------------------------
// policy_compile
// ---------------------------------------------------------------------------

/// Arbitrary text through `Policy::from_json_text`: never panics; a loaded
/// policy also loads from serde_json's reading of the text, and decides.
pub fn policy_compile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_json_text(text) {
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an empty error list");
            for error in &errors.0 {
                assert!(!error.message.is_empty());
                assert!(
                    error.path.is_empty() || error.path.starts_with('/'),
                    "odd pointer {:?}",
                    error.path
                );
            }
            let _ = errors.to_string();
        }
        Ok(policy) => {
            // The policy reader allows one leading byte-order mark; serde_json does not.
            let json = text.strip_prefix('\u{feff}').unwrap_or(text);
            let value: Value = serde_json::from_str(json).unwrap_or_else(|e| {
                panic!("a policy loaded from text serde_json cannot read: {e}")
            });
            if let Err(errors) = Policy::from_value(&value, "") {
                panic!("loads from text but not from its value: {errors}");
            }
            let _ = (policy.mode(), policy.limits(), policy.named_tools());
            let names: Vec<String> = policy
                .named_tools()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let args = Value::Object(Map::new());
            for tool in names.iter().map(String::as_str).chain(["", "x", "get_a"]) {
                let listing = policy.listing(tool);
                let request = Request {
                    method: "tools/call",
                    target: Some(tool),
                    arguments: Some(&args),
                    grant: "g",
                    session: None,
                };
                let decision = policy.decide(&request);
                if policy.mode() == Mode::Enforce {
                    let hidden =
                        matches!(&decision, Decision::Deny(d) if d.kind == DenialKind::Hidden);
                    assert_eq!(
                        listing == Listing::Hidden,
                        hidden,
                        "listing {listing:?} vs {decision:?}"
                    );
                }
            }
            for method in ["resources/read", "prompts/get", "ping", "x/y"] {
                let request = Request {
                    method,
                    target: Some("a"),
                    arguments: None,
                    grant: "g",
                    session: None,
                };
                let _ = policy.decide(&request);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// header_map
// ---------------------------------------------------------------------------

/// The proxy-wasm header map codec. The bytes as a map the host handed
/// over: decoding never panics, and a decoded map encodes and decodes to
/// itself. The bytes as pairs (split on their first byte, then paired; an
/// odd piece out is a name with an empty value): they encode, decode to
/// their lossy UTF-8 reading, and every shorter prefix but the one without
/// the final NUL is refused.
pub fn header_map(data: &[u8]) {
    if let Some(map) = decode_header_map(data) {
        let pairs: Vec<(&str, &str)> = map.iter().collect();
        let again = encode_header_map(&pairs).expect("a decoded map encodes");
        assert_eq!(
            decode_header_map(&again).as_ref(),
            Some(&map),
            "re-decoding changed the map"
        );
    }
    let Some((&separator, rest)) = data.split_first() else {
        return;
    };
    let pieces: Vec<&[u8]> = rest.split(|&byte| byte == separator).collect();
    let pairs: Vec<(&[u8], &[u8])> = pieces
        .chunks(2)
        .map(|pair| (pair[0], pair.get(1).copied().unwrap_or_default()))
        .collect();
    let bytes = encode_header_map(&pairs).expect("small pairs encode");
    let expected: HeaderMap = pairs
        .iter()
        .map(|(name, value)| {
            (
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value),
            )
        })
        .collect();
    assert_eq!(
        decode_header_map(&bytes).as_ref(),
        Some(&expected),
        "round trip"
    );
    let last = bytes.len() - 1;
    assert_eq!(
        decode_header_map(&bytes[..last]).as_ref(),
        Some(&expected),
        "the final NUL is optional"
    );
    for cut in [1, 4, 5, bytes.len() / 2, last - 1] {
        if (1..last).contains(&cut) {
            assert_eq!(
                decode_header_map(&bytes[..cut]),
                None,
                "a prefix of {cut} bytes decoded"
            );
        }
    }
}
