//! Adaptive cadence, per watched node.
//!
//! - *Intense* (a cockpit attached or a stop running): a full sample every `fast` interval.
//! - *Hot* (something changed in this node less than [`HOT`] ago): a round every `fast`
//!   interval, but a cheap one (each process's `stat`, plus children lists when the kernel
//!   connector is not reporting forks); a process whose `stat` changed, whose thread masks
//!   wait for confirmation, or with a signal blocked on every thread whose run of reads is not
//!   judged yet (`masks`), gets a full sample in the same round (and the next round comes within
//!   the fast interval, hot or not: for a run, at an uneven interval, `masks::spread`).
//! - *Idle*: cheap rounds, 1 s after the last change, then doubling up to `idle_max`; a full
//!   sample every [`FULL_REFRESH`] so that what `stat` cannot show (the masks and names of
//!   threads other than the main one) is never older than that.
//!
//! Everything here is pure: instants come in as arguments.

use std::time::{Duration, Instant};

/// How long a node stays hot after a change.
pub(super) const HOT: Duration = Duration::from_secs(2);
/// First idle interval after a change.
pub(super) const IDLE_START: Duration = Duration::from_secs(1);
/// Longest time between two full samples of an idle node.
pub(super) const FULL_REFRESH: Duration = Duration::from_secs(30);

/// What a round of one node reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RoundKind {
    /// `stat` of every process (and children lists); full samples only of what changed.
    Cheap,
    /// Every file of every process.
    Full,
}

#[derive(Debug, Clone)]
pub(super) struct Cadence {
    fast: Duration,
    idle_max: Duration,
    /// The current idle interval (doubles while nothing changes).
    step: Duration,
    pub next: Instant,
    /// The interval that set `next`.
    gap: Duration,
    hot_until: Option<Instant>,
    last_full: Instant,
}

impl Cadence {
    /// A node just taken under watch: due at once (a full sample).
    pub(super) fn new(now: Instant, fast: Duration, idle_max: Duration) -> Cadence {
        let fast = fast.max(Duration::from_millis(10));
        Cadence {
            fast,
            idle_max: idle_max.max(fast),
            step: IDLE_START.min(idle_max.max(fast)),
            next: now,
            gap: fast,
            hot_until: None,
            last_full: now,
        }
    }

    pub(super) fn is_hot(&self, now: Instant) -> bool {
        self.hot_until.is_some_and(|t| now < t)
    }

    /// Something changed: sample closely for a while.
    pub(super) fn changed(&mut self, now: Instant) {
        self.hot_until = Some(now + HOT);
        self.step = IDLE_START.min(self.idle_max);
        if now + self.fast < self.next {
            self.next = now + self.fast;
            self.gap = self.fast;
        }
    }

    /// Be due again within `after` (if not sooner already).
    pub(super) fn look_again(&mut self, now: Instant, after: Duration) {
        if now + after < self.next {
            self.next = now + after;
            self.gap = after;
        }
    }

    /// Be due at once (`sample_now`, a watcher attached).
    pub(super) fn due_now(&mut self, now: Instant) {
        self.next = now;
        self.gap = Duration::ZERO;
    }

    /// Is a round due? Rounds a little early are coalesced with others (`slack`) so that many
    /// idle nodes wake the thread once, not once each.
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.next <= now + self.gap / 4
    }

    /// The kind of the round about to run.
    pub(super) fn kind(&self, now: Instant, intense: bool) -> RoundKind {
        if intense || now.duration_since(self.last_full) >= FULL_REFRESH { RoundKind::Full } else { RoundKind::Cheap }
    }

    /// A round ran; `changed` if it found anything new.
    pub(super) fn ran(&mut self, now: Instant, kind: RoundKind, intense: bool, changed: bool) {
        if kind == RoundKind::Full {
            self.last_full = now;
        }
        if changed {
            self.hot_until = Some(now + HOT);
            self.step = IDLE_START.min(self.idle_max);
        }
        if intense || self.is_hot(now) {
            self.gap = self.fast;
        } else {
            self.gap = self.step;
            self.step = (self.step * 2).min(self.idle_max);
        }
        self.next = now + self.gap;
    }

    /// A full sample happened outside a round (e.g. `sample_now`).
    pub(super) fn full_done(&mut self, now: Instant) {
        self.last_full = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(250);
    const IDLE: Duration = Duration::from_secs(5);

    #[test]
    fn backs_off_from_one_second_to_the_idle_interval() {
        let t0 = Instant::now();
        let mut c = Cadence::new(t0, FAST, IDLE);
        assert!(c.is_due(t0));
        assert_eq!(c.kind(t0, false), RoundKind::Cheap);
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            c.ran(now, RoundKind::Cheap, false, false);
            gaps.push(c.next - now);
            now = c.next;
        }
        let secs: Vec<u64> = gaps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 5, 5, 5]);
    }

    #[test]
    fn a_change_makes_it_fast_for_a_while_then_idle_again() {
        let t0 = Instant::now();
        let mut c = Cadence::new(t0, FAST, IDLE);
        c.ran(t0, RoundKind::Full, false, true);
        assert_eq!(c.next - t0, FAST);
        assert!(c.is_hot(t0 + FAST));
        let later = t0 + HOT + FAST;
        assert!(!c.is_hot(later));
        c.ran(later, RoundKind::Cheap, false, false);
        assert_eq!(c.next - later, IDLE_START);
    }

    #[test]
    fn intense_means_full_rounds_at_the_fast_interval() {
        let t0 = Instant::now();
        let mut c = Cadence::new(t0, FAST, IDLE);
        assert_eq!(c.kind(t0, true), RoundKind::Full);
        c.ran(t0, RoundKind::Full, true, false);
        assert_eq!(c.next - t0, FAST);
    }

    #[test]
    fn idle_nodes_get_a_full_refresh_now_and_then() {
        let t0 = Instant::now();
        let c = Cadence::new(t0, FAST, IDLE);
        assert_eq!(c.kind(t0 + FULL_REFRESH, false), RoundKind::Full);
    }

    #[test]
    fn nearly_due_rounds_coalesce() {
        let t0 = Instant::now();
        let mut c = Cadence::new(t0, FAST, IDLE);
        c.ran(t0, RoundKind::Cheap, false, false);
        // Due in 1 s; 200 ms early is within a quarter of the step.
        assert!(c.is_due(t0 + Duration::from_millis(800)));
        assert!(!c.is_due(t0 + Duration::from_millis(500)));
    }
}
