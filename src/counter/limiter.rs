//! Reserve a unit of every limit that applies to a call, all or nothing, and
//! release it again when the call did not run.
//!
//! **Exact counting.** Every write is a compare-and-swap on the token read with
//! the slot, retried up to `MAX_CAS_ATTEMPTS` times. A slot read as absent is
//! written with [`ABSENT_TOKEN`], so that a worker that created it in between
//! makes the write fail instead of being overwritten. When the store errs or
//! keeps refusing, the call fails closed with `LimitError::StoreUnavailable`
//! and the units taken are given back (a unit the failing store will not
//! take back stays counted: conservative).
//!
//! **Time.** Windows come from the caller's `now_secs` (the host clock), but
//! never from a time earlier than a record the worker reads was written at.
//! Workers read the clock at slightly different moments; without this, a
//! worker that read it just before a window ended could roll a record back to
//! the old window, or re-create an old window's record after the slot was
//! reclaimed, and admit one call more than `max`. A call is therefore charged
//! to the latest window any worker has already seen in its candidates. Only
//! times up to `MAX_CLOCK_LEAD_SECS` ahead count: a record written further
//! ahead predates a backward step of the host clock, and is overwritten like
//! a foreign value rather than trusted.
//!
//! **Write, then confirm.** Workers judge whether another owner's window has
//! ended by their own clocks, so in the second a window ends two workers can
//! claim two different candidates for the same owner, and later writers can
//! each count one of the two records stale. Counts are therefore summed over
//! every candidate the owner holds, and every written unit is confirmed by a
//! fresh scan: it is kept only if the scan finds at most `max` units in the
//! window (its own included) and no record written after the window ended;
//! otherwise it is given back and the attempt repeated. A unit is kept only
//! after a scan that counted every unit kept before it, so the units kept in
//! a window never exceed `max`.
//!
//! **Policy updates.** The slot and owner depend only on `CounterSpec::key`
//! and the slot count, never on the policy object, so counts taken in the
//! current window survive a policy update; `max` is not stored, so a new
//! `max` applies at once; a renamed counter is a new counter. When a counter's
//! window length changes, counts taken in windows that overlap the new one
//! still count in it.

use super::record::SlotRecord;
use super::slot::{Identity, Table, DEFAULT_SLOTS};
use super::window::Window;
use crate::store::{Entry, SharedStore, StoreError, ABSENT_TOKEN};

/// How far ahead of the caller's clock another worker's clock may be. Workers
/// of one Envoy read the same clock, milliseconds apart; a record written
/// further ahead predates a backward step of the host clock and is treated
/// as foreign (see `read_candidates`).
pub const MAX_CLOCK_LEAD_SECS: u64 = 30;

/// Write attempts per counter (lost compare-and-swaps and units given back
/// after their confirming scan) before the store is declared unavailable.
pub const MAX_CAS_ATTEMPTS: u32 = 64;

/// One limit as the counter layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSpec {
    /// The counter's identity: counter name and scope value, resolved. It is
    /// hashed to a slot and a fingerprint; it is not itself a store key.
    pub key: String,
    pub window: Window,
    pub max: u64,
}

/// One unit taken from one slot: enough to give it back to that owner and
/// window only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub slot_key: String,
    pub owner: u128,
    pub window_start: u64,
    pub window_end: u64,
}

/// Units taken, to be released if the call does not run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    pub taken: Vec<Taken>,
    /// CAS retries spent, for contention metrics.
    pub retries: u32,
}

/// A limit that had no room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitRefusal {
    /// Index into the specs passed to `reserve`.
    pub index: usize,
    /// Units already taken in the current window (0 when `no_slot`).
    pub count: u64,
    pub retry_after_secs: u64,
    /// The limit had room, but every candidate slot held another owner's live
    /// window (a crowded table); `retry_after_secs` is when the first ends.
    pub no_slot: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// At least one limit had no room; nothing was taken.
    Exhausted(Vec<LimitRefusal>),
    /// The store failed or kept refusing; nothing was taken.
    StoreUnavailable(String),
}

/// Takes one unit from every counter in the default enforced table
/// (`Table::enforced(DEFAULT_SLOTS)`). See [`reserve_in`].
pub fn reserve(
    store: &dyn SharedStore,
    now_secs: u64,
    specs: &[CounterSpec],
) -> Result<Reservation, LimitError> {
    reserve_in(store, Table::enforced(DEFAULT_SLOTS), now_secs, specs)
}

