//! The crate's one JSON layer, below `mcp`, `policy`, `config` and `cli`:
//! the strict RFC 8259 tokenizer, string and number decoding, and JSON
//! pointers. Pure Rust, no panics, no recursion on input.
//!
//! - [`lexer`]: tokens and their byte spans; skipping a value.
//! - [`string`], [`number`]: what a string or number token holds.
//! - [`pointer`]: escaping and joining JSON pointer reference tokens.

pub(crate) mod lexer;
pub(crate) mod number;
pub(crate) mod pointer;
pub(crate) mod string;
