//! mcp-policy-rls against a real redis-server, both on free loopback ports.

mod failures;
mod harness;
mod limits;
mod operations;