/// Takes one unit from every counter in `table`, or none: when any counter
/// is full or the store fails, units already taken are released before
/// returning. After a refusal the remaining counters are only read, so that
/// every refusal is reported.
pub fn reserve_in(
    store: &dyn SharedStore,
    table: Table,
    now_secs: u64,
    specs: &[CounterSpec],
) -> Result<Reservation, LimitError> {
    let placed: Vec<(Table, &CounterSpec)> = specs.iter().map(|spec| (table, spec)).collect();
    reserve_placed(store, now_secs, &placed)
}

/// As [`reserve_in`], each counter in its own table.
pub fn reserve_placed(
    store: &dyn SharedStore,
    now_secs: u64,
    specs: &[(Table, &CounterSpec)],
) -> Result<Reservation, LimitError> {
    let mut reservation = Reservation::default();
    let mut refusals = Vec::new();
    for (index, &(table, spec)) in specs.iter().enumerate() {
        let step = if refusals.is_empty() {
            take_one(store, table, now_secs, spec)
        } else {
            peek(store, table, now_secs, spec)
        };
        match step {
            Ok(Step::Taken { taken, retries }) => {
                reservation.retries = reservation.retries.saturating_add(retries);
                reservation.taken.extend(taken);
            }
            Ok(Step::Refused {
                count,
                retry_after_secs,
                no_slot,
                retries,
            }) => {
                reservation.retries = reservation.retries.saturating_add(retries);
                refusals.push(LimitRefusal {
                    index,
                    count,
                    retry_after_secs,
                    no_slot,
                });
            }
            Err(error) => {
                release(store, &reservation);
                return Err(LimitError::StoreUnavailable(error.to_string()));
            }
        }
    }
    if refusals.is_empty() {
        Ok(reservation)
    } else {
        release(store, &reservation);
        Err(LimitError::Exhausted(refusals))
    }
}

/// Gives back units taken by `reserve`. A unit is given back only to the
/// owner and window it was taken from: not after the window rolled over, and
/// not once another owner reclaimed the slot.
pub fn release(store: &dyn SharedStore, reservation: &Reservation) {
    for taken in &reservation.taken {
        if let Err(error) = give_back(store, taken) {
            log::warn!("counter release on {} failed: {error}", taken.slot_key);
        }
    }
}

/// Units taken in the current window by the counter `spec` names (0 for a
/// counter that holds no slot).
pub fn current_count(
    store: &dyn SharedStore,
    table: Table,
    now_secs: u64,
    spec: &CounterSpec,
) -> Result<u64, StoreError> {
    let (owner, candidates) = read_counter(store, table, now_secs, spec)?;
    let span = Span::of(spec.window, clock(&candidates, now_secs));
    Ok(owned_count(&candidates, owner, span))
}

/// A window as `[start, end)` in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
}

impl Span {
    fn of(window: Window, now_secs: u64) -> Span {
        Span {
            start: window.start_of(now_secs),
            end: window.reset_at(now_secs),
        }
    }
}

struct Candidate {
    key: String,
    entry: Option<Entry>,
    record: Option<SlotRecord>,
}

enum Step {
    /// `None` when the counter was only read (after an earlier refusal).
    Taken { taken: Option<Taken>, retries: u32 },
    Refused {
        count: u64,
        retry_after_secs: u64,
        no_slot: bool,
        retries: u32,
    },
}

enum Plan {
    Full {
        count: u64,
        retry_after_secs: u64,
    },
    NoSlot {
        retry_after_secs: u64,
    },
    Write {
        key: String,
        cas: u32,
        record: SlotRecord,
    },
}

/// Reads the candidates in probe order, up to and including the first absent
/// key. A counter's records never lie beyond an absent candidate: a counter
/// only claims the first claimable candidate, absent keys are claimable, and
/// keys are never deleted, so every candidate before a record was present
/// when it was claimed and still is.
///
/// A record written more than `MAX_CLOCK_LEAD_SECS` after `now_secs` was
/// written before the host clock stepped back; it is read as a foreign value
/// (claimable, not counted), so that a clock step cannot hold slots, or push
/// every window, until the clock catches up.
fn read_candidates(
    store: &dyn SharedStore,
    table: Table,
    identity: &Identity,
    now_secs: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let horizon = now_secs.saturating_add(MAX_CLOCK_LEAD_SECS);
    let mut candidates = Vec::new();
    for index in table.probe(identity) {
        let key = table.slot_key(index);
        let entry = store.get(&key)?;
        let record = entry
            .as_ref()
            .and_then(|entry| SlotRecord::decode(&entry.value))
            .filter(|record| record.written_at <= horizon);
        let absent = entry.is_none();
        candidates.push(Candidate { key, entry, record });
        if absent {
            break;
        }
    }
    Ok(candidates)
}

