//! The `oauth` setting: the gateway as the OAuth 2.1 protected resource of
//! MCP's authorization (RFC 9728 metadata, RFC 8707 audiences).
//!
//! ```json
//! "oauth": {
//!   "resource": "https://mcp.example.com/mcp",
//!   "metadata": "filter",
//!   "authorization_servers": ["https://as.example.com"],
//!   "scopes_supported": ["mcp:tools"],
//!   "resource_name": "Example MCP",
//!   "forward_token": false,
//!   "public_paths": ["/authorize", "/token", "/register"]
//! }
//! ```
//! `resource` is the gateway's public MCP URL. `metadata` says who answers
//! `/.well-known/oauth-protected-resource[<resource path>]`: the filter, from
//! `authorization_servers`, `scopes_supported` and `resource_name` (`filter`,
//! the default), or the upstream, uninspected (`upstream`). `public_paths`
//! pass uninspected and without a credential, matched exactly (the query
//! aside). Unknown fields are errors.

use serde_json::{Map, Value};

use crate::identity::matchers::{unknown_fields, Problems};

/// The well-known path of protected-resource metadata (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Public paths a configuration may list.
const MAX_PUBLIC_PATHS: usize = 32;
const MAX_PATH_BYTES: usize = 256;
const FIELDS: [&str; 7] = [
    "resource",
    "metadata",
    "authorization_servers",
    "scopes_supported",
    "resource_name",
    "forward_token",
    "public_paths",
];
/// The fields that describe metadata the filter serves.
const FILTER_METADATA_FIELDS: [&str; 3] =
    ["authorization_servers", "scopes_supported", "resource_name"];

/// Who answers the protected-resource metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metadata {
    /// The filter, with this JSON document.
    Filter(Vec<u8>),
    /// The upstream: the request passes uninspected.
    Upstream,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth {
    /// The gateway's public MCP URL: the audience every accepted JWT holds.
    pub resource: String,
    /// The metadata's URL, for `resource_metadata` in `WWW-Authenticate`.
    pub metadata_url: String,
    /// The paths the metadata answers at: with the resource's path, and bare.
    pub metadata_paths: Vec<String>,
    pub metadata: Metadata,
    /// A verified JWT that selected the grant goes upstream in `Authorization`.
    pub forward_token: bool,
    /// Paths that pass without a credential, uninspected.
    pub public_paths: Vec<String>,
}

/// An absolute URL, split where the filter needs it.
struct Url<'t> {
    /// `scheme://authority`.
    origin: &'t str,
    /// Empty, or starting with `/`.
    path: &'t str,
}

/// `text` as an absolute `https` URL (`http` for a loopback host), with no
/// query, fragment or credentials.
fn url(text: &str) -> Result<Url<'_>, String> {
    if text
        .bytes()
        .any(|byte| !(0x21..=0x7e).contains(&byte) || byte == b'"' || byte == b'\\')
    {
        return Err("must be printable ASCII, without spaces, quotes or backslashes".to_owned());
    }
    if text.contains(['?', '#']) {
        return Err("must have no query or fragment".to_owned());
    }
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| "must be an absolute https URL".to_owned())?;
    let (authority, path) = rest
        .split_at_checked(rest.find('/').unwrap_or(rest.len()))
        .unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host, and no credentials".to_owned());
    }
    let host_end = if authority.starts_with('[') {
        authority.find(']').map(|end| end + 1)
    } else {
        Some(authority.find(':').unwrap_or(authority.len()))
    };
    let Some((host, port)) = host_end.and_then(|end| authority.split_at_checked(end)) else {
        return Err(format!("the host of {authority} is not valid"));
    };
    let port_valid = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()),
    };
    if host.is_empty() || !port_valid {
        return Err(format!("the host and port of {authority} are not valid"));
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be an https URL (http only for a loopback host)".to_owned()),
    }
    Ok(Url {
        origin: text
            .get(..scheme.len() + 3 + authority.len())
            .unwrap_or(text),
        path,
    })
}

