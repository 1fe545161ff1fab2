use serde_json::json;

use super::{read, read_err, rid, single};
use crate::mcp::{
    case_variant_key_conflict, read_payload, MessageKind, Payload, ReadLimits, INVALID_PARAMS,
    INVALID_REQUEST, PARSE_ERROR,
};

fn assert_error(body: &str, code: i64, id: Option<&str>, needle: &str) {
    let error = read_err(body);
    assert_eq!(error.code, code, "{body}: {error:?}");
    assert_eq!(error.id, id.map(rid), "{body}: {error:?}");
    assert!(
        error.message.contains(needle),
        "{body}: {:?} lacks {needle:?}",
        error.message
    );
}

#[test]
fn reads_a_tools_call() {
    let message = single(
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/tmp"}}}"#,
    );
    assert_eq!(message.id, Some(rid("7")));
    assert_eq!(message.method(), Some("tools/call"));
    assert_eq!(message.target(), Some("read_file"));
    assert_eq!(message.arguments(), Some(&json!({"path":"/tmp"})));
    assert!(message.is_request());
}

#[test]
fn reads_notifications_and_responses() {
    let message = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert_eq!(message.id, None);
    assert_eq!(
        message.kind,
        MessageKind::Notification {
            method: "notifications/initialized".into(),
            params: None
        }
    );
    let message = single(r#"{"jsonrpc":"2.0","id":"s1","result":{"content":[]}}"#);
    assert_eq!(message.id, Some(rid("\"s1\"")));
    assert_eq!(message.kind, MessageKind::Response);
    assert_eq!(message.method(), None);
    assert_eq!(message.target(), None);
    let message = single(r#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}"#);
    assert_eq!(message.kind, MessageKind::Response);
}

#[test]
fn params_kept_and_targets() {
    let message = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}"#,
    );
    assert_eq!(message.target(), Some("file:///a"));
    assert_eq!(message.arguments(), None);
    let message = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p","arguments":{"a":"b"}}}"#,
    );
    assert_eq!(message.target(), Some("p"));
    assert_eq!(message.arguments(), Some(&json!({"a":"b"})));
    let message =
        single(r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t-1"}}"#);
    assert_eq!(message.target(), Some("t-1"));
    let message =
        single(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#);
    assert_eq!(message.target(), None);
    assert_eq!(message.params(), Some(&json!({"cursor":"c"})));
    let message = single(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1,2]}"#);
    assert_eq!(message.params(), Some(&json!([1, 2])));
    // Unknown members are ignored.
    single(r#"{"jsonrpc":"2.0","id":1,"method":"ping","extra":{"a":1}}"#);
}

#[test]
fn escaped_names_are_the_names() {
    let message = single(
        r#"{"jsonrpc":"2.0","id":1,"m\u0065thod":"tools\/call","params":{"n\u0061me":"\u0072ead_file","arguments":{}}}"#,
    );
    assert_eq!(message.method(), Some("tools/call"));
    assert_eq!(message.target(), Some("read_file"));
}

#[test]
fn names_match_exactly() {
    for name in [
        " read_file",
        "read_file ",
        "Read_File",
        "READ_FILE",
        "read_file\n",
        "read\u{200b}_file",
    ] {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name}})
            .to_string();
        assert_eq!(single(&body).target(), Some(name));
    }
    // Method names too: no trimming or folding.
    let message = single(r#"{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"Name":5}}"#);
    assert_eq!(message.method(), Some("Tools/Call"));
    assert_eq!(message.target(), None);
}

#[test]
fn case_variants_count_only_exactly() {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","Name":"danger","NAME":"x"}}"#;
    assert_eq!(single(body).target(), Some("safe"));
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"danger"}}"#,
        INVALID_PARAMS,
        Some("1"),
        "params.name",
    );
    // The opt-in check for Go-like upstreams sees them.
    let limits = ReadLimits::default();
    assert_eq!(
        case_variant_key_conflict(body.as_bytes(), &limits).as_deref(),
        Some("keys \"NAME\" and \"Name\" at /params")
    );
    let kelvin = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"a\":{\"k\":1,\"\u{212a}\":2}}}";
    assert!(case_variant_key_conflict(kelvin.as_bytes(), &limits)
        .unwrap()
        .ends_with("at /params/a"));
    let top = r#"{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}"#;
    assert!(case_variant_key_conflict(top.as_bytes(), &limits)
        .unwrap()
        .ends_with("at the top level"));
    let clean = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":{"y":1}}}}"#;
    assert_eq!(case_variant_key_conflict(clean.as_bytes(), &limits), None);
    assert_eq!(case_variant_key_conflict(b"{", &limits), None);
}

