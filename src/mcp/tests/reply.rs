use serde_json::{json, Value};

use super::rid;
use crate::mcp::{
    denial_result, error_response, error_response_with_data, INTERNAL_ERROR, INVALID_PARAMS,
    INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
};

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn codes() {
    assert_eq!(
        [
            PARSE_ERROR,
            INVALID_REQUEST,
            METHOD_NOT_FOUND,
            INVALID_PARAMS,
            INTERNAL_ERROR
        ],
        [-32700, -32600, -32601, -32602, -32603]
    );
}

#[test]
fn error_responses() {
    assert_eq!(
        String::from_utf8(error_response(Some(&rid("1")), INVALID_REQUEST, "bad")).unwrap(),
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"bad"}}"#
    );
    assert_eq!(
        String::from_utf8(error_response(None, PARSE_ERROR, "x")).unwrap(),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#
    );
    let text = "quote \" backslash \\ newline \n tab \t nul \0 unicode é \u{2028}";
    let value = parse(&error_response(Some(&rid("\"a\\\"b\"")), -32000, text));
    assert_eq!(
        value,
        json!({"jsonrpc":"2.0","id":"a\"b","error":{"code":-32000,"message":text}})
    );
    let data = json!({"supported":["2025-06-18"],"requested":"1999"});
    let value = parse(&error_response_with_data(
        Some(&rid("2")),
        -32022,
        "Unsupported",
        &data,
    ));
    assert_eq!(
        value,
        json!({"jsonrpc":"2.0","id":2,"error":{"code":-32022,"message":"Unsupported","data":data}})
    );
}

#[test]
fn denials() {
    assert_eq!(
        String::from_utf8(denial_result(
            &rid("3"),
            None,
            "tool \"rm\" is not allowed",
            &[]
        ))
        .unwrap(),
        r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"[POLICY DENIED] tool \"rm\" is not allowed"}],"isError":true}}"#
    );
    let meta = [
        ("mcp-policy/rule", json!("deny-rm")),
        ("mcp-policy/retryAfterSeconds", json!(30)),
        ("mcp-policy/rule", json!("ignored")),
    ];
    let value = parse(&denial_result(&rid("\"x\""), None, "rate limited", &meta));
    assert_eq!(
        value,
        json!({"jsonrpc":"2.0","id":"x","result":{
            "content":[{"type":"text","text":"[POLICY DENIED] rate limited"}],
            "isError":true,
            "_meta":{"mcp-policy/rule":"deny-rm","mcp-policy/retryAfterSeconds":30}}})
    );
    // Output is strict JSON (no duplicate keys).
    assert!(crate::mcp::strict_json::parse_strict(
        &denial_result(&rid("1"), Some("complete"), "t", &meta),
        64
    )
    .is_ok());
}
