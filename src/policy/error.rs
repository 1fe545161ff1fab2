//! Load-time errors: every error names the JSON pointer of the offending
//! value and, for text input, its line and column.

use std::fmt;

/// One problem found while loading a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyError {
    /// JSON pointer of the offending value (`""` is the whole document).
    pub path: String,
    /// 1-based line of the offending value, for text input.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the offending value, for text input.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str("(root)")?;
        } else {
            f.write_str(&self.path)?;
        }
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " (line {line}, column {column})")?,
            (Some(line), None) => write!(f, " (line {line})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found while loading a policy (never empty when returned as
/// an error). Displays one error per line: `path (line L, column C): message`.
#[derive(Clone, Debug)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Which position of a pointer an issue refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// Where the value starts.
    Value,
    /// Where the member's key starts (unknown fields, duplicate keys).
    Key,
    /// An explicit byte offset into the text.
    Offset(usize),
}

/// A problem found before positions are known.
#[derive(Clone, Debug)]
pub(crate) struct Issue {
    pub path: String,
    pub at: At,
    pub message: String,
}

/// Collects every problem found while validating.
#[derive(Debug, Default)]
pub(crate) struct Issues(pub Vec<Issue>);

impl Issues {
    /// A problem with the value at `path`.
    pub fn value(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.into(),
            at: At::Value,
            message: message.into(),
        });
    }

    /// A problem with the member key at `path` (the pointer of the member).
    pub fn key(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.into(),
            at: At::Key,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Errors for a policy given as a value: pointers prefixed, no positions.
    pub fn with_base(self, base_pointer: &str) -> PolicyErrors {
        PolicyErrors(
            self.0
                .into_iter()
                .map(|issue| PolicyError {
                    path: format!("{base_pointer}{}", issue.path),
                    line: None,
                    column: None,
                    message: issue.message,
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_one_error_per_line() {
        let errors = PolicyErrors(vec![
            PolicyError {
                path: "/default".into(),
                line: Some(3),
                column: Some(14),
                message: "bad".into(),
            },
            PolicyError {
                path: "".into(),
                line: None,
                column: None,
                message: "worse".into(),
            },
        ]);
        assert_eq!(
            errors.to_string(),
            "/default (line 3, column 14): bad\n(root): worse"
        );
    }

    #[test]
    fn base_pointer_prefixes_paths() {
        let mut issues = Issues::default();
        issues.value("/version", "nope");
        let errors = issues.with_base("/grants/alice/policy");
        assert_eq!(errors.0[0].path, "/grants/alice/policy/version");
        assert_eq!(errors.0[0].line, None);
    }
}
