//! The wrapper's `approvals` object, and the check that every approver a
//! policy names is a grant of the configuration.
//!
//! ```json
//! "approvals": {"enabled": true, "path_prefix": "/mcp-policy", "page_url": "https://gw.example.com/mcp-policy"}
//! ```

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::grants::GrantTable;
use super::settings::Approvals;
use crate::json::pointer;
use crate::policy::{ApprovedBy, Policy};
use crate::seal::Sealer;

const FIELDS: [&str; 3] = ["enabled", "path_prefix", "page_url"];
/// Where the approval page and API are served unless configured.
pub const DEFAULT_PATH_PREFIX: &str = "/mcp-policy";

/// A problem at a JSON pointer.
pub type Problem = (String, String);

/// The approvals settings, when enabled; `sealer` is the session keys'.
pub fn parse(
    object: &Map<String, Value>,
    sealer: Option<&Sealer>,
    problems: &mut Vec<Problem>,
) -> Option<Approvals> {
    let value = object.get("approvals")?;
    let Some(members) = value.as_object() else {
        problems.push((
            "/approvals".into(),
            "must be an object: {\"enabled\": true}".into(),
        ));
        return None;
    };
    for key in members.keys().filter(|key| !FIELDS.contains(&key.as_str())) {
        problems.push((
            pointer::join("/approvals", key),
            format!(
                "unknown field \"{key}\"; expected one of {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let enabled = match members.get("enabled") {
        Some(Value::Bool(enabled)) => *enabled,
        None => {
            problems.push((
                "/approvals/enabled".into(),
                "required: true or false".into(),
            ));
            false
        }
        Some(_) => {
            problems.push(("/approvals/enabled".into(), "must be true or false".into()));
            false
        }
    };
    let path_prefix = match members.get("path_prefix") {
        None => DEFAULT_PATH_PREFIX.to_owned(),
        Some(Value::String(prefix)) if valid_prefix(prefix) => prefix.clone(),
        Some(_) => {
            problems.push((
                "/approvals/path_prefix".into(),
                "must be a path such as \"/mcp-policy\": starting with /, not ending with /, without ? or #".into(),
            ));
            DEFAULT_PATH_PREFIX.to_owned()
        }
    };
    let page_url = match members.get("page_url") {
        None => None,
        Some(Value::String(url)) if valid_url(url) => Some(url.trim_end_matches('/').to_owned()),
        Some(_) => {
            problems.push((
                "/approvals/page_url".into(),
                "must be an absolute http(s) URL, the approval pages' public base (e.g. \"https://gw.example.com/mcp-policy\")".into(),
            ));
            None
        }
    };
    if !enabled {
        return None;
    }
    match sealer {
        Some(sealer) => Some(Approvals {
            sealer: sealer.clone(),
            path_prefix,
            page_url,
        }),
        None => {
            if !object.contains_key("session_keys") {
                problems.push((
                    "/session_keys".into(),
                    "approvals are enabled: their request states are sealed with the session keys, so give \"session_keys\" (base64, at least 32 bytes each) or {\"env\": \"VARIABLE\"}".into(),
                ));
            }
            None
        }
    }
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.starts_with('/')
        && prefix.len() > 1
        && !prefix.ends_with('/')
        && !prefix.contains(['?', '#', ' '])
}

fn valid_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['?', '#', ' ', '"', '<', '>'])
}

/// Every `approvers` name must be a grant of the configuration (a grant
/// that names its members from a claim counts as its one name).
pub fn check_approvers(
    object: &Map<String, Value>,
    default_policy: &Rc<Policy>,
    named: &HashMap<String, Rc<Policy>>,
    grants: &GrantTable,
    problems: &mut Vec<Problem>,
) {
    let mut policies: Vec<(String, &Rc<Policy>)> = Vec::new();
    if object.contains_key("policy") {
        policies.push(("/policy".to_owned(), default_policy));
    }
    for (name, policy) in named {
        policies.push((pointer::join("/policies", name), policy));
    }
    for (base, policy) in policies {
        for (rule, approval) in policy.approval_rules() {
            let ApprovedBy::Approver(names) = &approval.by else {
                continue;
            };
            for (index, name) in names.iter().enumerate() {
                if !grants.names().iter().any(|grant| grant == name) {
                    problems.push((
                        format!("{base}{rule}/approval/approvers/{index}"),
                        format!(
                            "no grant is named \"{name}\": approvers are grants of this configuration ({})",
                            grants.names().join(", ")
                        ),
                    ));
                }
            }
        }
    }
}
