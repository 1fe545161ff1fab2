//! Risk classes for `mcp-policy generate`, after PolicyLayer's tool pages:
//! Read, Write, Execute, Destructive and Financial.
//!
//! The order of the rules (keyword tables in `keywords.rs`):
//! 1. The name's verb (its first word): financial, read, destructive,
//!    execute or write verbs. Without a known verb, a read-only last word
//!    (`connection_state`), then the first word of the description ("Get the
//!    connection state...", `gets`/`fetches` count as `get`/`fetch`).
//! 2. A write or execute tool whose name (or a pair such as `credit_note`) or
//!    description names money (`invoice`, `payment`, `refund`...) is
//!    Financial. Destructive verbs win over money: `delete_invoice` stays
//!    Destructive (hidden).
//! 3. MCP annotations can only make a class stricter, since a server's hints
//!    are not trusted to loosen anything: `destructiveHint: true` (without
//!    `readOnlyHint: true`) makes a Read/Write/Execute tool Destructive, and
//!    `readOnlyHint: false` makes a Read tool Write.
//! 4. A tool no keyword matches is classified by its annotations
//!    (`readOnlyHint` → Read, `destructiveHint` → Destructive,
//!    `idempotentHint` or `openWorldHint: false` → Write), else Execute, the
//!    stricter of the two rate-limited classes.

use std::fmt;

use serde_json::Value;

use super::keywords::{
    DESTRUCTIVE_VERBS, EXECUTE_VERBS, FINANCIAL_NOUNS, FINANCIAL_PAIRS, FINANCIAL_VERBS,
    READ_NOUNS, READ_VERBS, WRITE_VERBS,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Read,
    Write,
    Execute,
    Destructive,
    Financial,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::Read,
        Class::Write,
        Class::Execute,
        Class::Destructive,
        Class::Financial,
    ];
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Read => "Read",
            Class::Write => "Write",
            Class::Execute => "Execute",
            Class::Destructive => "Destructive",
            Class::Financial => "Financial",
        })
    }
}

/// The MCP tool annotations the classifier reads (absent when not a boolean).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

