//! What the next token of a JSON text may be: the state of the token-driven
//! readers (the document reader, and the MCP strict parse and scan).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Value,
    FirstElementOrEnd,
    FirstKeyOrEnd,
    Key,
    CommaOrEnd,
}
