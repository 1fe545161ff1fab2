//! The wrapper configuration:
//!
//! ```json
//! {
//!   "policy":   { PolicyLayer policy: the default for grants without their own },
//!   "policies": { "<name>": { PolicyLayer policy }, ... },
//!   "grants": [
//!     { "name": "alice", "token_sha256": ["<64 hex>", ...], "policy": "<name in policies>" }
//!   ],
//!   "hide_denied_tools": false,
//!   "max_body_bytes": 1048576,
//!   "max_json_depth": 64,
//!   "jwt_payload_metadata_key": "jwt_payload",
//!   "counter_slots": 4096,
//!   "filter_state": "all",
//!   "filter_state_keys": "none",
//!   "sessions": "sealed",
//!   "session_keys": ["<base64>", ...] | {"env": "VARIABLE"},
//!   "counter_key": "<base64>" | {"env": "VARIABLE"},
//!   "max_regex_subject_bytes": 4096,
//!   "request_limit": {"window": "minute", "max": 600},
//!   "approvals": {"enabled": true, "path_prefix": "/mcp-policy", "page_url": "https://..."},
//!   "rate_limit_service": {"cluster": "mcp_policy_rls", ...}  (see rate_limit_service.rs)
//!   "oauth": {"resource": "https://mcp.example.com/mcp", ...}  (see `oauth.rs`)
//! }
//! ```
//! Every field is optional, except the secrets where they are needed (see
//! `required_secrets`); unknown fields are errors.

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::grants::{parse_token_hash, Grant, GrantRule, GrantTable};
use super::secrets::{self, Environment};
use super::settings::{FilterStateFields, RequestLimit, Settings, FILTER_STATE_FIELDS};
use super::{Config, ConfigError, ConfigForm, Problem};
use crate::counter::Window;
use crate::identity::{JwtMatcher, MtlsMatcher};
use crate::json::pointer;
use crate::policy::{Policy, Scope};
use crate::seal::Sealer;

const FIELDS: [&str; 18] = [
    "rate_limit_service",
    "sessions",
    "approvals",
    "session_keys",
    "counter_key",
    "max_regex_subject_bytes",
    "request_limit",
    "policy",
    "policies",
    "grants",
    "hide_denied_tools",
    "filter_state",
    "filter_state_keys",
    "max_body_bytes",
    "max_json_depth",
    "jwt_payload_metadata_key",
    "counter_slots",
    "oauth",
];
/// The source of a grant's policy when the wrapper has none for it.
const NO_POLICY: &str = "(no policy)";
const GRANT_FIELDS: [&str; 6] = [
    "name",
    "token_sha256",
    "jwt",
    "mtls",
    "policy",
    "request_limit",
];

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        });
    }
}

pub(super) fn parse(value: &Value, env: Environment<'_>) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();
    let Some(object) = value.as_object() else {
        return Err(ConfigError::single(
            "",
            "configuration must be a JSON object: a PolicyLayer policy (with \"version\") or a wrapper with \"policy\" and \"grants\"",
        ));
    };
    for key in object.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.add(
                pointer::join("", key),
                format!(
                    "unknown field \"{key}\"; expected one of {}",
                    FIELDS.join(", ")
                ),
            );
        }
    }

    let mut settings = settings(object, env, &mut problems);
    let cap = settings.max_regex_subject_bytes;
    let default_policy = object
        .get("policy")
        .and_then(|value| compile(value, "/policy", cap, &mut problems))
        .unwrap_or_else(|| Rc::new(Policy::deny_all_no_policy()));
    let named = named_policies(object, cap, &mut problems);
    let grants = grants(object, &default_policy, &named, &mut problems);
    let mut found = Vec::new();
    super::approvals::check_approvers(object, &default_policy, &named, &grants, &mut found);
    for (path, message) in found {
        problems.add(path, message);
    }
    required_secrets(
        object,
        &mut settings,
        &grants,
        std::iter::once(&default_policy).chain(named.values()),
        &mut problems,
    );

    let default_source = if object.contains_key("policy") {
        "/policy"
    } else {
        NO_POLICY
    };
    if problems.0.is_empty() {
        Ok(Config {
            default_policy: Rc::clone(&default_policy),
            default_source: default_source.to_string(),
            metric_tools: super::named_tools(
                std::iter::once(default_policy.as_ref()).chain(named.values().map(Rc::as_ref)),
            ),
            claim_scopes: super::uses_claim_scopes(
                std::iter::once(default_policy.as_ref()).chain(named.values().map(Rc::as_ref)),
            ),
            grants,
            settings,
            form: ConfigForm::Wrapper,
        })
    } else {
        Err(ConfigError {
            problems: problems.0,
        })
    }
}

