//! Name patterns (`get_*`, `*_instance`, `a*b*c`, `file:///docs/*`) and the
//! lookup table that applies PolicyLayer-style precedence to them.
//!
//! `*` matches any run of characters, including none and including `/`;
//! every other character matches itself (there is no escape, so a name
//! containing `*` can only be matched by a pattern).
//!
//! Precedence: an exact name beats any pattern; among patterns that match,
//! the one with more literal (non-`*`) characters wins. Two patterns with the
//! same number of literal characters are rejected at load time when some
//! name matches both. That question is decided exactly (the product of the
//! two patterns' automata is searched for a common match, which also yields
//! a witness name for the error message), so ties cannot survive loading;
//! lookup still checks for a tie and reports it (callers fail closed).

use std::collections::HashMap;
use std::collections::VecDeque;

use super::error::Issues;

/// Longer patterns are rejected, which bounds the work (and memory) of the
/// load-time tie check: (length + 1)² states at most.
pub(crate) const MAX_PATTERN_CHARS: usize = 256;

/// One `*` pattern.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    text: String,
    literals: usize,
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            literals: text.chars().filter(|&c| c != '*').count(),
        }
    }

    /// Whether `text` is a pattern rather than an exact name.
    pub fn is_pattern(text: &str) -> bool {
        text.contains('*')
    }

    /// The number of literal (non-`*`) characters: the pattern's rank.
    pub fn literals(&self) -> usize {
        self.literals
    }

    pub fn matches(&self, name: &str) -> bool {
        glob_match(self.text.as_bytes(), name.as_bytes())
    }
}

/// Iterative glob matching with `*` only (linear backtracking on the last
/// star: O(pattern × name) worst case, no recursion). Working on bytes is
/// exact for UTF-8: a literal run can only match at a character boundary.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(&c) if name.get(n) == Some(&c) => {
                p += 1;
                n += 1;
                continue;
            }
            None if n == name.len() => return true,
            _ => {}
        }
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp + 1;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

/// A name that both patterns match, if there is one.
///
/// Breadth-first search over pairs of positions (i in `a`, j in `b`): a `*`
/// may be left (matching nothing more), or may swallow the literal the other
/// pattern has next; equal literals advance both.
pub(crate) fn common_match(a: &str, b: &str) -> Option<String> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let states = (a.len() + 1).checked_mul(width)?;
    // For each reached state: the state it was reached from, and the
    // character emitted on the way (None for an epsilon step).
    let mut from: Vec<Option<(usize, Option<char>)>> = vec![None; states];
    let start = 0usize;
    let goal = a.len() * width + b.len();
    let mut queue = VecDeque::new();
    queue.push_back(start);
    let mut reached = vec![false; states];
    if let Some(r) = reached.get_mut(start) {
        *r = true;
    }
    while let Some(state) = queue.pop_front() {
        if state == goal {
            let mut out = Vec::new();
            let mut at = state;
            while at != start {
                match from.get(at).copied().flatten() {
                    Some((prev, c)) => {
                        out.extend(c);
                        at = prev;
                    }
                    None => return None,
                }
            }
            out.reverse();
            return Some(out.into_iter().collect());
        }
        let (i, j) = (state / width, state % width);
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        let mut next: Vec<(usize, usize, Option<char>)> = Vec::with_capacity(3);
        if x == Some('*') {
            next.push((i + 1, j, None));
        }
        if y == Some('*') {
            next.push((i, j + 1, None));
        }
        match (x, y) {
            (Some('*'), Some('*')) | (None, _) | (_, None) => {}
            (Some('*'), Some(d)) => next.push((i, j + 1, Some(d))),
            (Some(c), Some('*')) => next.push((i + 1, j, Some(c))),
            (Some(c), Some(d)) if c == d => next.push((i + 1, j + 1, Some(c))),
            _ => {}
        }
        for (ni, nj, c) in next {
            let to = ni * width + nj;
            if let Some(seen @ false) = reached.get_mut(to) {
                *seen = true;
                if let Some(slot) = from.get_mut(to) {
                    *slot = Some((state, c));
                }
                queue.push_back(to);
            }
        }
    }
    None
}

