use crate::mcp::{SseEvent, SseSplitter};

/// (event, data, id) of each event.
type Fields = (Option<String>, String, Option<String>);

fn fields(events: &[SseEvent]) -> Vec<Fields> {
    events
        .iter()
        .map(|event| (event.event.clone(), event.data.clone(), event.id.clone()))
        .collect()
}

fn f(event: Option<&str>, data: &str, id: Option<&str>) -> Fields {
    (
        event.map(str::to_string),
        data.to_string(),
        id.map(str::to_string),
    )
}

pub(super) fn split_all(chunks: &[&[u8]]) -> (Vec<SseEvent>, Vec<u8>) {
    let mut splitter = SseSplitter::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(splitter.push(chunk));
    }
    (events, splitter.pending().to_vec())
}

fn concat(events: &[SseEvent], pending: &[u8]) -> Vec<u8> {
    let mut all: Vec<u8> = events.iter().flat_map(|event| event.raw.clone()).collect();
    all.extend_from_slice(pending);
    all
}

const STREAM: &str = "event: message\nid: 1\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: first\ndata:second\ndata:  third\n\nretry: 100\nevent: endpoint\ndata: /messages?sessionId=é\n\n";

#[test]
fn basic_fields() {
    let (events, pending) = split_all(&[STREAM.as_bytes()]);
    assert!(pending.is_empty());
    assert_eq!(
        fields(&events),
        vec![
            f(Some("message"), "{\"a\":1}", Some("1")),
            f(None, "", None),
            f(None, "first\nsecond\n third", None),
            f(Some("endpoint"), "/messages?sessionId=é", None),
        ]
    );
    assert_eq!(events[0].raw, b"event: message\nid: 1\ndata: {\"a\":1}\n\n");
    assert_eq!(events[1].raw, b": keep-alive\n\n");
    assert_eq!(concat(&events, &pending), STREAM.as_bytes());
}