fn compile(
    value: &Value,
    pointer: &str,
    cap: usize,
    problems: &mut Problems,
) -> Option<Rc<Policy>> {
    match Policy::from_value(value, pointer) {
        Ok(policy) => Some(Rc::new(policy.with_max_regex_subject_bytes(cap))),
        Err(errors) => {
            for error in errors.0 {
                problems.add(error.path, error.message);
            }
            None
        }
    }
}

fn named_policies(
    object: &Map<String, Value>,
    cap: usize,
    problems: &mut Problems,
) -> HashMap<String, Rc<Policy>> {
    let mut named = HashMap::new();
    match object.get("policies") {
        None => {}
        Some(Value::Object(policies)) => {
            for (name, value) in policies {
                let pointer = pointer::join("/policies", name);
                if name.is_empty() {
                    problems.add(pointer.clone(), "a policy name must not be empty");
                }
                if let Some(policy) = compile(value, &pointer, cap, problems) {
                    named.insert(name.clone(), policy);
                }
            }
        }
        Some(_) => problems.add(
            "/policies",
            "\"policies\" must be an object of name: policy",
        ),
    }
    named
}

fn settings(
    object: &Map<String, Value>,
    env: Environment<'_>,
    problems: &mut Problems,
) -> Settings {
    let mut settings = Settings::default();
    if let Some(value) = object.get("rate_limit_service") {
        match super::rate_limit_service::parse(value) {
            Ok(service) => settings.rate_limit_service = Some(Box::new(service)),
            Err(found) => {
                for (path, message) in found {
                    problems.add(path, message);
                }
            }
        }
    }
    if let Some(bytes) = positive_integer(object, "max_regex_subject_bytes", 1 << 24, problems) {
        settings.max_regex_subject_bytes = bytes;
    }
    if let Some(value) = object.get("request_limit") {
        settings.request_limit = request_limit(value, "/request_limit", problems);
    }
    if let Some(value) = object.get("oauth") {
        match super::oauth::parse(value) {
            Ok(oauth) => settings.oauth = Some(Box::new(oauth)),
            Err(found) => {
                for (path, message) in found {
                    problems.add(format!("/oauth{path}"), message);
                }
            }
        }
    }
    match object.get("sessions") {
        None => {}
        Some(Value::String(mode)) if mode == "sealed" => {}
        Some(Value::String(mode)) if mode == "off" => settings.sessions_off = true,
        Some(_) => problems.add("/sessions", "must be \"sealed\" or \"off\""),
    }
    if let Some(value) = object.get("session_keys") {
        match secrets::keys(value, env) {
            Ok(keys) => settings.sealer = Sealer::new(keys),
            Err(message) => problems.add("/session_keys", message),
        }
    }
    if let Some(value) = object.get("counter_key") {
        match secrets::keys(value, env) {
            Ok(keys) if keys.len() == 1 => {
                settings.counter_key = keys.first().map(|key| {
                    use sha2::{Digest, Sha256};
                    Sha256::digest(key).into()
                })
            }
            Ok(_) => problems.add(
                "/counter_key",
                "one key: it keys the counters' hash, and a second one would re-map every counter",
            ),
            Err(message) => problems.add("/counter_key", message),
        }
    }
    match object.get("hide_denied_tools") {
        None => {}
        Some(Value::Bool(flag)) => settings.hide_denied_tools = *flag,
        Some(_) => problems.add("/hide_denied_tools", "must be true or false"),
    }
    if let Some(bytes) = positive_integer(object, "max_body_bytes", 1 << 30, problems) {
        settings.max_body_bytes = bytes;
    }
    if let Some(depth) = positive_integer(object, "max_json_depth", 1024, problems) {
        settings.max_json_depth = depth;
    }
    if let Some(slots) = positive_integer(
        object,
        "counter_slots",
        u64::from(crate::counter::MAX_SLOTS),
        problems,
    ) {
        settings.counter_slots = u32::try_from(slots).unwrap_or(crate::counter::DEFAULT_SLOTS);
    }
    if let Some(value) = object.get("filter_state") {
        if let Some(fields) = filter_state("filter_state", value, problems) {
            settings.filter_state = fields;
        }
    }
    if let Some(value) = object.get("filter_state_keys") {
        if let Some(fields) = filter_state("filter_state_keys", value, problems) {
            settings.filter_state_keys = fields;
        }
    }
    match object.get("jwt_payload_metadata_key") {
        None => {}
        Some(Value::String(key)) if !key.is_empty() => {
            settings.jwt_payload_metadata_key = key.clone()
        }
        Some(_) => problems.add(
            "/jwt_payload_metadata_key",
            "must be a non-empty string: jwt_authn's payload_in_metadata",
        ),
    }
    settings
}

