//! Step 1, the request headers: what they say (`head`), who is calling
//! (`identity`), the grant's limit on all its requests (`request_limit`), the
//! sealed session they present (`session`), what they alone decide
//! (`admission`), and MCP's OAuth: requests that need no credential, the
//! challenges, the token upstream (`oauth`).

pub mod admission;
pub mod head;
pub mod identity;
pub mod oauth;
pub mod request_limit;
pub mod session;

pub use head::{is_json_media_type, Bearer, RequestHead};
pub use identity::{identify, presented, Presented};
