//! Where the values and member keys of a JSON text start, by JSON pointer,
//! and the line and column of a byte offset (columns count characters, not
//! bytes). A repeated key's last occurrence is the one recorded, as its last
//! value is the one read; places only an earlier occurrence holds stay.

use std::collections::HashMap;

use super::pointer;

pub(crate) struct Positions<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
    values: HashMap<String, usize>,
    keys: HashMap<String, usize>,
}

impl<'t> Positions<'t> {
    pub(crate) fn new(text: &'t str) -> Positions<'t> {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Positions {
            text,
            line_starts,
            values: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    pub(crate) fn record_value(&mut self, pointer: &str, offset: usize) {
        self.values.insert(pointer.to_owned(), offset);
    }

    /// `pointer` names the member whose key starts at `offset`.
    pub(crate) fn record_key(&mut self, pointer: &str, offset: usize) {
        self.keys.insert(pointer.to_owned(), offset);
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = match self.text.get(start..offset) {
            Some(prefix) => prefix.chars().count(),
            None => offset.saturating_sub(start),
        };
        (line, column + 1)
    }

    /// Where the value at `pointer` starts; for a pointer that does not
    /// resolve, where its nearest ancestor does.
    pub(crate) fn value(&self, pointer: &str) -> Option<usize> {
        pointer::ancestry(pointer).find_map(|at| self.values.get(at).copied())
    }

    /// Where the key of the member `pointer` names starts.
    pub(crate) fn key(&self, pointer: &str) -> Option<usize> {
        self.keys.get(pointer).copied()
    }

    /// Where the member `pointer` names starts (its key), or for an array
    /// element or the root, its value; for a pointer that does not resolve,
    /// the same for its nearest ancestor. Places inside an earlier occurrence
    /// of a repeated key do not count: the last occurrence is the one read.
    #[cfg(feature = "cli")]
    pub(crate) fn member(&self, pointer: &str) -> Option<usize> {
        pointer::ancestry(pointer).find_map(|at| {
            let in_last_occurrence = |offset: usize| {
                pointer::ancestry(at)
                    .skip(1)
                    .all(|outer| self.keys.get(outer).is_none_or(|&key| key < offset))
            };
            [self.keys.get(at), self.values.get(at)]
                .into_iter()
                .flatten()
                .copied()
                .find(|&offset| in_last_occurrence(offset))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let positions = Positions::new("ab\n\"é\"x\n");
        assert_eq!(positions.line_col(0), (1, 1));
        assert_eq!(positions.line_col(3), (2, 1));
        assert_eq!(positions.line_col(7), (2, 4));
        assert_eq!(positions.line_col(9), (3, 1));
    }

    #[test]
    #[cfg(feature = "cli")]
    fn values_members_and_ancestors() {
        let mut positions = Positions::new("");
        positions.record_value("", 0);
        positions.record_key("/a", 1);
        positions.record_value("/a", 6);
        positions.record_value("/a/0", 7);
        assert_eq!(positions.value("/a"), Some(6));
        assert_eq!(positions.key("/a"), Some(1));
        assert_eq!(positions.key("/a/0"), None);
        assert_eq!(positions.member("/a"), Some(1));
        assert_eq!(positions.member("/a/0"), Some(7));
        assert_eq!(positions.value("/a/missing/x"), Some(6));
        assert_eq!(positions.member("/a/missing/x"), Some(1));
        assert_eq!(positions.member("/b"), Some(0));
        // `{"a": {"x": 1}, "a": 2}`: /a/x is only in the first "a".
        positions.record_key("/a/x", 3);
        positions.record_key("/a", 5);
        assert_eq!(positions.member("/a/x"), Some(5));
        assert_eq!(positions.value("/a/x"), Some(6));
    }

    #[test]
    #[cfg(feature = "cli")]
    fn a_member_read_last_is_placed_in_its_last_occurrence() {
        use crate::json::document::read;
        // The first "a" has a member "0"; the "a" read is the array.
        let text = r#"{"a": {"0": 1}, "a": [5]}"#;
        let positions = read::<serde_json::Value>(text).ok().map(|d| d.positions);
        let place = |pointer: &str| positions.as_ref().and_then(|p| p.member(pointer));
        assert_eq!(place("/a/0"), text.find('5'));
        assert_eq!(place("/a/1"), text.rfind("\"a\""));
    }
}