/// `"all"`, `"none"`, or a list of field names.
fn filter_state(
    setting: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<FilterStateFields> {
    let expected = || {
        format!(
            "must be \"all\", \"none\" or a list of fields from {}",
            FILTER_STATE_FIELDS.join(", ")
        )
    };
    match value {
        Value::String(word) if word == "all" => Some(FilterStateFields::ALL),
        Value::String(word) if word == "none" => Some(FilterStateFields::NONE),
        Value::Array(names) => {
            let mut fields = FilterStateFields::NONE;
            let mut valid = true;
            for (index, name) in names.iter().enumerate() {
                match name.as_str().and_then(|name| fields.with(name)) {
                    Some(more) => fields = more,
                    None => {
                        problems.add(format!("/{setting}/{index}"), expected());
                        valid = false;
                    }
                }
            }
            valid.then_some(fields)
        }
        _ => {
            problems.add(format!("/{setting}"), expected());
            None
        }
    }
}

/// `{"window": ..., "max": N}`.
fn request_limit(value: &Value, pointer: &str, problems: &mut Problems) -> Option<RequestLimit> {
    let Some(object) = value.as_object() else {
        problems.add(
            pointer,
            "must be {\"window\": \"minute\"|\"hour\"|\"day\"|<seconds>, \"max\": <whole number>}",
        );
        return None;
    };
    for key in object.keys() {
        if key != "window" && key != "max" {
            problems.add(
                pointer::join(pointer, key),
                format!("unknown field \"{key}\"; expected one of window, max"),
            );
        }
    }
    let window = match object.get("window").map(Window::from_json) {
        Some(Ok(window)) => Some(window),
        Some(Err(error)) => {
            problems.add(format!("{pointer}/window"), error.to_string());
            None
        }
        None => {
            problems.add(pointer, "missing \"window\"");
            None
        }
    };
    let max = match object.get("max").map(Value::as_u64) {
        Some(Some(max)) => Some(max),
        _ => {
            problems.add(format!("{pointer}/max"), "must be a whole number");
            None
        }
    };
    Some(RequestLimit {
        window: window?,
        max: max?,
    })
}

/// Secrets a configuration cannot work without: sealing keys where grants
/// can open sessions (unless sessions are off), and the counter key where a
/// limit counts per a value the client chooses.
fn required_secrets<'p>(
    object: &Map<String, Value>,
    settings: &mut Settings,
    grants: &GrantTable,
    policies: impl Iterator<Item = &'p Rc<Policy>>,
    problems: &mut Problems,
) {
    let mut found = Vec::new();
    settings.approvals = super::approvals::parse(object, settings.sealer.as_ref(), &mut found);
    for (path, message) in found {
        problems.add(path, message);
    }
    if settings.sessions_off {
        settings.sealer = None;
    } else if settings.sealer.is_none()
        && !grants.is_empty()
        && !object.contains_key("session_keys")
    {
        problems.add(
            "/session_keys",
            "session sealing keys are required: give \"session_keys\" (base64, at least 32 bytes each, e.g. `openssl rand -base64 32`), or {\"env\": \"VARIABLE\"}, or set \"sessions\": \"off\" for a stateless upstream",
        );
    }
    let limits: Vec<&crate::policy::Limit> = policies.flat_map(|policy| policy.limits()).collect();
    let by_service = limits.iter().find(|limit| limit.counted_by_service());
    if let Some(limit) = by_service.filter(|_| !object.contains_key("rate_limit_service")) {
        problems.add(
            "/rate_limit_service",
            format!(
                "a rate-limit service is required: limit {} is counted by it (\"counted_by\": \"rate_limit_service\"); give {{\"cluster\": \"<the Envoy cluster that reaches it>\"}}",
                limit.rule
            ),
        );
    }
    if settings.counter_key.is_some() || object.contains_key("counter_key") {
        return;
    }
    if let Some(limit) = by_service {
        problems.add(
            "/counter_key",
            format!(
                "a counter key is required: limit {} is counted by the rate-limit service, which receives whose budget it is only as a hash keyed with this secret (base64, at least 32 bytes, or {{\"env\": \"VARIABLE\"}}); every replica needs the same key",
                limit.rule
            ),
        );
        return;
    }
    let client_chosen = limits.into_iter().find(|limit| {
        matches!(
            limit.scope,
            Scope::Session | Scope::Header(_) | Scope::Claim(_)
        )
    });
    if let Some(limit) = client_chosen {
        problems.add(
            "/counter_key",
            format!(
                "a counter key is required: limit {} counts per a value the client chooses, and its slots are found by a hash keyed with this secret (base64, at least 32 bytes, or {{\"env\": \"VARIABLE\"}}); keep it stable, since a new key re-maps every counter",
                limit.rule
            ),
        );
    }
}

