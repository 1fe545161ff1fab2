use proptest::prelude::*;
use serde_json::Value;

use super::sse::split_all;
use crate::mcp::strict_json::parse_strict;
use crate::mcp::{
    filter_tools_list_json, read_payload, sniff_id, ReadLimits, RequestId, SseSplitter,
    ToolsListStreamFilter,
};

fn json_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\\",
        "\"id\"",
        "\"jsonrpc\"",
        "\"2.0\"",
        "\"method\"",
        "\"tools/call\"",
        "\"params\"",
        "\"name\"",
        "\"n\\u0061me\"",
        "\"arguments\"",
        "\"result\"",
        "\"tools\"",
        "1",
        "-1",
        "1.5e3",
        "null",
        "true",
        " ",
        "\n",
        "\\u00",
        "\\ud800",
        "\u{feff}",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn sse_stream() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        "data: x", "data:y", "data", "event: e", "id: 1", "retry: 9", ": c", "\n", "\r", "\r\n", "\n\n", "\r\r",
        "\u{feff}", "é", "😀", "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"rm\"},{\"name\":\"ok\"}]}}",
        "data: {\"id\":7,\"id\":7}",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|parts| parts.concat().into_bytes())
}

/// Whether a lenient client (last duplicate key wins, as JSON.parse) reading
/// `stream` would see a response to id 7 listing the tool "rm".
fn leaks_rm(stream: &[u8]) -> bool {
    // A lenient client might dispatch the unterminated tail too.
    let mut splitter = SseSplitter::new();
    let mut events = splitter.push(stream);
    events.extend(splitter.push(b"\n\n"));
    events.iter().any(|event| {
        let Ok(value) = serde_json::from_str::<Value>(&event.data) else {
            return false;
        };
        let responses = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        responses.iter().any(|response| {
            response.get("id") == Some(&Value::from(7))
                && response["result"]["tools"]
                    .as_array()
                    .is_some_and(|tools| tools.iter().any(|tool| tool["name"] == "rm"))
        })
    })
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..8).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut last = 0;
    for &cut in cuts {
        let cut = cut.min(bytes.len()).max(last);
        chunks.push(bytes[last..cut].to_vec());
        last = cut;
    }
    chunks.push(bytes[last..].to_vec());
    chunks
}

proptest! {
    // No regression files: they would land outside this module's folder.
    // PROPTEST_CASES overrides the number of cases.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_payload(&bytes, &ReadLimits::default());
        let _ = sniff_id(&bytes);
        let _ = filter_tools_list_json(&bytes, &[], &|_: &str| false);
    }

    #[test]
    fn reader_never_panics_on_json_soup(text in json_soup(), depth in 0usize..8) {
        let _ = read_payload(text.as_bytes(), &ReadLimits { max_depth: depth });
        let _ = sniff_id(text.as_bytes());
        let ids = [RequestId::from_integer(1).unwrap()];
        let _ = filter_tools_list_json(text.as_bytes(), &ids, &|name: &str| name != "name");
        let _ = crate::mcp::case_variant_key_conflict(text.as_bytes(), &ReadLimits::default());
    }

    #[test]
    fn strict_parser_agrees_with_serde_json_on_valid_json(value in arbitrary_json()) {
        let text = serde_json::to_string(&value).unwrap();
        prop_assert_eq!(parse_strict(text.as_bytes(), 64).unwrap(), value.clone());
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(parse_strict(pretty.as_bytes(), 64).unwrap(), value);
    }

    #[test]
    fn strict_parser_accepts_no_more_than_serde_json(text in json_soup()) {
        if let Ok(value) = parse_strict(text.as_bytes(), 64) {
            prop_assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        }
    }

    #[test]
    fn sse_chunking_does_not_matter(stream in sse_stream(), cuts in cuts(400)) {
        let (whole, whole_pending) = split_all(&[&stream]);
        let chunks = chunked(&stream, &cuts);
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let (events, pending) = split_all(&refs);
        let fields = |events: &[crate::mcp::SseEvent]| -> Vec<(Option<String>, String, Option<String>)> {
            events.iter().map(|event| (event.event.clone(), event.data.clone(), event.id.clone())).collect()
        };
        prop_assert_eq!(fields(&events), fields(&whole));
        let cr_lf_cut = cuts.iter().any(|&cut| cut > 0 && stream.get(cut - 1) == Some(&b'\r') && stream.get(cut) == Some(&b'\n'));
        if !cr_lf_cut {
            prop_assert_eq!(&events, &whole);
            prop_assert_eq!(&pending, &whole_pending);
        }
        let mut all: Vec<u8> = events.iter().flat_map(|event| event.raw.clone()).collect();
        all.extend_from_slice(&pending);
        prop_assert_eq!(all, stream);
    }

    #[test]
    fn sse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256), cuts in cuts(256)) {
        let mut splitter = SseSplitter::new();
        let mut total = 0;
        for chunk in chunked(&bytes, &cuts) {
            total += splitter.push(&chunk).iter().map(|event| event.raw.len()).sum::<usize>();
        }
        prop_assert_eq!(total + splitter.pending().len(), bytes.len());
    }

    #[test]
    fn stream_filter_chunking_does_not_matter(stream in sse_stream(), cuts in cuts(400)) {
        let ids = vec![RequestId::from_integer(7).unwrap()];
        let keep = |name: &str| name != "rm";
        let mut filter = ToolsListStreamFilter::new(ids.clone());
        let mut whole = filter.push(&stream, &keep);
        whole.extend(filter.finish(&keep));
        let mut filter = ToolsListStreamFilter::new(ids);
        let mut out = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            out.extend(filter.push(&chunk, &keep));
        }
        out.extend(filter.finish(&keep));
        prop_assert_eq!(&out, &whole);
        // Whatever reaches the client never holds the hidden tool.
        prop_assert!(!leaks_rm(&out), "hidden tool forwarded: {}", String::from_utf8_lossy(&out));
    }
}