/// A path the configuration lists as public: exact, canonical, and nothing
/// a server could read as another path.
fn public_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "must start with / and be at most {MAX_PATH_BYTES} bytes"
        ));
    }
    if path
        .bytes()
        .any(|byte| !(0x21..=0x7e).contains(&byte) || b"?#%;\\\"".contains(&byte))
    {
        return Err("must be printable ASCII without ? # % ; \\ or quotes: the path is matched exactly, the query aside".to_owned());
    }
    if path.contains("//")
        || path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
    {
        return Err("must be a canonical path: no empty, . or .. segments".to_owned());
    }
    Ok(())
}

/// A string, with a pointer-relative problem when it is not one.
fn text<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    problems: &mut Problems,
) -> Option<&'v str> {
    match object.get(field)? {
        Value::String(text) if !text.is_empty() => Some(text),
        _ => {
            problems.push((format!("/{field}"), "must be a non-empty string".to_owned()));
            None
        }
    }
}

/// A list of distinct non-empty strings, each checked by `check`, with
/// their indexes in the list.
fn texts<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    check: impl Fn(&str) -> Result<(), String>,
    problems: &mut Problems,
) -> Vec<(usize, &'v str)> {
    let Some(value) = object.get(field) else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        problems.push((format!("/{field}"), "must be a list of strings".to_owned()));
        return Vec::new();
    };
    let mut found: Vec<(usize, &str)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let pointer = format!("/{field}/{index}");
        match item.as_str() {
            Some(text) if found.iter().any(|(_, seen)| *seen == text) => {
                problems.push((pointer, format!("\"{text}\" is listed twice")));
            }
            Some(text) => match check(text) {
                Ok(()) => found.push((index, text)),
                Err(message) => problems.push((pointer, message)),
            },
            None => problems.push((pointer, "must be a string".to_owned())),
        }
    }
    found
}

/// An OAuth scope token (RFC 6749 §3.3).
fn scope(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|byte| (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'\\');
    if valid {
        Ok(())
    } else {
        Err("a scope is printable ASCII without spaces, quotes or backslashes".to_owned())
    }
}

/// The `oauth` object; problems by JSON pointer relative to it.
pub fn parse(value: &Value) -> Result<OAuth, Problems> {
    let mut problems = Problems::new();
    let Some(object) = value.as_object() else {
        return Err(vec![(
            String::new(),
            "must be an object {resource, metadata?, authorization_servers?, scopes_supported?, resource_name?, forward_token?, public_paths?}".to_owned(),
        )]);
    };
    unknown_fields(object, &FIELDS, &mut problems);
    let resource = resource(object, &mut problems);
    let from_filter = from_filter(object, &mut problems);
    let forward_token = match object.get("forward_token") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            problems.push((
                "/forward_token".to_owned(),
                "must be true or false".to_owned(),
            ));
            false
        }
    };
    let metadata = if from_filter {
        Metadata::Filter(document(object, &mut problems))
    } else {
        Metadata::Upstream
    };
    let Some(resource) = resource else {
        return Err(problems);
    };
    let path = match resource.path {
        "/" => "",
        path => path,
    };
    let metadata_paths: Vec<String> = if path.is_empty() {
        vec![METADATA_PATH.to_owned()]
    } else {
        vec![format!("{METADATA_PATH}{path}"), METADATA_PATH.to_owned()]
    };
    let public_paths = public_paths(object, path, &metadata_paths, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(OAuth {
        resource: text_of(object, "resource").to_owned(),
        metadata_url: format!(
            "{}{}",
            resource.origin,
            metadata_paths.first().map_or(METADATA_PATH, String::as_str)
        ),
        metadata_paths,
        metadata,
        forward_token,
        public_paths,
    })
}

