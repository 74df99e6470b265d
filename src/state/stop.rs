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
    /// (its words are in [`super::sentence`]).
    pub fn describe(&self, requested_at: u64) -> String {
        super::sentence::step(self, requested_at)
    }
}

impl StopProgress {
    pub fn new(t: u64, by: Requester, mode: StopMode, plan: StopPlan) -> Self {
        let kill_at = t + plan.grace_ms * 1_000_000;
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
