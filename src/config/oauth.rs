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

/// Problems by JSON pointer, relative to the `oauth` object.
pub type Problems = Vec<(String, String)>;

/// An absolute URL, split where the filter needs it.
struct Url<'t> {
    /// `scheme://authority`.
    origin: &'t str,
    /// Empty, or starting with `/`.
    path: &'t str,
}

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

/// A list of distinct non-empty strings, each checked by `check`.
fn texts<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    check: impl Fn(&str) -> Result<(), String>,
    problems: &mut Problems,
) -> Vec<&'v str> {
    let Some(value) = object.get(field) else {
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        problems.push((format!("/{field}"), "must be a list of strings".to_owned()));
        return Vec::new();
    };
    let mut found: Vec<&str> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let pointer = format!("/{field}/{index}");
        match item.as_str() {
            Some(text) if found.contains(&text) => {
                problems.push((pointer, format!("\"{text}\" is listed twice")));
            }
            Some(text) => match check(text) {
                Ok(()) => found.push(text),
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

pub fn parse(value: &Value) -> Result<OAuth, Problems> {
    let mut problems = Problems::new();
    let Some(object) = value.as_object() else {
        return Err(vec![(
            String::new(),
            "must be an object {resource, metadata?, authorization_servers?, scopes_supported?, resource_name?, forward_token?, public_paths?}".to_owned(),
        )]);
    };
    crate::identity::matchers::unknown_fields(object, &FIELDS, &mut problems);
    let resource = match object
        .get("resource")
        .map(|value| (value, value.as_str().map(url)))
    {
        Some((_, Some(Ok(parsed)))) => Some(parsed),
        Some((value, Some(Err(message)))) => {
            problems.push(("/resource".to_owned(), format!("{value}: {message}")));
            None
        }
        Some((_, None)) => {
            problems.push((
                "/resource".to_owned(),
                "must be the gateway's public MCP URL, a string".to_owned(),
            ));
            None
        }
        None => {
            problems.push((
                String::new(),
                "missing \"resource\": the gateway's public MCP URL (e.g. https://mcp.example.com/mcp), which tokens must name as their audience".to_owned(),
            ));
            None
        }
    };
    let from_filter = match object.get("metadata") {
        None => true,
        Some(Value::String(mode)) if mode == "filter" => true,
        Some(Value::String(mode)) if mode == "upstream" => false,
        Some(_) => {
            problems.push((
                "/metadata".to_owned(),
                "must be \"filter\" or \"upstream\"".to_owned(),
            ));
            true
        }
    };
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
    let servers = texts(
        object,
        "authorization_servers",
        |text| url(text).map(|_| ()),
        &mut problems,
    );
    let scopes = texts(object, "scopes_supported", scope, &mut problems);
    let name = text(object, "resource_name", &mut problems);
    if from_filter && !object.contains_key("authorization_servers") {
        problems.push((
            String::new(),
            "missing \"authorization_servers\": the filter answers the metadata (\"metadata\": \"filter\"), which must name the authorization servers".to_owned(),
        ));
    } else if from_filter
        && object
            .get("authorization_servers")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        problems.push((
            "/authorization_servers".to_owned(),
            "must name at least one authorization server".to_owned(),
        ));
    }
    if !from_filter {
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
    }
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
    let public_paths = texts(object, "public_paths", public_path, &mut problems);
    if public_paths.len() > MAX_PUBLIC_PATHS {
        problems.push((
            "/public_paths".to_owned(),
            format!("at most {MAX_PUBLIC_PATHS} paths"),
        ));
    }
    for (index, listed) in public_paths.iter().enumerate() {
        let under_resource = !path.is_empty()
            && (*listed == path
                || listed
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('/')));
        if under_resource {
            problems.push((
                format!("/public_paths/{index}"),
                format!("{listed} is the MCP endpoint {path} or under it: it would pass JSON-RPC uninspected"),
            ));
        } else if metadata_paths.iter().any(|metadata| metadata == listed) {
            problems.push((
                format!("/public_paths/{index}"),
                "the protected-resource metadata is governed by \"metadata\"".to_owned(),
            ));
        }
    }
    let metadata = if from_filter {
        let mut document = Map::new();
        document.insert("resource".into(), Value::from(text_of(object, "resource")));
        document.insert("authorization_servers".into(), Value::from(servers.clone()));
        if !scopes.is_empty() {
            document.insert("scopes_supported".into(), Value::from(scopes.clone()));
        }
        if let Some(name) = name {
            document.insert("resource_name".into(), Value::from(name));
        }
        document.insert(
            "bearer_methods_supported".into(),
            Value::from(vec!["header"]),
        );
        Metadata::Filter(Value::Object(document).to_string().into_bytes())
    } else {
        Metadata::Upstream
    };
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
        public_paths: public_paths.into_iter().map(str::to_owned).collect(),
    })
}

fn text_of<'v>(object: &'v Map<String, Value>, field: &str) -> &'v str {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}
