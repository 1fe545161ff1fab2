//! Charging the limits of allowed messages against the shared counters.

use crate::counter::{reserve_in, CounterSpec, LimitError, Reservation, SharedStore, Table};
use crate::policy::{Limit, Scope};

use super::request_head::RequestHead;

const ENFORCED_PREFIX: &str = "mcp-policy/v1/c";
const SHADOW_PREFIX: &str = "mcp-policy/v1/dry";
const SEPARATOR: char = '\u{1f}';

/// Who a limit is counted for.
pub struct Subject<'a> {
    pub grant: &'a str,
    pub head: &'a RequestHead,
    /// Claim values for `claim:<name>` scopes (`None`: the request has none).
    pub claims: Vec<(String, Option<String>)>,
}

impl Subject<'_> {
    fn claim(&self, name: &str) -> Option<&str> {
        self.claims
            .iter()
            .find(|(candidate, _)| candidate == name)
            .and_then(|(_, value)| value.as_deref())
    }
}

pub fn counter_key(limit: &Limit, subject: &Subject<'_>) -> String {
    let prefix = if limit.dry_run {
        SHADOW_PREFIX
    } else {
        ENFORCED_PREFIX
    };
    let scope = match &limit.scope {
        Scope::Grant => format!("grant:{}", subject.grant),
        Scope::Global => "global".to_string(),
        Scope::Session => match subject.head.session_id() {
            Some(session) => format!("session:{session}"),
            None => format!("grant:{}", subject.grant),
        },
        Scope::Header(name) => format!(
            "header:{name}{SEPARATOR}{}",
            subject.head.header(name).unwrap_or("")
        ),
        // Requests without the claim share one budget.
        Scope::Claim(name) => match subject.claim(name) {
            Some(value) => format!("claim:{name}{SEPARATOR}={value}"),
            None => format!("claim:{name}{SEPARATOR}(absent)"),
        },
    };
    format!("{prefix}/{}{SEPARATOR}{scope}", limit.counter)
}

/// A limit that refused the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitRefusal {
    /// Index into the limits passed to `charge`.
    pub index: usize,
    pub count: u64,
    pub retry_after_secs: u64,
}

pub enum Charge {
    Admitted(Reservation),
    Refused(Vec<LimitRefusal>),
    Unavailable(String),
}

/// Takes one unit from every enforced limit, all or nothing. Dry-run limits
/// count in shadow counters; their refusals are only reported.
pub fn charge(
    store: &dyn SharedStore,
    now_secs: u64,
    slots: u32,
    limits: &[&Limit],
    subject: &Subject<'_>,
) -> (Charge, Vec<usize>) {
    let mut enforced = Vec::new();
    let mut enforced_index = Vec::new();
    let mut shadow = Vec::new();
    let mut shadow_index = Vec::new();
    for (index, limit) in limits.iter().enumerate() {
        let spec = CounterSpec {
            key: counter_key(limit, subject),
            window: limit.window,
            max: limit.max,
        };
        if limit.dry_run {
            shadow.push(spec);
            shadow_index.push(index);
        } else {
            enforced.push(spec);
            enforced_index.push(index);
        }
    }
    let mut shadow_refused = Vec::new();
    for (spec, index) in shadow.iter().zip(&shadow_index) {
        if let Err(LimitError::Exhausted(_)) = reserve_in(
            store,
            Table::shadow(slots),
            now_secs,
            std::slice::from_ref(spec),
        ) {
            shadow_refused.push(*index);
        }
    }
    let charge = match reserve_in(store, Table::enforced(slots), now_secs, &enforced) {
        Ok(reservation) => Charge::Admitted(reservation),
        Err(LimitError::Exhausted(refusals)) => Charge::Refused(
            refusals
                .into_iter()
                .filter_map(|refusal| {
                    enforced_index.get(refusal.index).map(|index| LimitRefusal {
                        index: *index,
                        count: refusal.count,
                        retry_after_secs: refusal.retry_after_secs,
                    })
                })
                .collect(),
        ),
        Err(LimitError::StoreUnavailable(detail)) => Charge::Unavailable(detail),
    };
    (charge, shadow_refused)
}
