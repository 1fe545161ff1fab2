//! An order-preserving JSON tree, for the CLI: it re-prints documents
//! without reordering their keys (`serde_json::Value` sorts them). Files are
//! read into it by the JSON document reader (`json::document`), which also
//! gives where each value starts; trees are also built.

use crate::json::string::json_string;
use crate::json::tree::{Scalar, Tree};

/// Preferred width of printed lines.
pub const WIDTH: usize = 100;

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A string, number, `true`, `false` or `null`, exactly as written.
    Scalar(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    /// The key as written, with its quotes.
    pub raw_key: String,
    pub value: Node,
}

impl Member {
    fn new(key: &str, value: Node) -> Member {
        Member {
            key: key.to_owned(),
            raw_key: json_string(key),
            value,
        }
    }
}

impl Tree for Node {
    type Members = Vec<Member>;

    fn scalar(raw: &str, _scalar: Scalar<'_>) -> Node {
        Node::Scalar(raw.to_owned())
    }

    fn array(items: Vec<Node>) -> Node {
        Node::Array(items)
    }

    fn object(members: Vec<Member>) -> Node {
        Node::Object(members)
    }

    fn insert(members: &mut Vec<Member>, key: String, raw_key: &str, value: Node) {
        members.push(Member {
            key,
            raw_key: raw_key.to_owned(),
            value,
        });
    }
}

impl Node {
    /// A string scalar.
    pub fn string(text: &str) -> Node {
        Node::scalar(json_string(text))
    }

    /// A scalar written as `raw` (a number, `true`, `false` or `null`).
    pub fn scalar(raw: impl Into<String>) -> Node {
        Node::Scalar(raw.into())
    }

    pub fn array(items: Vec<Node>) -> Node {
        Node::Array(items)
    }

    /// An object from `(key, value)` pairs, in order.
    pub fn object(members: Vec<(&str, Node)>) -> Node {
        Node::Object(
            members
                .into_iter()
                .map(|(key, value)| Member::new(key, value))
                .collect(),
        )
    }

    /// The value of member `key` (the last one, as `serde_json` reads duplicates).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    /// Sets member `key`, replacing its value if present, appending otherwise.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Node::Object(members) = self {
            match members.iter_mut().rev().find(|m| m.key == key) {
                Some(member) => member.value = value,
                None => members.push(Member::new(key, value)),
            }
        }
    }

    /// Compact text: `{"a": 1, "b": [true, null]}`.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }

    fn write_compact(&self, out: &mut String) {
        match self {
            Node::Scalar(raw) => out.push_str(raw),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&member.raw_key);
                    out.push_str(": ");
                    member.value.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// Indented text (two spaces a level); containers that fit on one line
    /// stay on one line. Ends without a newline.
    pub fn pretty(&self) -> String {
        self.pretty_width(WIDTH)
    }

    /// As [`Node::pretty`], with lines up to `width` characters.
    pub fn pretty_width(&self, width: usize) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, width, 0, 0, true);
        out
    }

    /// `prefix` is the width already used on the current line (indent and key).
    fn write_pretty(
        &self,
        out: &mut String,
        width: usize,
        indent: usize,
        prefix: usize,
        top: bool,
    ) {
        let compact = self.compact();
        let fits = prefix + compact.chars().count() < width;
        let pad = |n: usize| " ".repeat(n);
        match self {
            Node::Scalar(_) => out.push_str(&compact),
            Node::Array(items) if items.is_empty() || (fits && !top) => out.push_str(&compact),
            Node::Object(members) if members.is_empty() || (fits && !top) => out.push_str(&compact),
            Node::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 2));
                    item.write_pretty(out, width, indent + 2, indent + 2, false);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Node::Object(members) => {
                out.push_str("{\n");
                for (i, member) in members.iter().enumerate() {
                    let line = format!("{}{}: ", pad(indent + 2), member.raw_key);
                    let used = line.chars().count();
                    out.push_str(&line);
                    member
                        .value
                        .write_pretty(out, width, indent + 2, used, false);
                    out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::document::{self, Document};

    fn read(text: &str) -> Document<'_, Node> {
        document::read::<Node>(text).unwrap()
    }

    #[test]
    fn keeps_order_and_positions() {
        let text = "{\n  \"b\": 1,\n  \"a\": [true, {\"x/y\": null}]\n}";
        let Document {
            value, positions, ..
        } = read(text);
        assert_eq!(
            value.compact(),
            "{\"b\": 1, \"a\": [true, {\"x/y\": null}]}"
        );
        let place = |pointer: &str| positions.line_col(positions.member(pointer).unwrap());
        assert_eq!(place("/a"), (3, 3));
        assert_eq!(place("/a/1/x~1y"), (3, 16));
        // Unresolved: nearest ancestor.
        assert_eq!(place("/a/1/missing"), (3, 15));
        assert_eq!(place(""), (1, 1));
    }

    #[test]
    fn pretty_inlines_small_containers() {
        let node = read(r#"{"version":"1","tools":{"a":{},"b":{"limits":[{"max":1}]}}}"#).value;
        assert_eq!(
            node.pretty(),
            "{\n  \"version\": \"1\",\n  \"tools\": {\"a\": {}, \"b\": {\"limits\": [{\"max\": 1}]}}\n}"
        );
        let reparsed: serde_json::Value = serde_json::from_str(&node.pretty()).unwrap();
        assert_eq!(reparsed["tools"]["b"]["limits"][0]["max"], 1);
    }

    #[test]
    fn keeps_repeated_keys_and_reads_the_last() {
        let text = r#"{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}"#;
        let Document {
            value, duplicates, ..
        } = read(text);
        let paths: Vec<String> = duplicates.into_iter().map(|d| d.pointer).collect();
        assert_eq!(paths, ["/b/c", "/a"]);
        assert_eq!(value.get("a"), Some(&Node::Scalar("3".into())));
        assert_eq!(
            value.compact(),
            r#"{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}"#
        );
    }

    #[test]
    fn built_trees_set_and_print() {
        let mut node = Node::object(vec![("a/b", Node::string("é")), ("n", Node::scalar("1"))]);
        node.set("n", Node::array(vec![Node::scalar("null")]));
        node.set("z", Node::object(Vec::new()));
        assert_eq!(node.compact(), r#"{"a/b": "é", "n": [null], "z": {}}"#);
    }
}