#[test]
fn parse_errors_keep_a_readable_id() {
    assert_error(
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":"#,
        PARSE_ERROR,
        Some("7"),
        "Parse error",
    );
    assert_error("not json", PARSE_ERROR, None, "Parse error");
    assert_error("", PARSE_ERROR, None, "empty");
    assert_error(
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
        PARSE_ERROR,
        Some("1"),
        "byte-order mark",
    );
    let error = read_payload(
        b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"p\xffing\"}",
        &ReadLimits::default(),
    )
    .unwrap_err();
    assert_eq!((error.code, error.id), (PARSE_ERROR, Some(rid("2"))));
    assert!(error.message.contains("UTF-8"));
}

#[test]
fn trailing_garbage_versus_whitespace() {
    single("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} \r\n\t");
    single(" \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}x"#,
        PARSE_ERROR,
        Some("1"),
        "after the JSON value",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}"#,
        PARSE_ERROR,
        Some("1"),
        "after the JSON value",
    );
    assert_error(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\0",
        PARSE_ERROR,
        Some("1"),
        "after",
    );
}

#[test]
fn duplicate_keys_refused_at_any_depth() {
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","name":"danger"}}"#,
        PARSE_ERROR,
        Some("1"),
        "duplicate key \"name\" at /params",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","n\u0061me":"danger"}}"#,
        PARSE_ERROR,
        Some("1"),
        "duplicate key \"name\" at /params",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"x"}}"#,
        PARSE_ERROR,
        Some("1"),
        "duplicate key \"method\" at the top level",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[{"b":{"path":"/ok","p\u0061th":"/etc/passwd"}}]}}}"#,
        PARSE_ERROR,
        Some("1"),
        "duplicate key \"path\" at /params/arguments/a/0/b",
    );
    // A repeated id: no id can be trusted.
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
        PARSE_ERROR,
        None,
        "duplicate key \"id\"",
    );
    // In a batch element.
    assert_error(
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a","name":"b"}}]"#,
        PARSE_ERROR,
        None,
        "duplicate key \"name\" at /1/params",
    );
}

fn nested_request(depth: usize) -> String {
    // Root object (1) + params (2) + arguments (3) + arrays.
    let arrays = depth - 3;
    let value = if arrays == 0 {
        "1".to_string()
    } else {
        format!("{}{}", "[".repeat(arrays), "]".repeat(arrays))
    };
    format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"t","arguments":{{"a":{value}}}}}}}"#
    )
}

#[test]
fn depth_limit_counts_containers() {
    single(&nested_request(64));
    assert_error(
        &nested_request(65),
        PARSE_ERROR,
        Some("9"),
        "nesting deeper than 64 levels",
    );
    let limits = ReadLimits { max_depth: 3 };
    assert!(read_payload(nested_request(3).as_bytes(), &limits).is_ok());
    let error = read_payload(nested_request(4).as_bytes(), &limits).unwrap_err();
    assert_eq!(error.code, PARSE_ERROR);
    assert!(
        error.message.contains("at /params/arguments/a"),
        "{}",
        error.message
    );
}

#[test]
fn hundred_thousand_brackets() {
    for body in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    ] {
        let error = read_err(&body);
        assert_eq!(error.code, PARSE_ERROR);
        assert_eq!(error.id, None);
    }
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":4,"method":"x","params":{}"#,
        "[".repeat(100_000)
    );
    assert_error(&body, PARSE_ERROR, Some("4"), "nesting deeper");
}

