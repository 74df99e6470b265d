//! The course of one node's stop, as the fold knows it.

use crate::event::{Requester, Signal, SignalTarget, StageAction, StopMode, StopPlan};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopProgress {
    pub requested_at: u64,
    pub by: Requester,
    pub mode: StopMode,
    pub plan: StopPlan,
    /// The stage in progress (None until the first stage is entered).
    pub stage: Option<StageAction>,
    /// How many stages have been entered.
    pub stage_index: usize,
    pub stage_entered_at: Option<u64>,
    /// When the next stage starts (for the last stage: when the kill lands).
    pub deadline: Option<u64>,
    /// When SIGKILL lands: request + grace, moved out by drain extensions.
    pub kill_at: u64,
    pub extensions: u32,
    pub message_sent_at: Option<u64>,
    pub acked_at: Option<u64>,
    /// When the plan last sent SIGCONT (after each of its signals) without an error.
    #[serde(default)]
    pub continued_at: Option<u64>,
    pub timeline: Vec<StopStep>,
}

/// One thing that happened during a stop, for the detail pane and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopStep {
    pub t: u64,
    pub what: StepKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Requested { by: Requester, mode: StopMode },
    Stage { action: StageAction },
    MessageSent,
    Signal { signal: Signal, target: SignalTarget, error: Option<String> },
    Acked,
    Extended { deadline: u64, pending_tokens: u32 },
    Exited { cause: crate::event::ExitCause },
}

impl StopStep {
    /// One line for timelines: `SIGTERM sent to process group`, `stop acknowledged after 120ms`
    /// (its words are in `super::sentence`).
    pub fn describe(&self, requested_at: u64) -> String {
        super::sentence::step(self, requested_at)
    }
}

impl StopProgress {
    /// `kill_at`: as the `StopRequested` event carries it (see [`StopProgress::kill_at_of`]).
    pub fn new(t: u64, by: Requester, mode: StopMode, plan: StopPlan, kill_at: u64) -> Self {
        StopProgress {
            requested_at: t,
            by,
            mode,
            plan,
            stage: None,
            stage_index: 0,
            stage_entered_at: None,
            deadline: None,
            kill_at,
            extensions: 0,
            message_sent_at: None,
            acked_at: None,
            continued_at: None,
            timeline: vec![StopStep { t, what: StepKind::Requested { by, mode } }],
        }
    }

    /// When SIGKILL lands for a stop requested at `t` whose event does not say (journals
    /// written before `StopRequested` carried `kill_at`): request + grace.
    pub fn kill_at_of(t: u64, plan: &StopPlan) -> u64 {
        t + plan.grace_ms * 1_000_000
    }

    /// Nanoseconds left in the current stage at `now`.
    pub fn stage_remaining(&self, now: u64) -> Option<u64> {
        self.deadline.map(|d| d.saturating_sub(now))
    }

    /// Nanoseconds left until SIGKILL at `now`.
    pub fn kill_remaining(&self, now: u64) -> u64 {
        self.kill_at.saturating_sub(now)
    }

    /// Latency of the cooperative stop acknowledgement.
    pub fn ack_latency(&self) -> Option<u64> {
        Some(self.acked_at?.saturating_sub(self.message_sent_at.unwrap_or(self.requested_at)))
    }

    pub(crate) fn push(&mut self, t: u64, what: StepKind) {
        if self.timeline.len() < 256 {
            self.timeline.push(StopStep { t, what });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventKind, Header};
    use crate::manifest::NodeSpec;
    use crate::state::Fold;

    fn folded(stop_line: &str) -> u64 {
        let spec = NodeSpec::with_defaults("a", vec!["x".into()]);
        // kill_at needs no lints: an empty set.
        let mut state = Fold::new(crate::state::Lints::new(&[]));
        state.apply(&Event {
            seq: 0,
            t: 0,
            ev: EventKind::SessionStarted(Box::new(Header::synthetic("s", vec![spec]))),
        });
        state.apply(&Event {
            seq: 1,
            t: 1_000_000,
            ev: EventKind::NodeSpawned { node: "a".into(), pid: 10, pgid: 10, argv: vec![] },
        });
        let ev: Event = serde_json::from_str(stop_line).unwrap();
        state.apply(&ev);
        state.node("a").and_then(|n| n.stop.as_ref()).map(|s| s.kill_at).unwrap()
    }

    fn line(kill_at: Option<u64>) -> String {
        let spec = NodeSpec::with_defaults("a", vec!["x".into()]);
        let plan = crate::stop_engine::plan::graceful(&spec, false, crate::stop_engine::Overrides::default());
        let by = crate::event::Requester::Ctl;
        let ev =
            EventKind::StopRequested { node: "a".into(), by, mode: crate::event::StopMode::Graceful, plan, kill_at };
        serde_json::to_string(&Event { seq: 2, t: 5_000_000, ev }).unwrap()
    }

    /// A journal written before `StopRequested` carried `kill_at` still folds: the kill lands at
    /// the request's time + grace, as it always did; a newer one folds to the time it carries.
    #[test]
    fn kill_at_comes_from_the_event_and_old_journals_without_it_still_fold() {
        let old = line(None);
        assert!(!old.contains("kill_at"), "{old}");
        assert_eq!(folded(&old), 10_005_000_000, "request + the default 10 s grace");
        let new = line(Some(10_004_000_000));
        assert!(new.contains(r#""kill_at":10004000000"#), "{new}");
        assert_eq!(folded(&new), 10_004_000_000);
    }
}
