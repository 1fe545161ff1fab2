//! Protocol 2026-07-28 mirrors parts of the body in headers so that gateways
//! can route without parsing: `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*`.
//! They are client input: this module only checks that they agree with the
//! body (a disagreement is HeaderMismatch, -32020); decisions are always
//! made on the body.

use base64::Engine;
use serde_json::Value;

use super::message::Message;
use crate::host::HeaderMap;

/// The first protocol version with mirrored headers.
pub const MIRRORING_VERSION: &str = "2026-07-28";
const VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const PARAM_PREFIX: &str = "mcp-param-";

/// A tool argument mirrored into `Mcp-Param-<token>`, learned from the tool's
/// input schema (`x-mcp-header` on a property reached through `properties`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamHeader {
    pub path: Vec<String>,
    /// Lowercased token.
    pub token: String,
    pub integer: bool,
}

/// The protocol version a request speaks, from its header or its `_meta`.
pub fn uses_mirrored_headers(header_version: Option<&str>, message: &Message) -> bool {
    let body_version = message
        .params()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get(VERSION_META_KEY))
        .and_then(Value::as_str);
    // Only versions the filter knows: an unknown one is refused, never
    // read as newer or older than another.
    [header_version, body_version]
        .into_iter()
        .flatten()
        .any(version_mirrors)
}

/// Whether `version` is a known one with mirrored headers.
pub fn version_mirrors(version: &str) -> bool {
    super::versions::is_known(version) && version >= MIRRORING_VERSION
}

/// `=?base64?…?=` values decoded (canonical base64 of UTF-8 only); other
/// values verbatim. `None` for a malformed sentinel, which matches nothing.
pub fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_string());
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(payload).ok()?;
    if engine.encode(&bytes) != payload {
        return None;
    }
    String::from_utf8(bytes).ok()
}

fn single<'h>(headers: &'h HeaderMap, name: &'h str) -> Result<Option<&'h str>, String> {
    let mut found = headers.get_all(name);
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("header {name} is sent more than once"));
    }
    Ok(first)
}

/// Checks the mirrored headers of a 2026-07-28 request against its body.
/// Header names are lowercase, as Envoy gives them. `params` is the tool's learned
/// `Mcp-Param-*` map when the filter has seen its schema.
pub fn check(
    headers: &HeaderMap,
    header_version: Option<&str>,
    message: &Message,
    params: Option<&[ParamHeader]>,
) -> Result<(), String> {
    let Some(method) = message.method() else {
        return Ok(());
    };
    let body_version = message
        .params()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get(VERSION_META_KEY))
        .and_then(Value::as_str);
    if let (Some(header), Some(body)) = (header_version, body_version) {
        if header != body {
            return Err(format!(
                "MCP-Protocol-Version {header} does not match the body's {body}"
            ));
        }
    }
    match single(headers, "mcp-method")? {
        None => return Err("Mcp-Method header is missing".into()),
        Some(value) if decode_header_value(value).as_deref() != Some(method) => {
            return Err(format!(
                "Mcp-Method header {value:?} does not match the body's method {method:?}"
            ))
        }
        Some(_) => {}
    }
    let name = single(headers, "mcp-name")?;
    match (message.target(), name) {
        (Some(target), None) => {
            return Err(format!(
                "Mcp-Name header is missing (the body names {target:?})"
            ))
        }
        (Some(target), Some(value)) if decode_header_value(value).as_deref() != Some(target) => {
            return Err(format!(
                "Mcp-Name header {value:?} does not match the body's {target:?}"
            ))
        }
        (None, Some(value)) => {
            return Err(format!(
                "Mcp-Name header {value:?} names nothing the body names"
            ))
        }
        _ => {}
    }
    if method == "tools/call" {
        if let Some(params) = params {
            check_params(headers, message.arguments(), params)?;
        }
    }
    Ok(())
}

fn check_params(
    headers: &HeaderMap,
    arguments: Option<&Value>,
    params: &[ParamHeader],
) -> Result<(), String> {
    for (name, _) in headers.iter() {
        if let Some(token) = name.strip_prefix(PARAM_PREFIX) {
            if !params.iter().any(|param| param.token == token) {
                return Err(format!("header {name} mirrors no argument of this tool"));
            }
        }
    }
    for param in params {
        let header_name = format!("{PARAM_PREFIX}{}", param.token);
        let header = single(headers, &header_name)?;
        let argument = arguments.and_then(|arguments| value_at(arguments, &param.path));
        let rendered = argument.and_then(render);
        match (rendered, header) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(format!(
                    "header {header_name} is missing for argument {}",
                    param.path.join(".")
                ))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "header {header_name} is present without argument {}",
                    param.path.join(".")
                ))
            }
            (Some(rendered), Some(value)) => {
                let decoded = decode_header_value(value);
                let agrees = match (decoded, argument) {
                    (Some(decoded), Some(argument)) if param.integer => {
                        integers_agree(&decoded, argument) || decoded == rendered
                    }
                    (Some(decoded), _) => decoded == rendered,
                    (None, _) => false,
                };
                if !agrees {
                    return Err(format!(
                        "header {header_name} does not match argument {}",
                        param.path.join(".")
                    ));
                }
            }
        }
    }
    Ok(())
}

fn value_at<'v>(arguments: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut node = arguments;
    for key in path {
        node = node.as_object()?.get(key)?;
    }
    (!node.is_null()).then_some(node)
}