#[test]
fn top_level_shape() {
    assert_error("[]", INVALID_REQUEST, None, "empty batch");
    assert_error("[[]]", INVALID_REQUEST, None, "batch element 0 is not");
    assert_error(
        r#"[{"jsonrpc":"2.0","method":"a"},[{"jsonrpc":"2.0","method":"b"}]]"#,
        INVALID_REQUEST,
        None,
        "batch element 1",
    );
    assert_error("[1]", INVALID_REQUEST, None, "batch element 0");
    assert_error("[null]", INVALID_REQUEST, None, "batch element 0");
    for body in ["\"x\"", "5", "null", "true"] {
        assert_error(body, INVALID_REQUEST, None, "must be a JSON-RPC object");
    }
    assert_error("{}", INVALID_REQUEST, None, "jsonrpc");
}

#[test]
fn batches() {
    let body = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":1,"result":{}}]"#;
    let Ok(Payload::Batch(messages)) = read(body) else {
        panic!()
    };
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].method(), Some("tools/list"));
    assert_eq!(messages[1].id, None);
    assert_eq!(messages[2].kind, MessageKind::Response);
    let payload = read(body).unwrap();
    assert!(payload.is_batch());
    assert_eq!(payload.messages().len(), 3);
    assert_eq!(payload.into_messages().len(), 3);
    let one = read(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).unwrap();
    assert!(matches!(one, Payload::Batch(ref messages) if messages.len() == 1));
    let single = read(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
    assert!(!single.is_batch());
    assert_eq!(single.messages().len(), 1);
}

#[test]
fn batch_element_errors_carry_that_elements_id() {
    assert_error(
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{}}]"#,
        INVALID_PARAMS,
        Some("2"),
        "batch element 1: tools/call requires a string \"params.name\"",
    );
    assert_error(
        r#"[{"jsonrpc":"2.0","id":"a","method":7}]"#,
        INVALID_REQUEST,
        Some("\"a\""),
        "batch element 0: \"method\" must be a string",
    );
}

