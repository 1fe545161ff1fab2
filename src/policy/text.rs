//! Policy text, read by the JSON document reader: it remembers where every
//! value and member key starts (for errors with line and column) and
//! reports duplicate keys, which `serde_json` would silently resolve to the
//! last one.

use serde_json::Value;

use super::error::{At, Issue, PolicyError};
use crate::json::document::{self, Document};
use crate::json::positions::Positions;

/// A parsed policy text.
pub(crate) struct Parsed<'t> {
    pub value: Value,
    pub positions: Positions<'t>,
    /// One issue per repeated key (at the repetition).
    pub duplicates: Vec<Issue>,
}

/// Parses `text`, or returns the syntax error (with its position).
pub(crate) fn parse(text: &str) -> Result<Parsed<'_>, PolicyError> {
    let Document {
        value,
        positions,
        duplicates,
    } = document::read::<Value>(text).map_err(|error| PolicyError {
        path: error.pointer,
        line: Some(error.line),
        column: Some(error.column),
        message: error.message,
    })?;
    let mut issues = Vec::with_capacity(duplicates.len());
    for duplicate in duplicates {
        let (line, column) = positions.line_col(duplicate.previous);
        issues.push(Issue {
            path: duplicate.pointer,
            at: At::Offset(duplicate.offset),
            message: format!(
                "duplicate key {:?} (first at line {line}, column {column}); a key may appear only once",
                duplicate.key
            ),
        });
    }
    Ok(Parsed {
        value,
        positions,
        duplicates: issues,
    })
}

/// Where an issue is: its own value or key, else its nearest ancestor.
pub(crate) fn locate(positions: &Positions<'_>, path: &str, at: At) -> Option<(usize, usize)> {
    let offset = match at {
        At::Offset(offset) => Some(offset),
        At::Key => positions.key(path).or_else(|| positions.value(path)),
        At::Value => positions.value(path),
    };
    offset.map(|offset| positions.line_col(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_are_placed_at_their_value_or_key() {
        let text = "{\n  \"tools\": {\n    \"x\": {\"limits\": [ 5 ]}\n  }\n}";
        let parsed = parse(text).ok();
        let place =
            |path: &str, at: At| parsed.as_ref().and_then(|p| locate(&p.positions, path, at));
        assert_eq!(place("/tools/x", At::Key), Some((3, 5)));
        assert_eq!(place("/tools/x", At::Value), Some((3, 10)));
        assert_eq!(place("/tools/x/limits/0/counter", At::Value), Some((3, 23)));
        assert_eq!(place("/tools/x/nope", At::Key), Some((3, 10)));
        assert_eq!(place("", At::Offset(8)), Some((2, 7)));
    }

    #[test]
    fn reports_duplicate_keys_at_the_repetition() {
        let text = "{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2},\n \"a\": 3}";
        let parsed = parse(text).ok();
        let dups: Vec<(String, Option<(usize, usize)>)> = parsed
            .as_ref()
            .map(|p| {
                p.duplicates
                    .iter()
                    .map(|d| (d.path.clone(), locate(&p.positions, &d.path, d.at)))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            dups,
            vec![
                ("/b/c".to_owned(), Some((2, 16))),
                ("/a".to_owned(), Some((3, 2)))
            ]
        );
        assert!(parsed.as_ref().is_some_and(|p| p.duplicates[1]
            .message
            .contains("first at line 1, column 2")));
    }

    #[test]
    fn syntax_errors_name_their_pointer_and_position() {
        let error = parse("{\"a\": [1, }").err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("/a/1 (line 1, column 11): expected a JSON value, found '}'".to_owned())
        );
    }
}
