//! Secrets in the configuration: the session sealing keys and the counter
//! hashing key. Each is given inline (base64) or as the name of an
//! environment variable (`{"env": "NAME"}`) that Envoy passes to the VM
//! through `vm_config.environment_variables`, so that a Kubernetes Secret can
//! hold it and it stays out of `config_dump`.

use base64::Engine as _;
use serde_json::Value;

use crate::seal::MIN_KEY_BYTES;

/// Reads an environment variable of the VM.
pub type Environment<'e> = &'e dyn Fn(&str) -> Option<String>;

/// One or more keys: a base64 string, a list of them, or `{"env": "NAME"}`
/// whose value holds keys separated by commas or white space.
pub fn keys(value: &Value, env: Environment<'_>) -> Result<Vec<Vec<u8>>, String> {
    let texts: Vec<String> = match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "each key must be a base64 string".to_owned())
            })
            .collect::<Result<_, _>>()?,
        Value::Object(object) => {
            let name = match (object.get("env"), object.len()) {
                (Some(Value::String(name)), 1) if !name.is_empty() => name,
                _ => return Err(expected()),
            };
            let text = env(name).ok_or_else(|| {
                format!("environment variable {name} is not set (list it in the Wasm vm_config.environment_variables)")
            })?;
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        }
        _ => return Err(expected()),
    };
    if texts.is_empty() {
        return Err("at least one key is needed".to_owned());
    }
    texts.iter().map(|text| decode_key(text)).collect()
}

fn expected() -> String {
    "expected a base64 key, a list of them, or {\"env\": \"VARIABLE\"}".to_owned()
}

fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| "a key must be base64 (for example `openssl rand -base64 32`)".to_owned())?;
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "a key must hold at least {MIN_KEY_BYTES} bytes of randomness, this one holds {}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn keys_come_inline_or_from_the_environment() {
        assert_eq!(keys(&json!(KEY), &no_env).map(|k| k.len()), Ok(1));
        assert_eq!(keys(&json!([KEY, KEY]), &no_env).map(|k| k.len()), Ok(2));
        let env = |name: &str| (name == "KEYS").then(|| format!("{KEY}, {KEY}"));
        assert_eq!(keys(&json!({"env": "KEYS"}), &env).map(|k| k.len()), Ok(2));
        assert!(keys(&json!({"env": "MISSING"}), &env)
            .unwrap_err()
            .contains("MISSING is not set"));
    }

    #[test]
    fn short_or_malformed_keys_are_refused() {
        assert!(keys(&json!("c2hvcnQ="), &no_env)
            .unwrap_err()
            .contains("at least 32"));
        assert!(keys(&json!("not base64!"), &no_env).is_err());
        assert!(keys(&json!([]), &no_env).is_err());
        assert!(keys(&json!(3), &no_env).is_err());
        assert!(keys(&json!({"env": "A", "x": 1}), &no_env).is_err());
    }
}