fn owned(candidates: &[Candidate], owner: u128) -> impl Iterator<Item = (&Candidate, SlotRecord)> {
    candidates
        .iter()
        .filter_map(move |candidate| match candidate.record {
            Some(record) if record.owner == owner => Some((candidate, record)),
            _ => None,
        })
}

/// The caller's clock, or the latest time a candidate was written at.
fn clock(candidates: &[Candidate], now_secs: u64) -> u64 {
    candidates
        .iter()
        .filter_map(|candidate| candidate.record)
        .map(|record| record.written_at)
        .fold(now_secs, u64::max)
}

fn owned_count(candidates: &[Candidate], owner: u128, span: Span) -> u64 {
    owned(candidates, owner)
        .filter(|(_, record)| record.overlaps(span.start, span.end))
        .fold(0u64, |sum, (_, record)| sum.saturating_add(record.count))
}

/// What to do with the candidates as read; see the probe rule in `slot`.
fn plan(candidates: &[Candidate], owner: u128, window: Window, now_secs: u64, max: u64) -> Plan {
    let clock = clock(candidates, now_secs);
    let span = Span::of(window, clock);
    let count = owned_count(candidates, owner, span);
    if count >= max {
        // Counts carried from an overlapping longer window last until it ends.
        let until = owned(candidates, owner)
            .filter(|(_, record)| record.overlaps(span.start, span.end) && record.count > 0)
            .map(|(_, record)| record.window_end)
            .fold(span.end, u64::max);
        return Plan::Full {
            count,
            retry_after_secs: until.saturating_sub(now_secs).max(1),
        };
    }
    let target = owned(candidates, owner)
        .find(|(_, record)| record.overlaps(span.start, span.end))
        .or_else(|| owned(candidates, owner).next());
    if let Some((candidate, record)) = target {
        let current = record.overlaps(span.start, span.end);
        let kept = if current { record.count } else { 0 };
        return Plan::Write {
            key: candidate.key.clone(),
            cas: candidate
                .entry
                .as_ref()
                .map_or(ABSENT_TOKEN, |entry| entry.cas),
            record: SlotRecord {
                owner,
                window_start: span.start,
                window_end: span.end,
                count: kept.saturating_add(1),
                written_at: clock,
            },
        };
    }
    let fresh = SlotRecord {
        owner,
        window_start: span.start,
        window_end: span.end,
        count: 1,
        written_at: clock,
    };
    for candidate in candidates {
        let cas = match (&candidate.entry, candidate.record) {
            (None, _) => ABSENT_TOKEN,
            (Some(entry), None) => entry.cas,
            (Some(entry), Some(record)) if record.expired(clock) => entry.cas,
            (Some(_), Some(_)) => continue,
        };
        return Plan::Write {
            key: candidate.key.clone(),
            cas,
            record: fresh,
        };
    }
    let first_end = candidates
        .iter()
        .filter_map(|candidate| candidate.record)
        .map(|record| record.window_end)
        .min()
        .unwrap_or(now_secs);
    Plan::NoSlot {
        retry_after_secs: first_end.saturating_sub(now_secs).max(1),
    }
}

fn refused(plan: &Plan, retries: u32) -> Option<Step> {
    match plan {
        Plan::Full {
            count,
            retry_after_secs,
        } => Some(Step::Refused {
            count: *count,
            retry_after_secs: *retry_after_secs,
            no_slot: false,
            retries,
        }),
        Plan::NoSlot { retry_after_secs } => Some(Step::Refused {
            count: 0,
            retry_after_secs: *retry_after_secs,
            no_slot: true,
            retries,
        }),
        Plan::Write { .. } => None,
    }
}

/// Reads a counter without taking from it.
fn peek(
    store: &dyn SharedStore,
    table: Table,
    now_secs: u64,
    spec: &CounterSpec,
) -> Result<Step, StoreError> {
    let (owner, candidates) = read_counter(store, table, now_secs, spec)?;
    let plan = plan(&candidates, owner, spec.window, now_secs, spec.max);
    Ok(refused(&plan, 0).unwrap_or(Step::Taken {
        taken: None,
        retries: 0,
    }))
}

