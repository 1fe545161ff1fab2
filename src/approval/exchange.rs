//! The multi-round-trip exchange of MCP 2026-07-28 (`input_required`), as the
//! filter speaks it to ask the caller's user to confirm a call: the result it
//! answers the call with, whether the client can be asked at all, and what
//! its retry carries back.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::mcp::{Message, RequestId};

/// The key of the filter's own entry in `inputRequests` / `inputResponses`.
pub const INPUT_KEY: &str = "mcp-policy/approval";
/// The longest rendering of a call's arguments shown to the user.
const MAX_SHOWN_ARGUMENTS: usize = 2000;

/// Whether the request's client declared form elicitation (2026-07-28: in
/// the request's `_meta` client capabilities). An empty `elicitation` object
/// means form, as the protocol's backward compatibility rule says.
pub fn can_ask(message: &Message) -> bool {
    let elicitation = message
        .params()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get("io.modelcontextprotocol/clientCapabilities"))
        .and_then(|capabilities| capabilities.get("elicitation"));
    match elicitation {
        Some(Value::Object(modes)) => modes.is_empty() || modes.contains_key("form"),
        _ => false,
    }
}

/// Whether the request's client declared URL elicitation (2026-07-28).
pub fn can_open_url(message: &Message) -> bool {
    message
        .params()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get("io.modelcontextprotocol/clientCapabilities"))
        .and_then(|capabilities| capabilities.get("elicitation"))
        .and_then(Value::as_object)
        .is_some_and(|modes| modes.contains_key("url"))
}

/// What the client's retry says about the filter's question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// No answer to the filter's question (a first call, or an upstream's round).
    None,
    Accept,
    Decline,
    Cancel,
}

/// The request state the retry echoes (`params.requestState`).
pub fn request_state(message: &Message) -> Option<&str> {
    message.params()?.get("requestState")?.as_str()
}

/// The client's answer to the filter's question (`params.inputResponses`).
pub fn answer(message: &Message) -> Answer {
    let action = message
        .params()
        .and_then(|params| params.get("inputResponses"))
        .and_then(|responses| responses.get(INPUT_KEY))
        .and_then(|response| response.get("action"))
        .and_then(Value::as_str);
    match action {
        None => Answer::None,
        Some("accept") => Answer::Accept,
        Some("decline") => Answer::Decline,
        Some(_) => Answer::Cancel,
    }
}

/// The user-facing rendering of a call's arguments, bounded.
fn shown(arguments: Option<&Value>) -> String {
    let text = arguments
        .map(|arguments| serde_json::to_string_pretty(arguments).unwrap_or_default())
        .unwrap_or_else(|| "{}".to_owned());
    if text.len() <= MAX_SHOWN_ARGUMENTS {
        return text;
    }
    let mut cut = MAX_SHOWN_ARGUMENTS;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… ({} bytes in all)",
        text.get(..cut).unwrap_or(""),
        text.len()
    )
}

/// The `input_required` result asking the caller's user to confirm the call.
pub fn input_required(
    id: &RequestId,
    tool: &str,
    arguments: Option<&Value>,
    state: &str,
) -> Vec<u8> {
    let message = format!(
        "The MCP gateway's policy asks you to confirm this call before it runs.\n\nTool: {tool}\nArguments:\n{}",
        shown(arguments)
    );
    let params = json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {"type": "object", "properties": {}}
    });
    asking(id, params, state)
}

/// The `input_required` result sending the user to the approval page.
pub fn input_required_url(
    id: &RequestId,
    message: &str,
    url: &str,
    approval: &str,
    state: &str,
) -> Vec<u8> {
    let params = json!({
        "mode": "url",
        "message": message,
        "url": url,
        "elicitationId": approval
    });
    asking(id, params, state)
}

fn asking(id: &RequestId, params: Value, state: &str) -> Vec<u8> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": Value::Null,
        "result": {
            "resultType": "input_required",
            "inputRequests": {
                INPUT_KEY: {"method": "elicitation/create", "params": params}
            },
            "requestState": state
        }
    });
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    // The id as the request spelled it, which `json!` cannot hold as is.
    let null_id = br#""id":null"#;
    if let Some(at) = bytes
        .windows(null_id.len())
        .position(|window| window == null_id)
    {
        let mut id_field = br#""id":"#.to_vec();
        id_field.extend_from_slice(id.as_json().as_bytes());
        bytes.splice(at..at + null_id.len(), id_field);
    }
    bytes
}

