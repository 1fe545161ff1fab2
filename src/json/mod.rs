//! The crate's one JSON layer, below `mcp`, `policy`, `config`, `identity`
//! and `cli`.
//! Pure Rust, no panics, no recursion on input.
//!
//! - [`lexer`]: the strict RFC 8259 tokenizer (tokens and their byte spans;
//!   skipping a value). [`expect`]: what the next token may be, for the
//!   readers built on it.
//! - [`string`], [`number`]: what a string or number token holds; writing a
//!   string literal.
//! - [`pointer`](mod@pointer): JSON pointer reference tokens, escaped and joined.
//! - [`document`]: reading a text people write into a [`tree`], with
//!   [`positions`] by pointer, repeated keys and placed syntax errors (policy
//!   texts and the CLI's files). The MCP strict reader is in `mcp`.

#[cfg(test)]
pub(crate) mod arbitrary;
pub(crate) mod document;
pub(crate) mod expect;
pub(crate) mod lexer;
pub(crate) mod number;
pub(crate) mod pointer;
pub(crate) mod positions;
pub(crate) mod string;
pub(crate) mod tree;

/// What a `serde_json` error says, without the ` at line L column C` it ends
/// with (the callers place their errors themselves).
pub(crate) fn serde_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(reason) => reason.to_owned(),
        None => message,
    }
}