#[test]
fn line_endings() {
    for ending in ["\n", "\r\n", "\r"] {
        let stream = ["data: a", "data: b", "", "id: 7", "data: c", "", ""].join(ending);
        let (events, pending) = split_all(&[stream.as_bytes()]);
        assert_eq!(
            fields(&events[..2]),
            vec![f(None, "a\nb", None), f(None, "c", Some("7"))],
            "{ending:?}"
        );
        assert_eq!(concat(&events, &pending), stream.as_bytes());
    }
    // Mixed endings in one stream.
    let (events, _) = split_all(&[b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"]);
    assert_eq!(
        fields(&events),
        vec![f(None, "a\nb\nc", None), f(None, "d", None)]
    );
    assert_eq!(events[0].raw, b"data: a\r\ndata: b\rdata: c\n\r\n");
    assert_eq!(events[1].raw, b"data: d\r\r");
}

#[test]
fn field_parsing_rules() {
    let (events, _) = split_all(&[b"data\ndata:\ndata: x\n\n"]);
    assert_eq!(events[0].data, "\n\nx");
    let (events, _) = split_all(&[b"data:no space\ndata:  two spaces\n\n"]);
    assert_eq!(events[0].data, "no space\n two spaces");
    let (events, _) = split_all(&[b"data: a:b: c\n\n"]);
    assert_eq!(events[0].data, "a:b: c");
    // Last event/id wins; empty event is the default type; NUL ids ignored.
    let (events, _) = split_all(&[b"event: a\nevent: b\nid: 1\nid: 2\ndata: x\n\nevent: a\nevent:\ndata: y\n\nid: a\0b\ndata: z\n\n"]);
    assert_eq!(
        fields(&events),
        vec![
            f(Some("b"), "x", Some("2")),
            f(None, "y", None),
            f(None, "z", None)
        ]
    );
    // Empty id is an id (it resets the last event id).
    let (events, _) = split_all(&[b"id\n\n"]);
    assert_eq!(events[0].id.as_deref(), Some(""));
    // Unknown fields, comments and retry are ignored; field names are case-sensitive.
    let (events, _) = split_all(&[b": c\nretry: 5\nDATA: no\nData: no\nfoo: bar\ndata: yes\n\n"]);
    assert_eq!(fields(&events), vec![f(None, "yes", None)]);
    // Invalid UTF-8 becomes U+FFFD.
    let (events, _) = split_all(&[b"data: a\xffb\n\n"]);
    assert_eq!(events[0].data, "a\u{fffd}b");
}

#[test]
fn pending_tail() {
    let mut splitter = SseSplitter::new();
    assert!(splitter.push(b"data: a\n\ndata: b\n").len() == 1);
    assert_eq!(splitter.pending(), b"data: b\n");
    assert_eq!(splitter.push(b"data: c").len(), 0);
    assert_eq!(splitter.pending(), b"data: b\ndata: c");
    assert_eq!(splitter.take_pending(), b"data: b\ndata: c");
    assert!(splitter.pending().is_empty());
    let events = splitter.push(b"data: d\n\n");
    assert_eq!(fields(&events), vec![f(None, "d", None)]);
}

#[test]
fn byte_order_mark() {
    let stream = b"\xEF\xBB\xBFdata: a\n\ndata: b\n\n";
    let (events, _) = split_all(&[stream]);
    assert_eq!(
        fields(&events),
        vec![f(None, "a", None), f(None, "b", None)]
    );
    assert_eq!(events[0].raw, b"\xEF\xBB\xBFdata: a\n\n");
    let (split, _) = split_all(&[b"\xEF", b"\xBB", b"\xBF", b"data: a\n\n"]);
    assert_eq!(fields(&split), vec![f(None, "a", None)]);
    // Only at the very start.
    let (events, _) = split_all(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]);
    assert_eq!(fields(&events)[1], f(None, "", None));
    // A lone partial BOM stays pending.
    let (events, pending) = split_all(&[b"\xEF\xBB"]);
    assert!(events.is_empty());
    assert_eq!(pending, b"\xEF\xBB");
}

#[test]
fn cr_at_chunk_end_then_lf() {
    let mut splitter = SseSplitter::new();
    let first = splitter.push(b"data: a\r\r");
    assert_eq!(fields(&first), vec![f(None, "a", None)], "emitted at once");
    let second = splitter.push(b"\ndata: b\r\n\r\n");
    assert_eq!(
        fields(&second),
        vec![f(None, "b", None)],
        "the LF is not a blank line"
    );
    assert_eq!(second[0].raw, b"\ndata: b\r\n\r\n");
    // CR at chunk end in the middle of an event.
    let (events, _) = split_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(fields(&events), vec![f(None, "a\nb", None)]);
    assert_eq!(events[0].raw, b"data: a\r\ndata: b\r\n\r");
}

const MIXED: &[u8] = b"\xEF\xBB\xBFevent: message\r\nid: 1\r\ndata: {\"x\":\"\xC3\xA9\xF0\x9F\x98\x80\"}\r\n\r\n: ping\n\ndata: a\rdata: b\r\r\n\nid: 9\ndata\n\ndata: tail";

#[test]
fn every_split_point_gives_the_same_events() {
    let (whole, whole_pending) = split_all(&[MIXED]);
    assert_eq!(whole.len(), 5);
    for cut in 0..=MIXED.len() {
        let (events, pending) = split_all(&[&MIXED[..cut], &MIXED[cut..]]);
        assert_eq!(fields(&events), fields(&whole), "cut at {cut}");
        assert_eq!(pending, whole_pending, "cut at {cut}");
        assert_eq!(concat(&events, &pending), MIXED, "cut at {cut}");
        // Raw bytes only move (an LF to the next event) when the cut falls
        // between the CR and LF of a blank line.
        let between_cr_lf = cut > 0 && MIXED[cut - 1] == b'\r' && MIXED.get(cut) == Some(&b'\n');
        if !between_cr_lf {
            let raws: Vec<_> = events.iter().map(|event| event.raw.clone()).collect();
            let whole_raws: Vec<_> = whole.iter().map(|event| event.raw.clone()).collect();
            assert_eq!(raws, whole_raws, "cut at {cut}");
        }
    }
    // Byte by byte.
    let chunks: Vec<&[u8]> = MIXED.chunks(1).collect();
    let (events, pending) = split_all(&chunks);
    assert_eq!(fields(&events), fields(&whole));
    assert_eq!(concat(&events, &pending), MIXED);
}

#[test]
fn multibyte_split() {
    let stream = "data: héllo 😀\n\n".as_bytes();
    for cut in 0..=stream.len() {
        let (events, _) = split_all(&[&stream[..cut], &stream[cut..]]);
        assert_eq!(events[0].data, "héllo 😀");
    }
}