/// The call as forwarded: its params without the filter's own entry of
/// `inputResponses` and with `requestState` set to the upstream's own (or
/// removed). Every other member keeps its text as the client sent it.
/// `None` if the body is not a single call.
pub fn forwarded_body(body: &[u8], upstream_state: Option<&str>) -> Option<Vec<u8>> {
    let mut message: BTreeMap<String, Raw> = serde_json::from_slice(body).ok()?;
    let mut params: BTreeMap<String, Raw> =
        serde_json::from_str(message.get("params")?.get()).ok()?;
    if let Some(raw) = params.remove("inputResponses") {
        let mut responses: BTreeMap<String, Raw> = serde_json::from_str(raw.get()).ok()?;
        responses.remove(INPUT_KEY);
        if !responses.is_empty() {
            params.insert("inputResponses".to_owned(), to_raw(&responses)?);
        }
    }
    match upstream_state {
        Some(state) => {
            params.insert("requestState".to_owned(), to_raw(&state)?);
        }
        None => {
            params.remove("requestState");
        }
    }
    message.insert("params".to_owned(), to_raw(&params)?);
    serde_json::to_vec(&message).ok()
}

type Raw = Box<serde_json::value::RawValue>;

fn to_raw(value: &impl serde::Serialize) -> Option<Raw> {
    serde_json::value::to_raw_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::{read_payload, Payload, ReadLimits};

    fn message(body: &Value) -> Message {
        match read_payload(body.to_string().as_bytes(), &ReadLimits::default()) {
            Ok(Payload::Single(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_client_that_declared_form_elicitation_can_be_asked() {
        let call = |capabilities: Value| {
            message(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "t", "_meta": {"io.modelcontextprotocol/clientCapabilities": capabilities}}}),
            )
        };
        assert!(can_ask(&call(json!({"elicitation": {"form": {}}}))));
        assert!(can_ask(&call(json!({"elicitation": {}}))));
        assert!(!can_ask(&call(json!({"elicitation": {"url": {}}}))));
        assert!(!can_ask(&call(json!({}))));
    }

    #[test]
    fn the_question_keeps_the_id_and_shows_the_arguments() {
        let id = RequestId::from_string("call-1");
        let body = input_required(
            &id,
            "create_invoice",
            Some(&json!({"amount_total": 5})),
            "S.T",
        );
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["id"], "call-1");
        assert_eq!(reply["result"]["resultType"], "input_required");
        assert_eq!(reply["result"]["requestState"], "S.T");
        let request = &reply["result"]["inputRequests"][INPUT_KEY];
        assert_eq!(request["method"], "elicitation/create");
        let text = request["params"]["message"].as_str().unwrap();
        assert!(
            text.contains("create_invoice") && text.contains("\"amount_total\": 5"),
            "{text}"
        );
    }

    #[test]
    fn the_retry_is_forwarded_without_the_filters_own_fields() {
        let retry = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "t", "arguments": {"a": 1}, "requestState": "ours",
            "inputResponses": {INPUT_KEY: {"action": "accept"}, "upstream-q": {"action": "accept", "content": {}}}}});
        assert_eq!(answer(&message(&retry)), Answer::Accept);
        assert_eq!(request_state(&message(&retry)), Some("ours"));
        let out: Value =
            serde_json::from_slice(&forwarded_body(retry.to_string().as_bytes(), None).unwrap())
                .unwrap();
        assert_eq!(
            out["params"],
            json!({"name": "t", "arguments": {"a": 1},
            "inputResponses": {"upstream-q": {"action": "accept", "content": {}}}})
        );
        let out: Value = serde_json::from_slice(
            &forwarded_body(retry.to_string().as_bytes(), Some("theirs")).unwrap(),
        )
        .unwrap();
        assert_eq!(out["params"]["requestState"], "theirs");
        // Numbers keep the client's spelling, whatever a parser would make of them.
        let text = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"n":123456789012345678901234567890,"f":1E2},"requestState":"x"}}"#;
        let out = String::from_utf8(forwarded_body(text.as_bytes(), None).unwrap()).unwrap();
        assert!(
            out.contains(r#"{"n":123456789012345678901234567890,"f":1E2}"#),
            "{out}"
        );
        assert!(!out.contains("requestState"), "{out}");
    }
}