fn render(value: &Value) -> Option<String> {
    match value {
        Value::Bool(flag) => Some(if *flag { "true" } else { "false" }.to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Integer arguments compare numerically with decimal header values
/// (`-?[0-9]+(\.0+)?`), exactly and without floats: `42` matches `42.0`.
fn integers_agree(header: &str, argument: &Value) -> bool {
    let (whole, fraction) = header.split_once('.').unwrap_or((header, ""));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return false;
    }
    let Ok(header_value) = whole.parse::<i128>() else {
        return false;
    };
    match argument {
        Value::Number(number) => {
            if let Some(value) = number.as_i64() {
                i128::from(value) == header_value
            } else if let Some(value) = number.as_u64() {
                i128::from(value) == header_value
            } else {
                number.as_f64().is_some_and(|value| {
                    value.fract() == 0.0 && value.abs() < 9.0e15 && value as i128 == header_value
                })
            }
        }
        _ => false,
    }
}

/// The `Mcp-Param-*` map of a tool's input schema: `x-mcp-header` on
/// properties reached from the root through `properties` only.
pub fn param_headers(input_schema: &Value) -> Vec<ParamHeader> {
    let mut found = Vec::new();
    let mut stack: Vec<(Vec<String>, &Value)> = vec![(Vec::new(), input_schema)];
    while let Some((path, schema)) = stack.pop() {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        if path.len() >= 16 {
            continue;
        }
        for (name, property) in properties {
            let mut child = path.clone();
            child.push(name.clone());
            if let Some(token) = property.get("x-mcp-header").and_then(Value::as_str) {
                found.push(ParamHeader {
                    path: child.clone(),
                    token: token.to_ascii_lowercase(),
                    integer: property.get("type").and_then(Value::as_str) == Some("integer"),
                });
            }
            stack.push((child, property));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::{read_payload, Payload, ReadLimits};
    use serde_json::json;

    fn message(body: Value) -> Message {
        match read_payload(body.to_string().as_bytes(), &ReadLimits::default()) {
            Ok(Payload::Single(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().copied().collect()
    }

    fn call(arguments: Value) -> Message {
        message(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
            "name":"send_text","arguments":arguments,
            "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}),
        )
    }

    const V: Option<&str> = Some("2026-07-28");

    #[test]
    fn detects_the_protocol_version() {
        let plain = message(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
        assert!(!uses_mirrored_headers(Some("2025-11-25"), &plain));
        assert!(uses_mirrored_headers(V, &plain));
        assert!(uses_mirrored_headers(None, &call(json!({}))));
    }

    #[test]
    fn method_and_name_must_agree() {
        let msg = call(json!({}));
        let good = headers(&[("mcp-method", "tools/call"), ("mcp-name", "send_text")]);
        assert_eq!(check(&good, V, &msg, None), Ok(()));
        for bad in [
            headers(&[("mcp-name", "send_text")]),
            headers(&[("mcp-method", "tools/list"), ("mcp-name", "send_text")]),
            headers(&[("mcp-method", "tools/call")]),
            headers(&[("mcp-method", "tools/call"), ("mcp-name", "get_invoice")]),
            headers(&[
                ("mcp-method", "tools/call"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "send_text"),
            ]),
        ] {
            assert!(check(&bad, V, &msg, None).is_err(), "{bad:?}");
        }
        assert!(
            check(&good, Some("2027-01-01"), &msg, None).is_err(),
            "version header disagrees with _meta"
        );
    }

    #[test]
    fn base64_values_are_decoded() {
        let msg = message(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"énvío"}}),
        );
        let encoded = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode("énvío")
        );
        let good = headers(&[("mcp-method", "tools/call"), ("mcp-name", &encoded)]);
        assert_eq!(check(&good, V, &msg, None), Ok(()));
        assert_eq!(decode_header_value("=?base64?!!?="), None);
        assert_eq!(
            decode_header_value("=?base64?YQ?="),
            None,
            "non-canonical padding"
        );
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
    }

    #[test]
    fn param_headers_follow_the_learned_schema() {
        let schema = json!({"type":"object","properties":{
            "number":{"type":"string","x-mcp-header":"Number"},
            "count":{"type":"integer","x-mcp-header":"Count"},
            "text":{"type":"string"}}});
        let params = param_headers(&schema);
        assert_eq!(params.len(), 2);
        let base = [("mcp-method", "tools/call"), ("mcp-name", "send_text")];
        let with = |extra: &[(&str, &str)]| {
            headers(&base)
                .iter()
                .chain(headers(extra).iter())
                .collect::<HeaderMap>()
        };
        let msg = call(json!({"number":"+54911","count":3,"text":"hi"}));
        assert_eq!(
            check(
                &with(&[("mcp-param-number", "+54911"), ("mcp-param-count", "3.0")]),
                V,
                &msg,
                Some(&params)
            ),
            Ok(())
        );
        assert!(
            check(
                &with(&[("mcp-param-number", "+54911")]),
                V,
                &msg,
                Some(&params)
            )
            .is_err(),
            "missing"
        );
        assert!(check(
            &with(&[("mcp-param-number", "+1"), ("mcp-param-count", "3")]),
            V,
            &msg,
            Some(&params)
        )
        .is_err());
        assert!(check(
            &with(&[
                ("mcp-param-number", "+54911"),
                ("mcp-param-count", "3"),
                ("mcp-param-other", "x")
            ]),
            V,
            &msg,
            Some(&params)
        )
        .is_err());
        let without_count = call(json!({"number":"+54911"}));
        assert!(check(
            &with(&[("mcp-param-number", "+54911"), ("mcp-param-count", "3")]),
            V,
            &without_count,
            Some(&params)
        )
        .is_err());
        // without a learned schema the parameter headers cannot be judged
        assert_eq!(check(&with(&[("mcp-param-x", "1")]), V, &msg, None), Ok(()));
    }
}
