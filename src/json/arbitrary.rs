//! JSON-like texts for the readers' property tests: arrays and objects of a
//! few atoms and keys chosen for the edge cases (a key escaped to repeat
//! another, `-0`, a number out of range, a lone surrogate), valid or not.

use proptest::prelude::*;

pub(crate) fn json_like() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "1",
        "-0",
        "1e999",
        "2.5E+3",
        "true",
        "null",
        "\"a\"",
        "\"\\u0061\"",
        "\"\\ud800\"",
        "\"b\"",
        "\"é\"",
    ])
    .prop_map(str::to_owned);
    let key = prop::sample::select(vec!["a", "b", "\\u0061", "A", "b/~"]);
    atom.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(key, value)| format!("\"{key}\":{value}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// `text` with `insert` at `at`, or at the character boundary before it.
pub(crate) fn insert_at(text: &str, at: usize, insert: &str) -> String {
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0);
    format!("{}{insert}{}", &text[..at], &text[at..])
}