fn positive_integer(
    object: &Map<String, Value>,
    field: &str,
    most: u64,
    problems: &mut Problems,
) -> Option<usize> {
    let value = object.get(field)?;
    match value.as_u64() {
        Some(n) if (1..=most).contains(&n) => usize::try_from(n).ok(),
        _ => {
            problems.add(
                format!("/{field}"),
                format!("must be a whole number from 1 to {most}"),
            );
            None
        }
    }
}

fn grants(
    object: &Map<String, Value>,
    default_policy: &Rc<Policy>,
    named: &HashMap<String, Rc<Policy>>,
    problems: &mut Problems,
) -> GrantTable {
    let mut table = GrantTable::default();
    let entries = match object.get("grants") {
        None => return table,
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            problems.add(
                "/grants",
                "\"grants\" must be an array of {name, token_sha256?, jwt?, mtls?, policy?}",
            );
            return table;
        }
    };
    let mut seen_names: Vec<&str> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let pointer = format!("/grants/{index}");
        let Some(grant) = entry.as_object() else {
            problems.add(
                pointer,
                "a grant must be an object {name, token_sha256?, jwt?, mtls?, policy?}",
            );
            continue;
        };
        for key in grant.keys() {
            if !GRANT_FIELDS.contains(&key.as_str()) {
                problems.add(
                    pointer::join(&pointer, key),
                    format!(
                        "unknown field \"{key}\"; expected one of {}",
                        GRANT_FIELDS.join(", ")
                    ),
                );
            }
        }
        let name = match grant.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name,
            _ => {
                problems.add(
                    format!("{pointer}/name"),
                    "a grant needs a non-empty string \"name\"",
                );
                continue;
            }
        };
        if seen_names.contains(&name) {
            problems.add(
                format!("{pointer}/name"),
                format!("grant \"{name}\" is defined twice"),
            );
            continue;
        }
        seen_names.push(name);
        let policy = match grant.get("policy") {
            None => Rc::clone(default_policy),
            Some(Value::String(reference)) => match named.get(reference) {
                Some(policy) => Rc::clone(policy),
                None => {
                    problems.add(
                        format!("{pointer}/policy"),
                        format!("grant \"{name}\" names policy \"{reference}\", which is not under \"policies\""),
                    );
                    continue;
                }
            },
            Some(_) => {
                problems.add(
                    format!("{pointer}/policy"),
                    "\"policy\" is the name of an entry under \"policies\"",
                );
                continue;
            }
        };
        let mut hashes = Vec::new();
        match grant.get("token_sha256") {
            None => {}
            Some(Value::Array(listed)) if !listed.is_empty() => {
                for (hash_index, hash) in listed.iter().enumerate() {
                    match hash
                        .as_str()
                        .ok_or_else(|| "a token hash must be a string".to_string())
                        .and_then(parse_token_hash)
                    {
                        Ok(hash) => hashes.push(hash),
                        Err(message) => problems.add(format!("{pointer}/token_sha256/{hash_index}"), message),
                    }
                }
            }
            Some(_) => problems.add(
                format!("{pointer}/token_sha256"),
                "\"token_sha256\" is a non-empty array of SHA-256 hex digests of the grant's bearer tokens",
            ),
        }
        let mut matcher_problems = |field: &str, found: Vec<(String, String)>| {
            for (path, message) in found {
                problems.add(format!("{pointer}/{field}{path}"), message);
            }
        };
        let jwt = match grant.get("jwt").map(JwtMatcher::parse) {
            None => None,
            Some(Ok(matcher)) => Some(matcher),
            Some(Err(found)) => {
                matcher_problems("jwt", found);
                continue;
            }
        };
        let mtls = match grant.get("mtls").map(MtlsMatcher::parse) {
            None => None,
            Some(Ok(matcher)) => Some(matcher),
            Some(Err(found)) => {
                matcher_problems("mtls", found);
                continue;
            }
        };
        if hashes.is_empty() && jwt.is_none() && mtls.is_none() {
            if !grant.contains_key("token_sha256") {
                problems.add(
                    pointer.clone(),
                    "a grant needs at least one of \"token_sha256\" (bearer token hashes), \"jwt\" (a verified JWT) and \"mtls\" (a verified peer certificate)",
                );
            }
            continue;
        }
        let source = match grant.get("policy").and_then(Value::as_str) {
            Some(reference) => pointer::join("/policies", reference),
            None if object.contains_key("policy") => "/policy".to_string(),
            None => NO_POLICY.to_string(),
        };
        let request_limit = grant
            .get("request_limit")
            .and_then(|value| request_limit(value, &format!("{pointer}/request_limit"), problems));
        let rule = GrantRule {
            grant: Rc::new(Grant {
                request_limit,
                ..Grant::listed(name, policy, source)
            }),
            tokens: 0,
            jwt,
            mtls,
        };
        if let Err(message) = table.push(rule, &hashes) {
            problems.add(format!("{pointer}/token_sha256"), message);
        }
    }
    table
}
