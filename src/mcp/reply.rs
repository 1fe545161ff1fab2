//! JSON-RPC replies the gateway writes itself (wire format).

use std::fmt::Write as _;

use serde_json::Value;

use super::request_id::RequestId;
use crate::json::string::json_string;

/// `{"jsonrpc":"2.0","id":<id or null>,"error":{"code":..,"message":..}}`
pub fn error_response(id: Option<&RequestId>, code: i64, message: &str) -> Vec<u8> {
    error_body(id, code, message, None)
}

/// As [`error_response`], with `error.data`.
pub fn error_response_with_data(
    id: Option<&RequestId>,
    code: i64,
    message: &str,
    data: &Value,
) -> Vec<u8> {
    error_body(id, code, message, Some(data))
}

fn error_body(id: Option<&RequestId>, code: i64, message: &str, data: Option<&Value>) -> Vec<u8> {
    let mut out = String::with_capacity(96 + message.len());
    out.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out.push_str(id.map_or("null", RequestId::as_json));
    let _ = write!(out, ",\"error\":{{\"code\":{code},\"message\":");
    out.push_str(&json_string(message));
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(&value_text(data));
    }
    out.push_str("}}");
    out.into_bytes()
}

/// A PolicyLayer denial, as a tool result the model can read:
/// `{"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":"[POLICY DENIED] <text>"}],"isError":true,"_meta":{..}}}`.
/// `result_type` (2026-07-28 results) is written as `resultType`. `_meta` is
/// present only when `meta` is non-empty; a key given twice keeps its first
/// value.
pub fn denial_result(
    id: &RequestId,
    result_type: Option<&str>,
    text: &str,
    meta: &[(&str, Value)],
) -> Vec<u8> {
    let mut out = String::with_capacity(128 + text.len());
    out.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out.push_str(id.as_json());
    out.push_str(",\"result\":{");
    if let Some(result_type) = result_type {
        out.push_str("\"resultType\":");
        out.push_str(&json_string(result_type));
        out.push(',');
    }
    out.push_str("\"content\":[{\"type\":\"text\",\"text\":");
    out.push_str(&json_string(&format!("[POLICY DENIED] {text}")));
    out.push_str("}],\"isError\":true");
    if !meta.is_empty() {
        out.push_str(",\"_meta\":{");
        let mut written: Vec<&str> = Vec::with_capacity(meta.len());
        for (key, value) in meta {
            if written.contains(key) {
                continue;
            }
            if !written.is_empty() {
                out.push(',');
            }
            written.push(key);
            out.push_str(&json_string(key));
            out.push(':');
            out.push_str(&value_text(value));
        }
        out.push('}');
    }
    out.push_str("}}");
    out.into_bytes()
}

fn value_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
