//! What the document reader builds: any tree that implements [`Tree`]. A
//! `serde_json::Value` is one (a repeated key keeps its last value, as
//! `serde_json` does); the CLI's order-preserving tree is another.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// A scalar as read: strings decoded, numbers as `serde_json` reads them.
pub(crate) enum Scalar<'t> {
    String(Cow<'t, str>),
    Number(Number),
    Bool(bool),
    Null,
}

pub(crate) trait Tree: Sized {
    /// An object's members while it is being read.
    type Members: Default;

    /// A scalar; `raw` is its text as written (a string with its quotes).
    fn scalar(raw: &str, scalar: Scalar<'_>) -> Self;

    fn array(items: Vec<Self>) -> Self;

    fn object(members: Self::Members) -> Self;

    /// Adds a member; `raw_key` is the key as written, with its quotes.
    fn insert(members: &mut Self::Members, key: String, raw_key: &str, value: Self);
}

impl Tree for Value {
    type Members = Map<String, Value>;

    fn scalar(_raw: &str, scalar: Scalar<'_>) -> Value {
        match scalar {
            Scalar::String(text) => Value::String(text.into_owned()),
            Scalar::Number(number) => Value::Number(number),
            Scalar::Bool(value) => Value::Bool(value),
            Scalar::Null => Value::Null,
        }
    }

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn object(members: Map<String, Value>) -> Value {
        Value::Object(members)
    }

    fn insert(members: &mut Map<String, Value>, key: String, _raw_key: &str, value: Value) {
        members.insert(key, value);
    }
}
