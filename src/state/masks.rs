//! What the fold keeps of each process's runs of blocked reads ([`crate::event::MaskRuns`]):
//! when each run was first seen, by the `t` of the events that showed it. The probe counts the
//! reads; how long a run has lasted is measured here, from the journal, so that live, replay and
//! the report agree.

use crate::event::{MaskRun, MaskRuns, Signal};
use serde::{Deserialize, Serialize};

/// One process's runs, as of its latest sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskSeen {
    /// `t` of the process's latest sample.
    pub at: u64,
    /// Per signal blocked on every thread in consecutive reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<RunSeen>,
    /// Per signal pending while blocked on every thread in consecutive reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<RunSeen>,
}

/// A run of one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSeen {
    pub signal: Signal,
    /// `t` of the first sample that showed this run.
    pub since: u64,
    /// Consecutive reads that found it so, as of the latest sample.
    pub reads: u32,
    /// Which run it is ([`MaskRun::started`]; 0 when the journal does not say).
    #[serde(default)]
    pub started: u64,
}

impl MaskSeen {
    /// A sample of the process at `t`.
    pub fn update(&mut self, t: u64, runs: &MaskRuns) {
        self.at = t;
        self.blocked = follow(&self.blocked, &runs.blocked, t);
        self.held = follow(&self.held, &runs.held, t);
    }

    /// The run of `sig` blocked on every thread, if one goes on.
    pub fn blocked(&self, sig: Signal) -> Option<RunSeen> {
        self.blocked.iter().find(|r| r.signal == sig).copied()
    }

    /// The run of `sig` pending while blocked on every thread, if one goes on.
    pub fn held(&self, sig: Signal) -> Option<RunSeen> {
        self.held.iter().find(|r| r.signal == sig).copied()
    }

    /// How long `run` has lasted, as of the latest sample (ns).
    pub fn lasted(&self, run: RunSeen) -> u64 {
        self.at.saturating_sub(run.since)
    }
}

/// A run goes on while its signal is in a published run of the same number (the probe numbers
/// each run by the read that started it: one that ended and a new one that grew as long between
/// two samples are two runs). Journals without numbers: while its count did not go down.
fn follow(before: &[RunSeen], now: &[MaskRun], t: u64) -> Vec<RunSeen> {
    now.iter()
        .flat_map(|run| run.signals.iter().map(move |signal| (signal, run.reads, run.started)))
        .map(|(signal, reads, started)| {
            let same =
                |r: &&RunSeen| r.signal == signal && if started == 0 { r.reads <= reads } else { r.started == started };
            let since = before.iter().find(same).map_or(t, |r| r.since);
            RunSeen { signal, since, reads, started }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(blocked: &[(Signal, u32)]) -> MaskRuns {
        numbered(blocked, 0)
    }

    fn numbered(blocked: &[(Signal, u32)], started: u64) -> MaskRuns {
        MaskRuns {
            blocked: blocked
                .iter()
                .map(|(s, r)| MaskRun { signals: [*s].into_iter().collect(), reads: *r, started })
                .collect(),
            held: Vec::new(),
        }
    }

    /// A block that ended and a new one that grew as long between two samples (samples held
    /// back meanwhile): the new one is timed from its own first sample.
    #[test]
    fn a_new_run_as_long_as_the_old_one_is_a_new_run() {
        let mut m = MaskSeen::default();
        m.update(100, &numbered(&[(Signal::TERM, 2)], 7));
        m.update(900, &numbered(&[(Signal::TERM, 3)], 7));
        assert_eq!(m.blocked(Signal::TERM).unwrap().since, 100, "the same run goes on");
        m.update(1_000, &numbered(&[(Signal::TERM, 3)], 12));
        assert_eq!(m.blocked(Signal::TERM).unwrap().since, 1_000, "another run, however long");
    }

    #[test]
    fn a_run_is_timed_from_the_first_sample_that_showed_it() {
        let mut m = MaskSeen::default();
        m.update(100, &runs(&[(Signal::TERM, 2)]));
        m.update(350, &runs(&[(Signal::TERM, 3)]));
        let run = m.blocked(Signal::TERM).unwrap();
        assert_eq!((run.since, run.reads, m.lasted(run)), (100, 3, 250));
        // An unchanged count (the probe stopped counting, or something else changed) goes on.
        m.update(900, &runs(&[(Signal::TERM, 3)]));
        assert_eq!(m.blocked(Signal::TERM).unwrap().since, 100);
        // A lower count is a new run; no run, none.
        m.update(1000, &runs(&[(Signal::TERM, 2)]));
        assert_eq!(m.blocked(Signal::TERM).unwrap().since, 1000);
        m.update(1100, &MaskRuns::default());
        assert_eq!(m.blocked(Signal::TERM), None);
        assert_eq!(m.held(Signal::TERM), None);
    }
}