/// The slots that may hold the counter `spec` names, and its owner mark.
fn read_counter(
    store: &dyn SharedStore,
    table: Table,
    now_secs: u64,
    spec: &CounterSpec,
) -> Result<(u128, Vec<Candidate>), StoreError> {
    let identity = table.identity(&spec.key);
    let candidates = read_candidates(store, table, &identity, now_secs)?;
    Ok((identity.owner, candidates))
}

fn take_one(
    store: &dyn SharedStore,
    table: Table,
    now_secs: u64,
    spec: &CounterSpec,
) -> Result<Step, StoreError> {
    let identity = table.identity(&spec.key);
    let mut retries = 0u32;
    for _ in 0..MAX_CAS_ATTEMPTS {
        let candidates = read_candidates(store, table, &identity, now_secs)?;
        let plan = plan(&candidates, identity.owner, spec.window, now_secs, spec.max);
        if let Some(step) = refused(&plan, retries) {
            return Ok(step);
        }
        let Plan::Write { key, cas, record } = plan else {
            continue;
        };
        match store.set(&key, &record.encode(), Some(cas)) {
            Ok(()) => {}
            Err(StoreError::CasMismatch) => {
                retries = retries.saturating_add(1);
                continue;
            }
            Err(error) => return Err(error),
        }
        let taken = Taken {
            slot_key: key,
            owner: identity.owner,
            window_start: record.window_start,
            window_end: record.window_end,
        };
        match confirmed(store, table, &identity, &taken, spec.max, now_secs) {
            Ok(true) => {
                return Ok(Step::Taken {
                    taken: Some(taken),
                    retries,
                })
            }
            Ok(false) => {
                give_back(store, &taken)?;
                retries = retries.saturating_add(1);
            }
            Err(error) => {
                if let Err(give_back_error) = give_back(store, &taken) {
                    log::warn!(
                        "counter unit on {} not given back: {give_back_error}",
                        taken.slot_key
                    );
                }
                return Err(error);
            }
        }
    }
    Err(StoreError::Host(format!(
        "compare-and-swap on counter slots failed {MAX_CAS_ATTEMPTS} times"
    )))
}

/// Whether a unit just written may be kept: a fresh scan of the candidates,
/// after the write, finds at most `max` units for the owner in the window,
/// and no sign that the window has ended (a record written at or after its
/// end).
///
/// Normally the owner has one record and the scan finds what the write left.
/// But a counter can end up with two records for one window: two workers
/// with clocks a second apart disagree about whether another owner's window
/// has ended, and claim different candidates for the same owner. Then two
/// writers can each count a different record stale and both pass `max`.
/// Checking after writing closes that: a unit is kept only if a scan that
/// started after every unit kept before it was written, and counts them all,
/// finds room. So the units kept never exceed `max`; a unit that fails the
/// check is given back and the attempt repeated.
fn confirmed(
    store: &dyn SharedStore,
    table: Table,
    identity: &Identity,
    taken: &Taken,
    max: u64,
    now_secs: u64,
) -> Result<bool, StoreError> {
    let candidates = read_candidates(store, table, identity, now_secs)?;
    let ended = candidates
        .iter()
        .filter_map(|candidate| candidate.record)
        .any(|record| record.written_at >= taken.window_end);
    let span = Span {
        start: taken.window_start,
        end: taken.window_end,
    };
    Ok(!ended && owned_count(&candidates, taken.owner, span) <= max)
}

/// Gives one unit back to the slot, owner and window it was taken from.
fn give_back(store: &dyn SharedStore, taken: &Taken) -> Result<(), StoreError> {
    for _ in 0..MAX_CAS_ATTEMPTS {
        let Some(entry) = store.get(&taken.slot_key)? else {
            return Ok(());
        };
        let Some(record) = SlotRecord::decode(&entry.value) else {
            return Ok(());
        };
        if record.owner != taken.owner
            || record.window_start != taken.window_start
            || record.window_end != taken.window_end
            || record.count == 0
        {
            return Ok(());
        }
        // A slot back at zero is freed at once: its window ends now, so any
        // counter may claim it (the owner too, as a rolled-over window).
        let next = match record.count - 1 {
            0 => SlotRecord {
                count: 0,
                window_end: record.window_start,
                ..record
            },
            count => SlotRecord { count, ..record },
        };
        match store.set(&taken.slot_key, &next.encode(), Some(entry.cas)) {
            Ok(()) => return Ok(()),
            Err(StoreError::CasMismatch) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Host(format!(
        "compare-and-swap on {} failed {MAX_CAS_ATTEMPTS} times",
        taken.slot_key
    )))
}
