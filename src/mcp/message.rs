//! The strict JSON-RPC message reader: `read_payload`.
//!
//! The body is parsed by `strict_json` (duplicate keys, depth, BOM, trailing
//! data: all -32700), then checked as JSON-RPC 2.0 (-32600) and, for the
//! methods the policy looks into, as MCP params (-32602).
//!
//! Members are matched case-sensitively, as the MCP SDKs for TypeScript and
//! Python do: in `{"name":"a","Name":"b"}` only `"name"` counts and `"Name"`
//! is an unknown member. A server decoding like Go's `encoding/json`
//! (case-insensitive, last one wins) would read `"b"`; a gateway in front of
//! such a server should also refuse bodies `case_fold::case_variant_key_conflict`
//! reports.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use super::request_id::{numeric_key, RequestId};
use super::sniff::sniff_id;
use super::strict_json::parse_strict;
use super::{INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR};

/// Default for [`ReadLimits::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 64;

pub struct ReadLimits {
    /// Deepest container nesting accepted (`{}` is 1, `{"a":[]}` is 2).
    /// Deeper is a parse error (-32700), found while parsing. Values above
    /// [`DEPTH_CEILING`](super::DEPTH_CEILING) act as the ceiling.
    pub max_depth: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Single(Message),
    Batch(Vec<Message>),
}

impl Payload {
    pub fn messages(&self) -> &[Message] {
        match self {
            Payload::Single(message) => std::slice::from_ref(message),
            Payload::Batch(messages) => messages,
        }
    }

    pub fn into_messages(self) -> Vec<Message> {
        match self {
            Payload::Single(message) => vec![message],
            Payload::Batch(messages) => messages,
        }
    }

