//! Risk classes for `mcp-policy generate`, after PolicyLayer's tool pages:
//! Read, Write, Execute, Destructive and Financial, plus Read (personal
//! data) for reads that return third parties' personal data.
//!
//! The order of the rules (keyword tables in `keywords.rs`):
//! 1. The name's verb (its first word): financial, read, destructive,
//!    execute or write verbs. Without a known verb, a read-only last word
//!    (`connection_state`), then the first word of the description ("Get the
//!    connection state...", `gets`/`fetches` count as `get`/`fetch`).
//! 2. A write or execute tool that can also destroy is Destructive: a
//!    destructive verb is one of the values of an `enum` argument, or one of
//!    the verbs its description starts with. `update_group_participants` is
//!    an update, but its `action` can be `remove` ("Add, remove, promote, or
//!    demote participants"), and a removed member cannot be brought back by
//!    the agent.
//! 3. A write or execute tool whose name (or a pair such as `credit_note`) or
//!    description names money (`invoice`, `payment`, `refund`...) is
//!    Financial. Destructive verbs win over money: `delete_invoice` stays
//!    Destructive (hidden).
//! 4. A read tool that returns third parties' personal data is Read
//!    (personal data): see `personal.rs`.
//! 5. MCP annotations can only make a class stricter, since a server's hints
//!    are not trusted to loosen anything: `destructiveHint: true` (without
//!    `readOnlyHint: true`) makes a Read/Write/Execute tool Destructive, and
//!    `readOnlyHint: false` makes a Read tool Write (a personal-data read
//!    keeps its class, whose limit is already the stricter).
//! 6. A tool no keyword matches is classified by its annotations
//!    (`readOnlyHint` → Read, `destructiveHint` → Destructive,
//!    `idempotentHint` or `openWorldHint: false` → Write), else Execute, the
//!    stricter of the two rate-limited classes.

mod inputs;
mod personal;

use std::fmt;

use serde_json::Value;

use super::keywords::{
    DESTRUCTIVE_VERBS, EXECUTE_VERBS, FINANCIAL_NOUNS, FINANCIAL_PAIRS, FINANCIAL_VERBS,
    READ_NOUNS, READ_VERBS, WRITE_VERBS,
};
pub use inputs::Inputs;
use personal::personal_data;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Read,
    /// A read that returns third parties' personal data.
    PersonalRead,
    Write,
    Execute,
    Destructive,
    Financial,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Read,
        Class::PersonalRead,
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
            Class::PersonalRead => "Read (personal data)",
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

/// A word as a verb: `get`, `gets`, `fetches`.
fn word_verb_class(word: &str) -> Option<Class> {
    [Some(word), word.strip_suffix('s'), word.strip_suffix("es")]
        .into_iter()
        .flatten()
        .find_map(verb_class)
}

/// A description's first word as a verb: `Get`, `Gets`, `Fetches`.
fn description_verb(description: &str) -> Option<(String, Class)> {
    let first = words(description).into_iter().next()?;
    let class = word_verb_class(&first)?;
    Some((first, class))
}

/// The verbs a description starts with: "Add, remove, promote, or demote
/// participants" gives `add` and `remove`, up to the first word that is
/// neither a known verb nor `or`/`and`.
fn leading_verbs(description: &str) -> Vec<(String, Class)> {
    words(description)
        .into_iter()
        .filter(|w| w != "or" && w != "and")
        .map_while(|w| word_verb_class(&w).map(|class| (w, class)))
        .collect()
}