impl Hints {
    /// Reads `annotations` of a tool from `tools/list`.
    pub fn from_annotations(annotations: Option<&Value>) -> Hints {
        let flag = |name: &str| {
            annotations
                .and_then(|a| a.get(name))
                .and_then(Value::as_bool)
        };
        Hints {
            read_only: flag("readOnlyHint"),
            destructive: flag("destructiveHint"),
            idempotent: flag("idempotentHint"),
            open_world: flag("openWorldHint"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    pub class: Class,
    /// Why, for the table `generate` prints.
    pub reason: String,
}

/// Lowercase words of a name: split on anything not alphanumeric and on
/// camelCase boundaries (`getInvoice` → `get`, `invoice`).
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn verb_class(word: &str) -> Option<Class> {
    let tables: [(&[&str], Class); 5] = [
        (FINANCIAL_VERBS, Class::Financial),
        (READ_VERBS, Class::Read),
        (DESTRUCTIVE_VERBS, Class::Destructive),
        (EXECUTE_VERBS, Class::Execute),
        (WRITE_VERBS, Class::Write),
    ];
    tables
        .iter()
        .find(|(table, _)| table.contains(&word))
        .map(|(_, class)| *class)
}

/// A description's first word as a verb: `Get`, `Gets`, `Fetches`.
fn description_verb(description: &str) -> Option<(String, Class)> {
    let first = words(description).into_iter().next()?;
    let class = [
        Some(first.as_str()),
        first.strip_suffix('s'),
        first.strip_suffix("es"),
    ]
    .into_iter()
    .flatten()
    .find_map(verb_class)?;
    Some((first, class))
}

fn financial_word(name_words: &[String], description: &str) -> Option<String> {
    if let Some(word) = name_words
        .iter()
        .find(|w| FINANCIAL_NOUNS.contains(&w.as_str()))
    {
        return Some(format!("{word:?} in the name"));
    }
    for (first, second) in FINANCIAL_PAIRS {
        if name_words
            .windows(2)
            .any(|pair| matches!(pair, [a, b] if a == first && b == second))
        {
            return Some(format!("\"{first}_{second}\" in the name"));
        }
    }
    words(description)
        .into_iter()
        .find(|w| FINANCIAL_NOUNS.contains(&w.as_str()))
        .map(|word| format!("{word:?} in the description"))
}

/// Classifies one tool.
pub fn classify(name: &str, description: &str, hints: Hints) -> Classification {
    let name_words = words(name);
    let verb = name_words.first().map(String::as_str).unwrap_or("");
    let by_keywords = match verb_class(verb) {
        Some(class) => Some((class, format!("verb {verb:?}"))),
        None => match name_words
            .last()
            .filter(|w| READ_NOUNS.contains(&w.as_str()))
        {
            Some(last) => Some((Class::Read, format!("name ends in {last:?}"))),
            None => description_verb(description)
                .map(|(word, class)| (class, format!("description starts with {word:?}"))),
        },
    };

    let (mut class, mut reason) = match by_keywords {
        Some(found) => found,
        None => fallback(hints),
    };

    if matches!(class, Class::Write | Class::Execute) {
        if let Some(why) = financial_word(&name_words, description) {
            reason = format!("{reason}, {why}");
            class = Class::Financial;
        }
    }

    // Hints only make a class stricter.
    if hints.destructive == Some(true)
        && hints.read_only != Some(true)
        && matches!(class, Class::Read | Class::Write | Class::Execute)
    {
        class = Class::Destructive;
        reason = format!("{reason}; destructiveHint");
    } else if hints.read_only == Some(false) && class == Class::Read {
        class = Class::Write;
        reason = format!("{reason}; readOnlyHint is false");
    }
    Classification { class, reason }
}

fn fallback(hints: Hints) -> (Class, String) {
    if hints.read_only == Some(true) {
        (Class::Read, "no keyword; readOnlyHint".to_owned())
    } else if hints.destructive == Some(true) {
        (Class::Destructive, "no keyword; destructiveHint".to_owned())
    } else if hints.idempotent == Some(true) {
        (Class::Write, "no keyword; idempotentHint".to_owned())
    } else if hints.open_world == Some(false) {
        (
            Class::Write,
            "no keyword; openWorldHint is false".to_owned(),
        )
    } else {
        (
            Class::Execute,
            "no keyword matched; unknown tools get the stricter limit".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, description: &str) -> Class {
        classify(name, description, Hints::default()).class
    }

    #[test]
    fn splits_words() {
        assert_eq!(
            words("getInvoice_total-X.y"),
            ["get", "invoice", "total", "x", "y"]
        );
        assert_eq!(words("HTTPGet"), ["httpget"]);
        assert_eq!(words("Look up a taxpayer"), ["look", "up", "a", "taxpayer"]);
    }

    #[test]
    fn afip_catalogue() {
        let cases = [
            ("create_invoice", Class::Financial),
            ("create_invoice_batch", Class::Financial),
            ("create_credit_note", Class::Financial),
            ("create_debit_note", Class::Financial),
            ("cancel_invoice", Class::Financial),
            ("get_invoice", Class::Read),
            ("get_invoice_total_x_request", Class::Read),
            ("lookup_taxpayer", Class::Read),
            ("list_tax_types", Class::Read),
            ("check_number", Class::Read),
            ("fetch_group_invite_code", Class::Read),
            ("connection_state", Class::Read),
            ("send_text", Class::Execute),
            ("restart_instance", Class::Execute),
            ("create_instance", Class::Write),
            ("logout_instance", Class::Write),
            ("mark_message_as_read", Class::Write),
            ("archive_chat", Class::Write),
            ("delete_instance", Class::Destructive),
            ("delete_message", Class::Destructive),
            ("leave_group", Class::Destructive),
        ];
        for (name, expected) in cases {
            assert_eq!(class(name, ""), expected, "{name}");
        }
    }

    #[test]
    fn description_and_hints() {
        assert_eq!(class("instance_qr", "Fetches the QR code"), Class::Read);
        assert_eq!(class("frobnicate", ""), Class::Execute);
        assert_eq!(
            class("frobnicate", "Creates a payment link"),
            Class::Financial
        );
        assert_eq!(class("delete_invoice", ""), Class::Destructive);
        let read_only = Hints {
            read_only: Some(true),
            ..Hints::default()
        };
        assert_eq!(classify("frobnicate", "", read_only).class, Class::Read);
        // Hints never loosen a keyword class.
        assert_eq!(classify("send_text", "", read_only).class, Class::Execute);
        let destructive = Hints {
            destructive: Some(true),
            ..Hints::default()
        };
        assert_eq!(
            classify("update_profile", "", destructive).class,
            Class::Destructive
        );
        assert_eq!(
            classify("create_invoice", "", destructive).class,
            Class::Financial
        );
        let writes = Hints {
            read_only: Some(false),
            ..Hints::default()
        };
        assert_eq!(classify("get_or_create", "", writes).class, Class::Write);
        let idempotent = Hints {
            idempotent: Some(true),
            ..Hints::default()
        };
        assert_eq!(classify("frobnicate", "", idempotent).class, Class::Write);
    }
}