    pub fn is_batch(&self) -> bool {
        matches!(self, Payload::Batch(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Requests and responses always have one; notifications never.
    pub id: Option<RequestId>,
    pub kind: MessageKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MessageKind {
    Request {
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A client's JSON-RPC response (result or error) to a server request.
    Response,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub code: i64,
    pub message: String,
    /// The id of the offending message when it could be read: for -32700 a
    /// best-effort [`sniff_id`]; in a batch, the id of the element at fault
    /// (`None` for errors about the batch as a whole).
    pub id: Option<RequestId>,
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ReadError {}

impl Message {
    pub fn method(&self) -> Option<&str> {
        match &self.kind {
            MessageKind::Request { method, .. } | MessageKind::Notification { method, .. } => {
                Some(method)
            }
            MessageKind::Response => None,
        }
    }

    pub fn params(&self) -> Option<&Value> {
        match &self.kind {
            MessageKind::Request { params, .. } | MessageKind::Notification { params, .. } => {
                params.as_ref()
            }
            MessageKind::Response => None,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.kind, MessageKind::Request { .. })
    }

    /// What the call is about: `params.name` for tools/call and prompts/get,
    /// `params.uri` for resources/read, `params.taskId` for `tasks/*`.
    pub fn target(&self) -> Option<&str> {
        let member = match self.method()? {
            "tools/call" | "prompts/get" => "name",
            "resources/read" => "uri",
            method if method.starts_with("tasks/") => "taskId",
            _ => return None,
        };
        self.params()?.get(member)?.as_str()
    }

    /// `params.arguments` of tools/call and prompts/get.
    pub fn arguments(&self) -> Option<&Value> {
        match self.method()? {
            "tools/call" | "prompts/get" => self.params()?.get("arguments"),
            _ => None,
        }
    }
}

/// Reads one JSON-RPC message or a batch, refusing anything ambiguous.
pub fn read_payload(body: &[u8], limits: &ReadLimits) -> Result<Payload, ReadError> {
    let value = parse_strict(body, limits.max_depth).map_err(|error| ReadError {
        code: PARSE_ERROR,
        message: format!("Parse error: {}", error.message),
        id: sniff_id(body),
    })?;
    match value {
        Value::Object(object) => read_message(object, None).map(Payload::Single),
        Value::Array(items) => read_batch(items),
        _ => Err(ReadError {
            code: INVALID_REQUEST,
            message:
                "Invalid Request: the body must be a JSON-RPC object or a non-empty array of them"
                    .into(),
            id: None,
        }),
    }
}

fn read_batch(items: Vec<Value>) -> Result<Payload, ReadError> {
    let batch_error = |message: String| ReadError {
        code: INVALID_REQUEST,
        message,
        id: None,
    };
    if items.is_empty() {
        return Err(batch_error("Invalid Request: empty batch".into()));
    }
    let mut messages = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(object) => messages.push(read_message(object, Some(index))?),
            _ => {
                return Err(batch_error(format!(
                    "Invalid Request: batch element {index} is not a JSON-RPC object"
                )))
            }
        }
    }
    // Ids any peer could confuse (same value, or same number under
    // JavaScript's Number()) count as duplicates. Requests and responses are
    // separate id spaces (the client's and the server's).
    let mut seen: HashSet<(bool, &RequestId)> = HashSet::new();
    let mut seen_numbers: HashSet<(bool, u64)> = HashSet::new();
    for message in &messages {
        let Some(id) = &message.id else { continue };
        let is_request = message.is_request();
        let fresh_text = seen.insert((is_request, id));
        let fresh_number = numeric_key(id).is_none_or(|key| seen_numbers.insert((is_request, key)));
        if !fresh_text || !fresh_number {
            let what = if is_request { "request" } else { "response" };
            return Err(batch_error(format!(
                "Invalid Request: duplicate {what} id {id} in batch"
            )));
        }
    }
    Ok(Payload::Batch(messages))
}

fn read_message(
    mut object: Map<String, Value>,
    index: Option<usize>,
) -> Result<Message, ReadError> {
    let place = match index {
        Some(index) => format!("batch element {index}: "),
        None => String::new(),
    };
    let id = match object.remove("id") {
        None => None,
        Some(value) => match RequestId::from_value(&value) {
            Some(id) => Some(id),
            None => {
                return Err(ReadError {
                    code: INVALID_REQUEST,
                    message: format!(
                        "Invalid Request: {place}\"id\" must be a string or an integer within ±(2^53-1), not {}",
                        describe(&value)
                    ),
                    id: None,
                })
            }
        },
    };
    let fail = |code: i64, text: &str| {
        let kind = if code == INVALID_PARAMS {
            "Invalid params"
        } else {
            "Invalid Request"
        };
        ReadError {
            code,
            message: format!("{kind}: {place}{text}"),
            id: id.clone(),
        }
    };
    match object.get("jsonrpc") {
        Some(Value::String(version)) if version == "2.0" => {}
        None => return Err(fail(INVALID_REQUEST, "missing \"jsonrpc\": \"2.0\"")),
        Some(_) => return Err(fail(INVALID_REQUEST, "\"jsonrpc\" must be exactly \"2.0\"")),
    }
    let has_result = object.contains_key("result");
    let has_error = object.contains_key("error");
    let kind = match object.remove("method") {
        Some(Value::String(method)) => {
            if has_result || has_error {
                return Err(fail(
                    INVALID_REQUEST,
                    "a message cannot have both \"method\" and \"result\" or \"error\"",
                ));
            }
            let params = object.remove("params");
            if !matches!(
                params,
                None | Some(Value::Object(_)) | Some(Value::Array(_))
            ) {
                return Err(fail(
                    INVALID_REQUEST,
                    "\"params\" must be an object or an array",
                ));
            }
            if let Err(text) = check_params(&method, params.as_ref()) {
                return Err(fail(INVALID_PARAMS, &text));
            }
            if id.is_some() {
                MessageKind::Request { method, params }
            } else {
                MessageKind::Notification { method, params }
            }
        }
        Some(_) => return Err(fail(INVALID_REQUEST, "\"method\" must be a string")),
        None => {
            if has_result && has_error {
                return Err(fail(
                    INVALID_REQUEST,
                    "a response cannot have both \"result\" and \"error\"",
                ));
            }
            if !has_result && !has_error {
                return Err(fail(INVALID_REQUEST, "missing \"method\""));
            }
            if id.is_none() {
                return Err(fail(INVALID_REQUEST, "a response must have an \"id\""));
            }
            if has_error && !matches!(object.get("error"), Some(Value::Object(_))) {
                return Err(fail(INVALID_REQUEST, "\"error\" must be an object"));
            }
            MessageKind::Response
        }
    };
    Ok(Message { id, kind })
}

/// Params of the methods whose target the policy reads.
fn check_params(method: &str, params: Option<&Value>) -> Result<(), String> {
    let (member, with_arguments) = match method {
        "tools/call" | "prompts/get" => ("name", true),
        "resources/read" => ("uri", false),
        _ => return Ok(()),
    };
    let Some(Value::Object(params)) = params else {
        return Err(format!(
            "{method} requires \"params\" to be an object with a string \"{member}\""
        ));
    };
    if !matches!(params.get(member), Some(Value::String(_))) {
        return Err(format!("{method} requires a string \"params.{member}\""));
    }
    if with_arguments && !matches!(params.get("arguments"), None | Some(Value::Object(_))) {
        return Err(format!("{method}: \"params.arguments\" must be an object"));
    }
    Ok(())
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "this number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
