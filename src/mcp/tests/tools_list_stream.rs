use super::rid;
use crate::mcp::{RequestId, ToolsListStreamFilter};

fn keep(name: &str) -> bool {
    name != "rm"
}

fn filter_chunks(ids: &[RequestId], chunks: &[&[u8]]) -> Vec<u8> {
    let mut filter = ToolsListStreamFilter::new(ids.to_vec());
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(filter.push(chunk, &keep));
    }
    out.extend(filter.finish(&keep));
    out
}

fn filter_str(ids: &[RequestId], stream: &str) -> String {
    String::from_utf8(filter_chunks(ids, &[stream.as_bytes()])).unwrap()
}

const PROGRESS: &str = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1,\"tools\":[{\"name\":\"rm\"}]}}\n\n";
const REQUEST: &str = "event: message\nid: ev-1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\",\"params\":{}}\n\n";
const RESPONSE: &str = "event: message\nid: ev-2\nretry: 3000\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"rm\"},{\"name\":\"ok\"}],\"nextCursor\":\"n\",\"_meta\":{\"m\":true}}}\n\n";
const FILTERED: &str = "event: message\nid: ev-2\nretry: 3000\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"ok\"}],\"nextCursor\":\"n\",\"_meta\":{\"m\":true}}}\n\n";

#[test]
fn filters_the_response_after_notifications() {
    let stream = format!(": prime\nid: 0\ndata:\n\n{PROGRESS}{REQUEST}{RESPONSE}");
    let expected = format!(": prime\nid: 0\ndata:\n\n{PROGRESS}{REQUEST}{FILTERED}");
    assert_eq!(filter_str(&[rid("7")], &stream), expected);
}

#[test]
fn other_ids_and_non_json_pass_untouched() {
    let stream =
        format!("event: endpoint\ndata: /messages?sessionId=1\n\n{RESPONSE}data: plain text\n\n");
    assert_eq!(filter_str(&[rid("8")], &stream), stream);
    assert_eq!(filter_str(&[], &stream), stream);
    let all_kept = RESPONSE.replace("\"rm\"", "\"fine\"");
    assert_eq!(filter_str(&[rid("7")], &all_kept), all_kept);
}

#[test]
fn multi_line_data_becomes_one_line() {
    let stream = "id: 5\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":7,\"result\":{\"tools\":[\r\n: comment inside\r\ndata: {\"name\":\"rm\"},{\"name\":\"ok\"}]}}\r\nevent: message\r\n\r\n";
    assert_eq!(
        filter_str(&[rid("7")], stream),
        "id: 5\r\ndata: {\"jsonrpc\":\"2.0\", \"id\":7,\"result\":{\"tools\":[{\"name\":\"ok\"}]}}\r\n:\r\n: comment inside\r\n:\r\nevent: message\r\n\r\n"
    );
}

#[test]
fn batch_in_one_event() {
    let stream = "data: [{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"rm\"}]}},{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"rm\"}]}}]\n\n";
    assert_eq!(
        filter_str(&[rid("7")], stream),
        "data: [{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[]}},{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"rm\"}]}}]\n\n"
    );
}

#[test]
fn unreadable_json_is_never_forwarded() {
    // Duplicate keys: JSON.parse would read the last "tools".
    let stream = "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[],\"tools\":[{\"name\":\"rm\"}]}}\n\n";
    assert_eq!(
        filter_str(&[rid("7")], stream),
        "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32603,\"message\":\"tools/list response could not be read by the policy filter\"}}\n\n"
    );
    // No id we can trust: the event is replaced by a comment.
    let stream = "id: x\ndata: {\"id\":7,\"id\":8,\"result\":{}}\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{\"a\":1,\"a\":2}}\n\n";
    assert_eq!(
        filter_str(&[rid("7")], stream),
        "id: x\n: mcp-policy-filter removed an unreadable JSON event\n\n: mcp-policy-filter removed an unreadable JSON event\n\n"
    );
    // Broken JSON for a response we do not filter: also removed.
    let stream = "data: {\"id\":9,\n\n";
    assert_eq!(
        filter_str(&[rid("7")], stream),
        ": mcp-policy-filter removed an unreadable JSON event\n\n"
    );
    // Data that does not look like JSON passes (JSON.parse would refuse it too).
    let stream = "data: \u{feff}{\"id\":7}\n\n";
    assert_eq!(filter_str(&[rid("7")], stream), stream);
}

#[test]
fn tail_at_end_of_stream() {
    let tail = "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"rm\"}]}}";
    let stream = format!("{PROGRESS}{tail}");
    assert_eq!(
        filter_str(&[rid("7")], &stream),
        format!("{PROGRESS}data: {{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{{\"tools\":[]}}}}")
    );
    let mut filter = ToolsListStreamFilter::new(vec![rid("7")]);
    assert_eq!(filter.push(b"data: partial", &keep), b"");
    assert_eq!(filter.pending_len(), 13);
    assert_eq!(filter.finish(&keep), b"data: partial");
    assert_eq!(filter.finish(&keep), b"");
}

#[test]
fn any_split_gives_the_same_output() {
    let stream = format!(
        "\u{feff}: p\r\n\r\n{PROGRESS}{}{}data: {{\"id\":7,\"id\":1}}\r\r\n{}",
        REQUEST.replace('\n', "\r"),
        RESPONSE.replace('\n', "\r\n"),
        RESPONSE
    );
    let bytes = stream.as_bytes();
    let whole = filter_chunks(&[rid("7")], &[bytes]);
    assert!(
        whole
            .windows(13)
            .filter(|w| w == b"{\"name\":\"rm\"}")
            .count()
            == 1,
        "only the progress keeps rm"
    );
    for cut in 0..=bytes.len() {
        assert_eq!(
            filter_chunks(&[rid("7")], &[&bytes[..cut], &bytes[cut..]]),
            whole,
            "cut at {cut}"
        );
    }
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(filter_chunks(&[rid("7")], &chunks), whole);
}