/// Exact names in a hash map, patterns in precedence order.
#[derive(Debug)]
pub(crate) struct PatternTable<T> {
    exact: HashMap<String, T>,
    patterns: Vec<(Pattern, T)>,
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup<'a, T> {
    Found {
        key: &'a str,
        value: &'a T,
    },
    /// Two equal-rank patterns match (cannot happen after a successful load).
    Ambiguous(&'a str, &'a str),
    NotFound,
}

/// One entry to put in a table: its key, the JSON pointer of the key (for
/// errors) and its value.
pub(crate) struct TableEntry<T> {
    pub key: String,
    pub pointer: String,
    pub value: T,
}

impl<T> PatternTable<T> {
    /// Builds a table, reporting equal-rank patterns that can match the same
    /// name. `what` names the keys in messages ("tool", "resource").
    pub fn build(entries: Vec<TableEntry<T>>, what: &str, issues: &mut Issues) -> PatternTable<T> {
        let mut exact = HashMap::new();
        let mut patterns: Vec<(Pattern, String, T)> = Vec::new();
        for entry in entries {
            if Pattern::is_pattern(&entry.key) && entry.key.chars().count() > MAX_PATTERN_CHARS {
                issues.key(
                    entry.pointer,
                    format!("a {what} pattern may have at most {MAX_PATTERN_CHARS} characters"),
                );
            } else if Pattern::is_pattern(&entry.key) {
                patterns.push((Pattern::new(&entry.key), entry.pointer, entry.value));
            } else {
                exact.insert(entry.key, entry.value);
            }
        }
        patterns.sort_by(|(a, _, _), (b, _, _)| {
            b.literals
                .cmp(&a.literals)
                .then_with(|| a.text.cmp(&b.text))
        });
        for (index, (later, pointer, _)) in patterns.iter().enumerate() {
            let earlier = patterns
                .iter()
                .take(index)
                .filter(|(p, _, _)| p.literals == later.literals);
            for (first, first_pointer, _) in earlier {
                if let Some(witness) = common_match(&first.text, &later.text) {
                    issues.key(
                        pointer.clone(),
                        format!(
                            "{what} pattern {:?} ties with {:?} ({first_pointer}): both have {} literal characters \
                             and both match {witness:?}, so neither takes precedence; make one more specific",
                            later.text, first.text, later.literals
                        ),
                    );
                }
            }
        }
        PatternTable {
            exact,
            patterns: patterns.into_iter().map(|(p, _, v)| (p, v)).collect(),
        }
    }

    pub fn empty() -> PatternTable<T> {
        PatternTable {
            exact: HashMap::new(),
            patterns: Vec::new(),
        }
    }

