//! Step 1, the request headers: what they say (`head`), who is calling
//! (`identity`) and what they alone decide (`admission`).

pub mod admission;
pub mod head;
pub mod identity;

pub use head::{is_json_media_type, Bearer, RequestHead};
pub use identity::{identify, Identity};