/// Why a state-changing tool can also destroy, if it can.
fn destroys(description: &str, inputs: &Inputs) -> Option<String> {
    if let Some((argument, value)) = inputs.choices.iter().find(|(_, value)| {
        words(value)
            .iter()
            .any(|w| verb_class(w) == Some(Class::Destructive))
    }) {
        return Some(format!("{value:?} is a value of {argument:?}"));
    }
    leading_verbs(description)
        .into_iter()
        .find(|(_, class)| *class == Class::Destructive)
        .map(|(word, _)| format!("the description starts with {word:?} among its verbs"))
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
pub fn classify(name: &str, description: &str, hints: Hints, inputs: &Inputs) -> Classification {
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
        if let Some(why) = destroys(description, inputs) {
            reason = format!("{reason}, but {why}");
            class = Class::Destructive;
        } else if let Some(why) = financial_word(&name_words, description) {
            reason = format!("{reason}, {why}");
            class = Class::Financial;
        }
    }
    if class == Class::Read {
        if let Some(why) = personal_data(&name_words, inputs) {
            reason = format!("{reason}, {why}");
            class = Class::PersonalRead;
        }
    }

    // Hints only make a class stricter.
    if hints.destructive == Some(true)
        && hints.read_only != Some(true)
        && matches!(
            class,
            Class::Read | Class::PersonalRead | Class::Write | Class::Execute
        )
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
    use serde_json::Value;

    fn class(name: &str, description: &str) -> Class {
        classify(name, description, Hints::default(), &Inputs::default()).class
    }

    fn with_hints(name: &str, hints: Hints) -> Class {
        classify(name, "", hints, &Inputs::default()).class
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
    fn afip_catalogue_by_name() {
        let cases = [
            ("create_invoice", Class::Financial),
            ("create_invoice_batch", Class::Financial),
            ("create_credit_note", Class::Financial),
            ("create_debit_note", Class::Financial),
            ("cancel_invoice", Class::Financial),
            ("get_invoice", Class::Read),
            ("get_invoice_total_x_request", Class::Read),
            ("lookup_taxpayer", Class::PersonalRead),
            ("get_contacts", Class::PersonalRead),
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

    /// Every tool of a real server's saved tools/list, classified from its
    /// name, description and input schema, as `generate` does.
    fn real_catalogue(text: &str) -> Vec<(String, Class)> {
        let response: Value = serde_json::from_str(text).unwrap();
        response["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| {
                let name = tool["name"].as_str().unwrap();
                let inputs = Inputs::from_schema(tool.get("inputSchema"));
                let description = tool["description"].as_str().unwrap();
                let classification = classify(name, description, Hints::default(), &inputs);
                (name.to_owned(), classification.class)
            })
            .collect()
    }

    fn expect(actual: Vec<(String, Class)>, expected: &[(&str, Class)]) {
        let expected: Vec<(String, Class)> = expected
            .iter()
            .map(|(name, class)| ((*name).to_owned(), *class))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn the_real_mcp_afip() {
        use Class::*;
        let text = include_str!("../../tests/fixtures/servers/mcp-afip.tools-list.json");
        expect(
            real_catalogue(text),
            &[
                ("create_invoice", Financial),
                ("get_invoice", Read),
                ("get_last_invoice_number", Read),
                ("get_cae_status", Read),
                ("list_invoice_types", Read),
                ("list_tax_types", Read),
                ("get_server_status", Read),
                ("get_authorized_points_of_sale", Read),
                ("create_invoice_batch", Financial),
                ("create_credit_note", Financial),
                ("create_debit_note", Financial),
                ("cancel_invoice", Financial),
                ("get_invoice_total_x_request", Read),
                ("list_concept_types", Read),
                ("list_doc_types", Read),
                ("list_iva_types", Read),
                ("list_currency_types", Read),
                ("get_currency_rate", Read),
                ("lookup_taxpayer", PersonalRead),
                ("get_registration_certificate", PersonalRead),
            ],
        );
    }

    #[test]
    fn the_real_evolution_api() {
        use Class::*;
        let text = include_str!("../../tests/fixtures/servers/evolution-api.tools-list.json");
        expect(
            real_catalogue(text),
            &[
                ("send_text", Execute),
                ("send_image", Execute),
                ("send_document", Execute),
                ("get_instances", Read),
                ("create_instance", Write),
                ("get_qrcode", Read),
                ("get_contacts", PersonalRead),
                ("send_poll", Execute),
                ("get_messages", Read),
                ("check_number", Read),
                ("create_group", Write),
                ("get_group_info", Read),
                ("update_profile", Write),
                ("set_presence", Write),
                ("get_chat_history", Read),
                ("logout_instance", Write),
                ("restart_instance", Execute),
                ("delete_instance", Destructive),
                ("connection_state", Read),
                ("leave_group", Destructive),
                ("update_group_participants", Destructive),
                ("fetch_group_invite_code", Read),
                ("mark_message_as_read", Write),
                ("archive_chat", Write),
                ("delete_message", Destructive),
            ],
        );
    }

    #[test]
    fn an_update_that_can_remove_is_destructive() {
        let action = Inputs::new(
            &["groupJid", "action", "participants"],
            &[
                ("action", "add"),
                ("action", "remove"),
                ("action", "promote"),
                ("action", "demote"),
            ],
        );
        let by_enum = classify("update_group_participants", "", Hints::default(), &action);
        assert_eq!(by_enum.class, Class::Destructive);
        assert_eq!(
            by_enum.reason,
            "verb \"update\", but \"remove\" is a value of \"action\""
        );
        assert_eq!(
            class(
                "update_group_participants",
                "Add, remove, promote, or demote participants"
            ),
            Class::Destructive
        );
        assert_eq!(
            class("manage_members", "Adds or removes members"),
            Class::Destructive
        );
        // Destructive capability wins over money, as destructive verbs do.
        assert_eq!(
            class("update_invoice", "Add or remove invoice items"),
            Class::Destructive
        );

        // Only a destructive verb among the choices or the leading verbs counts.
        let grows = Inputs::new(&["action"], &[("action", "add"), ("action", "promote")]);
        assert_eq!(
            classify("update_group_participants", "", Hints::default(), &grows).class,
            Class::Write
        );
        let presence = Inputs::new(
            &["presence"],
            &[("presence", "unavailable"), ("presence", "paused")],
        );
        assert_eq!(
            classify("set_presence", "", Hints::default(), &presence).class,
            Class::Write
        );
        assert_eq!(
            class(
                "logout_instance",
                "Logout an instance (disconnects the WhatsApp session without deleting the instance)"
            ),
            Class::Write
        );
        assert_eq!(
            class(
                "set_status",
                "Set the status text; leave it empty to clear it"
            ),
            Class::Write
        );
        // A read tool is not made destructive by what it reads about.
        let kinds = Inputs::new(&["kind"], &[("kind", "create"), ("kind", "delete")]);
        assert_eq!(
            classify("list_events", "", Hints::default(), &kinds).class,
            Class::Read
        );
    }

    #[test]
    fn personal_data_reads() {
        let cuit = Inputs::new(&["cuit"], &[]);
        let certificate = classify("get_registration_certificate", "", Hints::default(), &cuit);
        assert_eq!(certificate.class, Class::PersonalRead);
        assert_eq!(
            certificate.reason,
            "verb \"get\", argument \"cuit\" identifies a person"
        );
        // Only reads: a write that takes a CUIT keeps its class.
        assert_eq!(
            classify("create_invoice", "", Hints::default(), &cuit).class,
            Class::Financial
        );
        let writes = Hints {
            read_only: Some(false),
            ..Hints::default()
        };
        assert_eq!(with_hints("lookup_taxpayer", writes), Class::PersonalRead);
        let destructive = Hints {
            destructive: Some(true),
            ..Hints::default()
        };
        assert_eq!(
            with_hints("lookup_taxpayer", destructive),
            Class::Destructive
        );
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
        assert_eq!(with_hints("frobnicate", read_only), Class::Read);
        // Hints never loosen a keyword class.
        assert_eq!(with_hints("send_text", read_only), Class::Execute);
        let destructive = Hints {
            destructive: Some(true),
            ..Hints::default()
        };
        assert_eq!(
            with_hints("update_profile", destructive),
            Class::Destructive
        );
        assert_eq!(with_hints("create_invoice", destructive), Class::Financial);
        let writes = Hints {
            read_only: Some(false),
            ..Hints::default()
        };
        assert_eq!(with_hints("get_or_create", writes), Class::Write);
        let idempotent = Hints {
            idempotent: Some(true),
            ..Hints::default()
        };
        assert_eq!(with_hints("frobnicate", idempotent), Class::Write);
    }
}