    /// The exact entry for `name`, else the best matching pattern.
    pub fn lookup(&self, name: &str) -> Lookup<'_, T> {
        if let Some((key, value)) = self.exact.get_key_value(name) {
            return Lookup::Found { key, value };
        }
        for (index, (pattern, value)) in self.patterns.iter().enumerate() {
            if !pattern.matches(name) {
                continue;
            }
            let rival = self
                .patterns
                .iter()
                .skip(index + 1)
                .take_while(|(other, _)| other.literals == pattern.literals)
                .find(|(other, _)| other.matches(name));
            if let Some((other, _)) = rival {
                return Lookup::Ambiguous(&pattern.text, &other.text);
            }
            return Lookup::Found {
                key: &pattern.text,
                value,
            };
        }
        Lookup::NotFound
    }

    /// Exact keys, sorted.
    pub fn exact_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.exact.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    /// Every value: exact entries sorted by key, then patterns by precedence.
    pub fn values(&self) -> Vec<&T> {
        let mut exact: Vec<(&String, &T)> = self.exact.iter().collect();
        exact.sort_unstable_by(|a, b| a.0.cmp(b.0));
        exact
            .into_iter()
            .map(|(_, v)| v)
            .chain(self.patterns.iter().map(|(_, v)| v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(keys: &[&str]) -> (PatternTable<String>, Issues) {
        let mut issues = Issues::default();
        let entries = keys
            .iter()
            .map(|k| TableEntry {
                key: k.to_string(),
                pointer: format!("/tools/{k}"),
                value: k.to_string(),
            })
            .collect();
        let table = PatternTable::build(entries, "tool", &mut issues);
        (table, issues)
    }

    fn found(table: &PatternTable<String>, name: &str) -> Option<String> {
        match table.lookup(name) {
            Lookup::Found { value, .. } => Some(value.clone()),
            _ => None,
        }
    }

    #[test]
    fn glob_matching() {
        let cases = [
            ("get_*", "get_user", true),
            ("get_*", "get_", true),
            ("get_*", "xget_user", false),
            ("*_instance", "logout_instance", true),
            ("*_instance", "logout_instances", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("a*b*c", "abcbc", true),
            ("*", "", true),
            ("**", "anything", true),
            ("file:///docs/*", "file:///docs/a/b.md", true),
            ("é*ü", "éaü", true),
            ("é*ü", "éü", true),
            ("*ü", "u", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(name),
                expected,
                "{pattern} vs {name}"
            );
        }
        assert_eq!(Pattern::new("a*b*c").literals(), 3);
        assert_eq!(Pattern::new("é*").literals(), 1);
    }

    #[test]
    fn common_match_finds_witnesses() {
        assert_eq!(
            common_match("get_*", "*_list").map(|w| w.len() >= 6),
            Some(true)
        );
        assert!(common_match("a*", "b*").is_none());
        assert!(common_match("*a", "*b").is_none());
        assert!(common_match("a*b", "a*c").is_none());
        for (a, b) in [
            ("a*", "*a"),
            ("get_*", "*_list"),
            ("*", "x"),
            ("a*b*c", "*bc*"),
        ] {
            let witness = common_match(a, b);
            assert!(
                witness
                    .as_deref()
                    .is_some_and(|w| Pattern::new(a).matches(w) && Pattern::new(b).matches(w)),
                "{a} {b} {witness:?}"
            );
        }
    }

    #[test]
    fn exact_beats_patterns_and_more_literals_win() {
        let (t, issues) = table(&["get_user", "get_*", "get_us*", "*"]);
        assert!(issues.is_empty());
        assert_eq!(found(&t, "get_user").as_deref(), Some("get_user"));
        assert_eq!(found(&t, "get_users").as_deref(), Some("get_us*"));
        assert_eq!(found(&t, "get_item").as_deref(), Some("get_*"));
        assert_eq!(found(&t, "delete").as_deref(), Some("*"));
        assert_eq!(t.exact_keys(), vec!["get_user"]);
    }

    #[test]
    fn equal_rank_overlap_is_reported_with_a_witness() {
        let (_, issues) = table(&["get_*", "*_get"]);
        assert_eq!(issues.0.len(), 1);
        let issue = &issues.0[0];
        assert_eq!(issue.path, "/tools/get_*");
        assert!(
            issue.message.contains("ties with \"*_get\" (/tools/*_get)"),
            "{}",
            issue.message
        );
        // Equal rank but disjoint: fine.
        let (t, issues) = table(&["get_*", "put_*"]);
        assert!(issues.is_empty());
        assert_eq!(found(&t, "put_x").as_deref(), Some("put_*"));
    }

    #[test]
    fn overlong_patterns_are_rejected() {
        let long = format!("{}*", "a".repeat(MAX_PATTERN_CHARS));
        let exact = "b".repeat(1000);
        let (t, issues) = table(&[&long, &exact]);
        assert_eq!(issues.0.len(), 1);
        assert!(issues.0[0].message.contains("at most 256 characters"));
        assert_eq!(found(&t, &exact), Some(exact.clone()));
    }

    #[test]
    fn lookup_fails_closed_on_a_tie() {
        // Built without the load-time check, a tie is still never resolved silently.
        let t = PatternTable {
            exact: HashMap::new(),
            patterns: vec![(Pattern::new("a*"), 1), (Pattern::new("*a"), 2)],
        };
        assert!(matches!(t.lookup("aba"), Lookup::Ambiguous("a*", "*a")));
        assert!(matches!(
            t.lookup("ab"),
            Lookup::Found {
                key: "a*",
                value: 1
            }
        ));
        assert!(matches!(t.lookup("x"), Lookup::NotFound));
    }

    fn small_pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just('a'), Just('b'), Just('*')], 0..5)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn strings_upto(len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..len {
            let mut next = Vec::new();
            for s in &frontier {
                for c in ['a', 'b'] {
                    next.push(format!("{s}{c}"));
                }
            }
            all.extend(next.iter().cloned());
            frontier = next;
        }
        all
    }

    proptest! {
        #[test]
        fn glob_agrees_with_regex(pattern in "[ab*é]{0,6}", name in "[abé]{0,8}") {
            let regex = format!("^{}$", pattern.split('*').map(regex_lite::escape).collect::<Vec<_>>().join(".*"));
            let re = regex_lite::Regex::new(&regex).unwrap();
            prop_assert_eq!(Pattern::new(&pattern).matches(&name), re.is_match(&name));
        }

        #[test]
        fn common_match_is_exact(a in small_pattern(), b in small_pattern()) {
            let (pa, pb) = (Pattern::new(&a), Pattern::new(&b));
            match common_match(&a, &b) {
                Some(w) => prop_assert!(pa.matches(&w) && pb.matches(&w), "witness {:?}", w),
                None => {
                    // A shortest common match only needs the literals of both.
                    for s in strings_upto(pa.literals() + pb.literals()) {
                        prop_assert!(!(pa.matches(&s) && pb.matches(&s)), "missed {:?}", s);
                    }
                }
            }
        }

        /// Exact names always beat patterns; among patterns that all match a
        /// name, the table loads iff their ranks are distinct, and then the
        /// one with the most literals wins.
        #[test]
        fn precedence(name in "[a-c_]{1,8}", cuts in proptest::collection::vec((0usize..8, 0usize..8), 1..5), with_exact in any::<bool>()) {
            let chars: Vec<char> = name.chars().collect();
            let mut keys: Vec<String> = Vec::new();
            for (x, y) in cuts {
                let (lo, hi) = (x.min(y).min(chars.len()), x.max(y).min(chars.len()));
                let key: String = chars[..lo].iter().chain(std::iter::once(&'*')).chain(chars[hi..].iter()).collect();
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            if with_exact {
                keys.push(name.clone());
            }
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let (t, issues) = table(&refs);
            let ranks: Vec<usize> = keys.iter().filter(|k| k.contains('*')).map(|k| Pattern::new(k).literals()).collect();
            let mut distinct = ranks.clone();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(issues.is_empty(), distinct.len() == ranks.len());
            if with_exact {
                prop_assert_eq!(found(&t, &name), Some(name.clone()));
            } else {
                let top = ranks.iter().copied().max().unwrap_or(0);
                let best: Vec<&String> = keys.iter().filter(|k| Pattern::new(k).literals() == top).collect();
                if best.len() == 1 {
                    prop_assert_eq!(found(&t, &name), Some(best[0].clone()));
                } else {
                    prop_assert!(matches!(t.lookup(&name), Lookup::Ambiguous(..)));
                }
            }
        }
    }
}
