//! Protocol 2026-07-28's mirrored headers: checked against the body on every
//! request, and the tools' `Mcp-Param-*` maps learned from `tools/list`
//! results so that a missing parameter header can be flagged too.

use serde_json::{json, Value};

use super::bytes::contains_bytes;
use crate::mcp::{param_headers, ParamHeader};
use crate::store::BoundedMap;
use crate::store::{SharedStore, StoreError};

/// Learned maps, keyed by tool name; bounded like every client-fed table.
const PARAM_MAPS: BoundedMap = BoundedMap::new("mcp-policy/v1/toolhdr", 4096);
const PARAM_MAP_TTL_SECS: u64 = 86_400;

pub fn learned_params(
    store: &dyn SharedStore,
    tool: &str,
    now_secs: u64,
) -> Option<Vec<ParamHeader>> {
    let bytes = PARAM_MAPS.get(store, "", tool, now_secs).ok()??;
    let entries: Vec<Value> = serde_json::from_slice(&bytes).ok()?;
    entries
        .iter()
        .map(|entry| {
            Some(ParamHeader {
                path: entry
                    .get("path")?
                    .as_array()?
                    .iter()
                    .map(|segment| segment.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()?,
                token: entry.get("token")?.as_str()?.to_string(),
                integer: entry.get("integer")?.as_bool()?,
            })
        })
        .collect()
}

/// Records the `Mcp-Param-*` maps of the tools in a `tools/list` result (or
/// a batch of responses). Only tools that declare one are stored.
pub fn learn(store: &dyn SharedStore, body: &[u8], now_secs: u64) {
    if !contains_bytes(body, b"x-mcp-header") {
        return;
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let responses = match &parsed {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        single => vec![single],
    };
    for response in responses {
        let Some(tools) = response.pointer("/result/tools").and_then(Value::as_array) else {
            continue;
        };
        for tool in tools {
            let (Some(name), Some(schema)) = (
                tool.get("name").and_then(Value::as_str),
                tool.get("inputSchema"),
            ) else {
                continue;
            };
            let params = param_headers(schema);
            if params.is_empty() {
                continue;
            }
            let encoded: Vec<Value> = params
                .iter()
                .map(|param| json!({"path": param.path, "token": param.token, "integer": param.integer}))
                .collect();
            if let Err(error) = store_map(store, name, &Value::Array(encoded), now_secs) {
                log::warn!("cannot remember the Mcp-Param headers of tool {name}: {error}");
            }
        }
    }
}

fn store_map(
    store: &dyn SharedStore,
    tool: &str,
    map: &Value,
    now_secs: u64,
) -> Result<(), StoreError> {
    PARAM_MAPS.put(
        store,
        "",
        tool,
        map.to_string().as_bytes(),
        now_secs,
        PARAM_MAP_TTL_SECS,
    )?;
    Ok(())
}
