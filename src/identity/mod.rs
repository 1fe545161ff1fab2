//! Who is calling: the credentials a request presents (a static bearer
//! token, a JWT that Envoy's `jwt_authn` verified, a verified mTLS peer),
//! what a grant matches on (`matchers`), how Envoy hands over a JWT's claims
//! (`claims`), and which grant a request gets (`select`). Pure: the filter
//! and `mcp-policy explain` read the credentials their own way and pick the
//! grant with the same code.

pub mod claims;
pub mod matchers;
pub mod select;

pub use claims::Claims;
pub use matchers::{JwtMatcher, MtlsMatcher, SanPattern};
pub use select::{select, Credentials, MatchKind, Selection};
