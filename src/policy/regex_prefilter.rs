//! A necessary condition for a `regex` condition to match, checked before
//! regex-lite runs.
//!
//! regex-lite has no literal optimisations: every search runs its PikeVM over
//! the whole string, microseconds per call. Most policy regexes are word
//! lists (`(?i)anticipo|seña|prueba|\btest\b`), and most values contain none of
//! the words. For a pattern that is an alternation of literals, possibly with
//! `\b`, `\B`, `^` or `$` around or between them, a value can match only if it
//! contains one branch's literal; when it contains none, the search is skipped.
//! Any other pattern gets no prefilter and always runs the regex.
//!
//! With `(?i)` the literals are compared ASCII-case-insensitively and other
//! bytes exactly, which is what regex-lite's `(?i)` does: its case folding is
//! ASCII only (`(?i)ñ` does not match `Ñ`, nor `(?i)k` the Kelvin sign).

/// Literals one of which a matching value must contain.
#[derive(Debug)]
pub(crate) struct Prefilter {
    case_insensitive: bool,
    literals: Vec<String>,
}

/// Characters that are syntax outside a class; escaped, they are literals.
const META: &str = "\\.+*?()|[]{}^$";

impl Prefilter {
    /// `None` when the pattern is not a plain alternation of literals (or a
    /// branch could match the empty string).
    pub(crate) fn of(pattern: &str) -> Option<Prefilter> {
        let (case_insensitive, rest) = match pattern.strip_prefix("(?i)") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let rest = unwrap_group(rest);
        let mut literals = Vec::new();
        let mut literal = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '|' => literals.push(non_empty(std::mem::take(&mut literal))?),
                '^' | '$' => {}
                '\\' => match chars.next()? {
                    'b' | 'B' => {}
                    escaped if META.contains(escaped) => literal.push(escaped),
                    _ => return None,
                },
                c if META.contains(c) => return None,
                c => literal.push(c),
            }
        }
        literals.push(non_empty(literal)?);
        Some(Prefilter {
            case_insensitive,
            literals,
        })
    }

    /// False only when the regex cannot match `haystack`.
    pub(crate) fn may_match(&self, haystack: &str) -> bool {
        self.literals.iter().any(|literal| {
            if self.case_insensitive {
                contains_ignore_ascii_case(haystack.as_bytes(), literal.as_bytes())
            } else {
                haystack.contains(literal.as_str())
            }
        })
    }
}

/// The inside of `(…)` or `(?:…)` when it wraps the whole pattern and holds
/// no other group; otherwise the pattern itself.
fn unwrap_group(pattern: &str) -> &str {
    let inner = pattern
        .strip_prefix("(?:")
        .or_else(|| pattern.strip_prefix('('))
        .and_then(|inner| inner.strip_suffix(')'));
    match inner {
        Some(inner) if !inner.contains(['(', ')']) && !inner.ends_with('\\') => inner,
        _ => pattern,
    }
}

fn non_empty(literal: String) -> Option<String> {
    (!literal.is_empty()).then_some(literal)
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    if needle.len() > haystack.len() {
        return false;
    }
    haystack.windows(needle.len()).any(|window| {
        window
            .first()
            .is_some_and(|byte| byte.eq_ignore_ascii_case(&first))
            && window.eq_ignore_ascii_case(needle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_lite::Regex;

    fn literals(pattern: &str) -> Option<(bool, Vec<String>)> {
        Prefilter::of(pattern).map(|p| (p.case_insensitive, p.literals))
    }

    #[test]
    fn word_lists_get_their_literals() {
        assert_eq!(
            literals(r"(?i)anticipo|seña|prueba|\btest\b"),
            Some((
                true,
                vec![
                    "anticipo".into(),
                    "seña".into(),
                    "prueba".into(),
                    "test".into()
                ]
            ))
        );
        assert_eq!(
            literals(r"(?:gift|donation)"),
            Some((false, vec!["gift".into(), "donation".into()]))
        );
        assert_eq!(
            literals(r"^@example\.com$"),
            Some((false, vec!["@example.com".into()]))
        );
        assert_eq!(
            literals("(?i)(a b|c-d)"),
            Some((true, vec!["a b".into(), "c-d".into()]))
        );
    }

    #[test]
    fn anything_else_gets_no_prefilter() {
        for pattern in [
            "a+",
            "colou?r",
            "a.b",
            "[ab]",
            r"\d",
            r"\w+",
            "a{2}",
            "(a)|(b)",
            "a|",
            "|a",
            "^$",
            r"\bx\b|",
            "(?x)a b",
            "(?is)a",
            "(?i:a)b",
            r"\x41",
            r"\n",
            r"a\",
            r"\b{start}a",
            "(a|b)c",
        ] {
            assert!(Prefilter::of(pattern).is_none(), "{pattern}");
        }
    }

    #[test]
    fn case_folding_is_ascii_only_as_in_regex_lite() {
        let p = Prefilter::of("(?i)seña|kilo").unwrap();
        assert!(p.may_match("una SEñA"));
        assert!(!p.may_match("una SEÑA"));
        assert!(!p.may_match("\u{212A}ilo"));
        assert!(p.may_match("KILO"));
        let exact = Prefilter::of("Test").unwrap();
        assert!(exact.may_match("a Test"));
        assert!(!exact.may_match("a test"));
    }

    fn pattern_strategy() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[abAB ñ-]{1,2}",
            Just(r"\b".to_string()),
            Just(r"\B".to_string()),
            Just("^".to_string()),
            Just("$".to_string()),
            Just(r"\.".to_string()),
        ];
        let branch = proptest::collection::vec(piece, 1..4).prop_map(|parts| parts.concat());
        (
            any::<bool>(),
            0..3usize,
            proptest::collection::vec(branch, 1..4),
        )
            .prop_map(|(ci, group, branches)| {
                let body = branches.join("|");
                let body = match group {
                    1 => format!("({body})"),
                    2 => format!("(?:{body})"),
                    _ => body,
                };
                if ci {
                    format!("(?i){body}")
                } else {
                    body
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_rejects_a_value_the_regex_matches(
            pattern in pattern_strategy(),
            haystack in "[abAB ñÑ.\u{212A}-]{0,10}",
        ) {
            let Ok(regex) = Regex::new(&pattern) else { return Ok(()) };
            if let Some(prefilter) = Prefilter::of(&pattern) {
                if regex.is_match(&haystack) {
                    prop_assert!(prefilter.may_match(&haystack), "{pattern} on {haystack:?}");
                }
            }
        }
    }
}
