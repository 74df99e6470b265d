//! The course a stop takes, computed from the node's spec: pure, so the cockpit's confirm line
//! shows exactly what the engine will do.

use crate::event::{PlanStage, Signal, StageAction, StopPlan};
use crate::manifest::NodeSpec;

/// Per-request changes to a node's plan (`gracewatch stop --grace/--signal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub grace_ms: Option<u64>,
    pub signal: Option<Signal>,
}

/// A graceful stop: the stop message first when the node listens for it (for at most half of
/// the grace period), then the stop signal, then each escalation stage that fits, then SIGKILL
/// at the end of grace.
pub fn graceful(spec: &NodeSpec, listens_stop: bool, overrides: Overrides) -> StopPlan {
    let grace_ms = overrides.grace_ms.unwrap_or(spec.grace_ms).max(1);
    let signal = overrides.signal.unwrap_or(spec.stop_signal);
    let mut stages = Vec::new();
    let mut at = 0;
    if listens_stop {
        stages.push(PlanStage { at_ms: 0, action: StageAction::Message });
        at = spec.cooperative_ms.min(grace_ms / 2);
    }
    if signal == Signal::KILL {
        stages.push(PlanStage { at_ms: at, action: StageAction::Kill });
        return StopPlan { grace_ms: at, stages, drain_extension_ms: 0, group: spec.group };
    }
    stages.push(PlanStage { at_ms: at, action: StageAction::Signal(signal) });
    for esc in &spec.escalate {
        at += esc.after_ms;
        if at >= grace_ms {
            break;
        }
        stages.push(PlanStage { at_ms: at, action: StageAction::Signal(esc.signal) });
    }
    stages.push(PlanStage { at_ms: grace_ms, action: StageAction::Kill });
    StopPlan { grace_ms, stages, drain_extension_ms: spec.drain_extension_ms, group: spec.group }
}

/// A forced stop: SIGKILL now.
pub fn forced(spec: &NodeSpec) -> StopPlan {
    StopPlan {
        grace_ms: 0,
        stages: vec![PlanStage { at_ms: 0, action: StageAction::Kill }],
        drain_extension_ms: 0,
        group: spec.group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Escalation;

    #[test]
    fn plain_node_gets_signal_then_kill() {
        let spec = NodeSpec::with_defaults("a", vec!["x".into()]);
        let p = graceful(&spec, false, Overrides::default());
        assert_eq!(p.describe(), "SIGTERM → SIGKILL @10s");
    }

    #[test]
    fn listening_node_gets_the_message_first_and_escalations_fit_in_grace() {
        let mut spec = NodeSpec::with_defaults("a", vec!["x".into()]);
        spec.escalate = vec![
            Escalation { signal: Signal::INT, after_ms: 3000 },
            Escalation { signal: Signal::QUIT, after_ms: 9000 },
        ];
        let p = graceful(&spec, true, Overrides::default());
        assert_eq!(p.describe(), "stop message → SIGTERM @2s → SIGINT @5s → SIGKILL @10s");
        let p = graceful(&spec, true, Overrides { grace_ms: Some(1000), signal: Some(Signal::USR1) });
        assert_eq!(p.describe(), "stop message → SIGUSR1 @500ms → SIGKILL @1s");
        assert_eq!(forced(&spec).describe(), "SIGKILL");
    }
}