fn resource<'v>(object: &'v Map<String, Value>, problems: &mut Problems) -> Option<Url<'v>> {
    let Some(value) = object.get("resource") else {
        problems.push((
            String::new(),
            "missing \"resource\": the gateway's public MCP URL (e.g. https://mcp.example.com/mcp), which tokens must name as their audience".to_owned(),
        ));
        return None;
    };
    let found = value
        .as_str()
        .ok_or_else(|| "must be the gateway's public MCP URL, a string".to_owned())
        .and_then(|text| url(text).map_err(|message| format!("{value}: {message}")));
    found
        .map_err(|message| problems.push(("/resource".to_owned(), message)))
        .ok()
}

/// Whether the filter answers the metadata (`"metadata": "filter"`); when
/// the upstream does, the fields that describe the metadata are errors.
fn from_filter(object: &Map<String, Value>, problems: &mut Problems) -> bool {
    match object.get("metadata") {
        None => true,
        Some(Value::String(mode)) if mode == "filter" => true,
        Some(Value::String(mode)) if mode == "upstream" => {
            for field in FILTER_METADATA_FIELDS
                .iter()
                .filter(|field| object.contains_key(**field))
            {
                problems.push((
                    format!("/{field}"),
                    "only with \"metadata\": \"filter\": the upstream's own metadata says this"
                        .to_owned(),
                ));
            }
            false
        }
        Some(_) => {
            problems.push((
                "/metadata".to_owned(),
                "must be \"filter\" or \"upstream\"".to_owned(),
            ));
            true
        }
    }
}

/// The metadata document the filter answers with (RFC 9728 §2).
fn document(object: &Map<String, Value>, problems: &mut Problems) -> Vec<u8> {
    let servers = texts(
        object,
        "authorization_servers",
        |text| url(text).map(|_| ()),
        problems,
    );
    if servers.is_empty() && !object.contains_key("authorization_servers") {
        problems.push((
            String::new(),
            "missing \"authorization_servers\": the filter answers the metadata (\"metadata\": \"filter\"), which must name the authorization servers".to_owned(),
        ));
    } else if object
        .get("authorization_servers")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        problems.push((
            "/authorization_servers".to_owned(),
            "must name at least one authorization server".to_owned(),
        ));
    }
    let listed = |found: Vec<(usize, &str)>| -> Vec<String> {
        found.into_iter().map(|(_, text)| text.to_owned()).collect()
    };
    let mut document = Map::new();
    document.insert("resource".into(), Value::from(text_of(object, "resource")));
    document.insert("authorization_servers".into(), Value::from(listed(servers)));
    let scopes = texts(object, "scopes_supported", scope, problems);
    if !scopes.is_empty() {
        document.insert("scopes_supported".into(), Value::from(listed(scopes)));
    }
    if let Some(name) = text(object, "resource_name", problems) {
        document.insert("resource_name".into(), Value::from(name));
    }
    document.insert(
        "bearer_methods_supported".into(),
        Value::from(vec!["header"]),
    );
    Value::Object(document).to_string().into_bytes()
}

/// The listed public paths, none of them the MCP endpoint (`resource_path`)
/// or under it, nor a metadata path.
fn public_paths(
    object: &Map<String, Value>,
    resource_path: &str,
    metadata_paths: &[String],
    problems: &mut Problems,
) -> Vec<String> {
    let listed = texts(object, "public_paths", public_path, problems);
    if listed.len() > MAX_PUBLIC_PATHS {
        problems.push((
            "/public_paths".to_owned(),
            format!("at most {MAX_PUBLIC_PATHS} paths"),
        ));
    }
    let mut paths = Vec::new();
    for (index, path) in listed {
        let under_resource = !resource_path.is_empty()
            && path
                .strip_prefix(resource_path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if under_resource {
            problems.push((
                format!("/public_paths/{index}"),
                format!("{path} is the MCP endpoint {resource_path} or under it: it would pass JSON-RPC uninspected"),
            ));
        } else if metadata_paths.iter().any(|metadata| metadata == path) {
            problems.push((
                format!("/public_paths/{index}"),
                "the protected-resource metadata is governed by \"metadata\"".to_owned(),
            ));
        } else {
            paths.push(path.to_owned());
        }
    }
    paths
}

fn text_of<'v>(object: &'v Map<String, Value>, field: &str) -> &'v str {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}