#[test]
fn duplicate_ids_in_batch() {
    for (a, b) in [
        ("1", "1"),
        ("\"x\"", "\"x\""),
        ("\"x\"", "\"\\u0078\""),
        ("1", "\"1\""),
        ("1", "\" 1 \""),
    ] {
        let body = format!(
            r#"[{{"jsonrpc":"2.0","id":{a},"method":"tools/list"}},{{"jsonrpc":"2.0","id":{b},"method":"tools/call","params":{{"name":"x"}}}}]"#
        );
        assert_error(&body, INVALID_REQUEST, None, "duplicate request id");
    }
    // Different ids, and a response sharing a request's id (other id space).
    read(r#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"},{"jsonrpc":"2.0","id":1,"result":{}}]"#)
        .unwrap();
    read(r#"[{"jsonrpc":"2.0","id":"a","method":"a"},{"jsonrpc":"2.0","id":"b","method":"b"}]"#)
        .unwrap();
    assert_error(
        r#"[{"jsonrpc":"2.0","id":5,"result":{}},{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":"m"}}]"#,
        INVALID_REQUEST,
        None,
        "duplicate response id",
    );
}

#[test]
fn jsonrpc_version() {
    assert_error(
        r#"{"id":1,"method":"ping"}"#,
        INVALID_REQUEST,
        Some("1"),
        "missing \"jsonrpc\"",
    );
    for version in ["\"1.0\"", "2.0", "\"2.0 \"", "\"2\"", "null"] {
        let body = format!(r#"{{"jsonrpc":{version},"id":1,"method":"ping"}}"#);
        assert_error(&body, INVALID_REQUEST, Some("1"), "exactly \"2.0\"");
    }
    single(r#"{"jsonrpc":"2\u002e0","id":1,"method":"ping"}"#);
}

#[test]
fn method_and_params_types() {
    for method in ["1", "null", "[\"tools/call\"]", "{}", "true"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":{method}}}"#);
        assert_error(
            &body,
            INVALID_REQUEST,
            Some("1"),
            "\"method\" must be a string",
        );
    }
    for params in ["\"x\"", "1", "null", "true"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{params}}}"#);
        assert_error(
            &body,
            INVALID_REQUEST,
            Some("1"),
            "\"params\" must be an object or an array",
        );
    }
    assert_error(
        r#"{"jsonrpc":"2.0","id":1}"#,
        INVALID_REQUEST,
        Some("1"),
        "missing \"method\"",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#,
        INVALID_REQUEST,
        Some("1"),
        "both",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"method":"a","error":{}}"#,
        INVALID_REQUEST,
        Some("1"),
        "both",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#,
        INVALID_REQUEST,
        Some("1"),
        "both",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","result":{}}"#,
        INVALID_REQUEST,
        None,
        "must have an \"id\"",
    );
    assert_error(
        r#"{"jsonrpc":"2.0","id":1,"error":"x"}"#,
        INVALID_REQUEST,
        Some("1"),
        "\"error\" must be an object",
    );
}

#[test]
fn id_types() {
    for id in [
        "null",
        "true",
        "false",
        "{}",
        "[]",
        "[1]",
        "1.5",
        "1.0",
        "1e2",
        "-0",
        "-0.0",
        "9007199254740992",
        "-9007199254740992",
        "18446744073709551615",
        "1e400",
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        let error = read_err(&body);
        assert_eq!(error.id, None, "{id}");
        if id == "1e400" {
            assert_eq!(error.code, PARSE_ERROR);
        } else {
            assert_eq!(error.code, INVALID_REQUEST, "{id}");
            assert!(
                error
                    .message
                    .contains("\"id\" must be a string or an integer"),
                "{}",
                error.message
            );
        }
    }
    assert_error(
        r#"{"jsonrpc":"2.0","id":null,"result":{}}"#,
        INVALID_REQUEST,
        None,
        "\"id\"",
    );
    for (id, canonical) in [
        ("0", "0"),
        ("9007199254740991", "9007199254740991"),
        ("-9007199254740991", "-9007199254740991"),
        ("\"\"", "\"\""),
        ("\"a\\u0062\"", "\"ab\""),
        ("\"\\/\"", "\"/\""),
        ("\"q\\\"\"", "\"q\\\"\""),
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        assert_eq!(single(&body).id.unwrap().as_json(), canonical);
    }
}

#[test]
fn invalid_params_of_policy_methods() {
    let cases = [
        (
            r#""method":"tools/call""#,
            "tools/call requires \"params\" to be an object",
        ),
        (
            r#""method":"tools/call","params":{}"#,
            "tools/call requires a string \"params.name\"",
        ),
        (
            r#""method":"tools/call","params":["x"]"#,
            "tools/call requires \"params\" to be an object",
        ),
        (
            r#""method":"tools/call","params":{"name":5}"#,
            "params.name",
        ),
        (
            r#""method":"tools/call","params":{"name":null}"#,
            "params.name",
        ),
        (
            r#""method":"tools/call","params":{"name":"t","arguments":[]}"#,
            "\"params.arguments\" must be an object",
        ),
        (
            r#""method":"tools/call","params":{"name":"t","arguments":null}"#,
            "\"params.arguments\" must be an object",
        ),
        (
            r#""method":"tools/call","params":{"name":"t","arguments":"{}"}"#,
            "\"params.arguments\" must be an object",
        ),
        (
            r#""method":"resources/read","params":{}"#,
            "resources/read requires a string \"params.uri\"",
        ),
        (
            r#""method":"resources/read","params":{"uri":1}"#,
            "params.uri",
        ),
        (
            r#""method":"resources/read""#,
            "resources/read requires \"params\"",
        ),
        (
            r#""method":"prompts/get","params":{"arguments":{}}"#,
            "prompts/get requires a string \"params.name\"",
        ),
        (
            r#""method":"prompts/get","params":{"name":"p","arguments":1}"#,
            "params.arguments",
        ),
    ];
    for (members, needle) in cases {
        let body = format!(r#"{{"jsonrpc":"2.0","id":"r",{members}}}"#);
        assert_error(&body, INVALID_PARAMS, Some("\"r\""), needle);
        // Also as a notification (no id to keep).
        let body = format!(r#"{{"jsonrpc":"2.0",{members}}}"#);
        assert_error(&body, INVALID_PARAMS, None, needle);
    }
    single(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}}"#);
    single(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}"#,
    );
}

#[test]
fn read_error_displays() {
    let error = read_err("[]");
    assert_eq!(error.to_string(), "Invalid Request: empty batch (-32600)");
}
