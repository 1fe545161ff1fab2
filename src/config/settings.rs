//! Filter settings carried by the wrapper configuration.

/// Requests whose body is larger than this are refused with 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// jwt_authn's `payload_in_metadata` key that `claim:<name>` scopes read.
pub const DEFAULT_JWT_PAYLOAD_METADATA_KEY: &str = "jwt_payload";
/// JSON nesting deeper than this is refused.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;
/// Counter slots each grant may fill with counters whose scope value the
/// client chooses (`session`, `header:`, `claim:`).
pub const DEFAULT_COUNTER_SLOTS: u32 = 4096;

/// A limit on every request of a grant, refused ones included, checked
/// before the body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimit {
    pub window: crate::counter::Window,
    pub max: u64,
}

/// The filter-state fields a decision can publish: in the `wasm.mcp_policy`
/// object, and as their own keys `wasm.mcp_policy_<field>`.
pub const FILTER_STATE_FIELDS: [&str; 12] = [
    "decision",
    "rule",
    "grant",
    "identity",
    "session",
    "protocol",
    "method",
    "tool",
    "limit",
    "arg_keys",
    "decide_us",
    "approver",
];

/// Which of [`FILTER_STATE_FIELDS`] are published. The object costs one host
/// call per request whatever it holds; each key costs one more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterStateFields(u16);

impl FilterStateFields {
    pub const ALL: FilterStateFields = FilterStateFields((1 << FILTER_STATE_FIELDS.len()) - 1);
    pub const NONE: FilterStateFields = FilterStateFields(0);

    /// `None` for a name that is not one of [`FILTER_STATE_FIELDS`].
    pub fn with(self, field: &str) -> Option<FilterStateFields> {
        Some(FilterStateFields(self.0 | 1 << index_of(field)?))
    }

    pub fn includes(self, field: &str) -> bool {
        index_of(field).is_some_and(|index| self.includes_index(index))
    }

    /// Whether `FILTER_STATE_FIELDS[index]` is published.
    pub fn includes_index(self, index: usize) -> bool {
        index < FILTER_STATE_FIELDS.len() && self.0 & 1 << index != 0
    }
}

fn index_of(field: &str) -> Option<usize> {
    FILTER_STATE_FIELDS.iter().position(|known| *known == field)
}

/// How approvals are given and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approvals {
    /// Seals the approval state a client carries (the session keys).
    pub sealer: crate::seal::Sealer,
    /// Where the approval page and its API are served (never forwarded).
    pub path_prefix: String,
    /// The page's public base URL, for the links agents are given; without
    /// it, links are built from the request's scheme and authority.
    pub page_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Also remove from `tools/list` every tool the grant can never call.
    pub hide_denied_tools: bool,
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    /// Where `claim:<name>` scopes read claims: the `payload_in_metadata` key
    /// of Envoy's jwt_authn filter.
    pub jwt_payload_metadata_key: String,
    /// Counter slots per grant for client-chosen scope values (each of the
    /// enforced and dry-run regions).
    pub counter_slots: u32,
    /// Keys the hash that places client-chosen counters in their slots (the
    /// SHA-256 of the configured key).
    pub counter_key: Option<[u8; 32]>,
    /// Seals session ids; `None` when sessions are off.
    pub sealer: Option<crate::seal::Sealer>,
    /// `"sessions": "off"`: session ids pass unsealed and unchecked.
    pub sessions_off: bool,
    /// Approvals can be given (`"approvals": {"enabled": true}`): their
    /// request states are sealed with the session keys.
    pub approvals: Option<Approvals>,
    /// Longer strings are not matched against `regex` conditions.
    pub max_regex_subject_bytes: usize,
    /// Every grant's limit on all its requests, unless it has its own.
    pub request_limit: Option<RequestLimit>,
    /// Fields in the `wasm.mcp_policy` object.
    pub filter_state: FilterStateFields,
    /// Fields also published as their own string key `wasm.mcp_policy_<field>`.
    pub filter_state_keys: FilterStateFields,
    /// Where limits counted across replicas are counted.
    pub rate_limit_service: Option<Box<super::rate_limit_service::RateLimitService>>,
    /// The gateway as an OAuth protected resource (`oauth`).
    pub oauth: Option<Box<super::OAuth>>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            hide_denied_tools: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            jwt_payload_metadata_key: DEFAULT_JWT_PAYLOAD_METADATA_KEY.to_string(),
            counter_slots: DEFAULT_COUNTER_SLOTS,
            counter_key: None,
            sealer: None,
            sessions_off: false,
            approvals: None,
            max_regex_subject_bytes: crate::policy::DEFAULT_MAX_REGEX_SUBJECT_BYTES,
            request_limit: None,
            filter_state: FilterStateFields::ALL,
            filter_state_keys: FilterStateFields::NONE,
            rate_limit_service: None,
            oauth: None,
        }
    }
}
