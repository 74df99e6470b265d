//! The course a stop takes, computed from the node's spec: pure, so the cockpit's confirm line
//! shows exactly what the engine will do.

use crate::event::{PlanStage, Signal, StageAction, StopMode, StopPlan};
use crate::manifest::NodeSpec;
use crate::state::{NodeState, State};
use std::collections::BTreeMap;

/// Per-request changes to a node's plan (`gracewatch stop --grace/--signal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub grace_ms: Option<u64>,
    pub signal: Option<Signal>,
}

/// The plan a stop of `node` takes: what the engine carries out and what the cockpit's confirm
/// line shows, from this one function.
pub(crate) fn for_node(node: &NodeState, mode: StopMode, overrides: Overrides) -> StopPlan {
    match mode {
        StopMode::Graceful => graceful(&node.spec, node.listens_for_stop(), overrides),
        StopMode::Force => forced(&node.spec),
    }
}

/// The order of a stop of everything: the nodes it stops (those started and not exited, from
/// [`State::alive_nodes`]), in tiers, and the nodes each waits for (its dependents).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllOrder {
    pub nodes: Vec<String>,
    pub tiers: Vec<Vec<String>>,
    pub waits: BTreeMap<String, Vec<String>>,
}

impl AllOrder {
    /// `web, lone now; db after app` (a forced stop: every node at once, `a, b`).
    pub(crate) fn describe(&self) -> String {
        crate::state::stop_all_order(&self.tiers, &self.waits)
    }
}

/// How a stop of everything goes now: in reverse dependency order, or (`force`) every node at
/// once. The one place that says which nodes a stop-all stops and in which order: the engine,
/// the confirm and quit lines read it.
pub(crate) fn stop_all(state: &State, force: bool) -> AllOrder {
    let nodes = state.alive_nodes();
    if force {
        return AllOrder { tiers: vec![nodes.clone()], nodes, waits: BTreeMap::new() };
    }
    let specs: Vec<NodeSpec> = state.nodes.values().map(|n| n.spec.clone()).collect();
    let tiers = crate::manifest::order::stop_tiers(&specs, &nodes);
    let waits = crate::manifest::order::stop_waits(&specs, &tiers);
    AllOrder { nodes, tiers, waits }
}

/// A graceful stop: the stop message first when the node listens for it (for at most half of
/// the grace period), then the stop signal, then each escalation stage that fits, then SIGKILL
/// at the end of grace.
///
/// `overrides.signal` replaces the stop signal: the first signal stage sends it, the
/// escalation stages keep their times, and one that would send that same signal again is
/// dropped (`--signal SIGTERM` on a plan `SIGINT → SIGTERM @5s` gives `SIGTERM → SIGKILL @10s`,
/// never `SIGTERM → SIGTERM @5s`). Overriding with the manifest's own stop signal changes
/// nothing. SIGKILL as the signal makes the plan a kill (after the stop message, if any).
pub fn graceful(spec: &NodeSpec, listens_stop: bool, overrides: Overrides) -> StopPlan {
    let grace_ms = overrides.grace_ms.unwrap_or(spec.grace_ms).max(1);
    let signal = overrides.signal.unwrap_or(spec.stop_signal);
    let replaced = (signal != spec.stop_signal).then_some(signal);
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
        if replaced == Some(esc.signal) {
            continue;
        }
        stages.push(PlanStage { at_ms: at, action: StageAction::Signal(esc.signal) });
    }
    stages.push(PlanStage { at_ms: grace_ms, action: StageAction::Kill });
    StopPlan { grace_ms, stages, drain_extension_ms: spec.drain_extension_ms, group: spec.group }
}

/// A forced stop: SIGKILL now.
pub(crate) fn forced(spec: &NodeSpec) -> StopPlan {
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

    /// `--signal` replaces the stop signal; the escalations keep their times, and one that
    /// would repeat the new signal goes.
    #[test]
    fn a_signal_override_replaces_the_stop_signal_and_never_repeats_it() {
        let mut spec = NodeSpec::with_defaults("a", vec!["x".into()]);
        spec.stop_signal = Signal::INT;
        spec.escalate = vec![
            Escalation { signal: Signal::TERM, after_ms: 5000 },
            Escalation { signal: Signal::QUIT, after_ms: 2000 },
        ];
        let with = |spec: &NodeSpec, signal| {
            graceful(spec, false, Overrides { grace_ms: None, signal: Some(signal) }).describe()
        };
        assert_eq!(
            graceful(&spec, false, Overrides::default()).describe(),
            "SIGINT → SIGTERM @5s → SIGQUIT @7s → SIGKILL @10s"
        );
        assert_eq!(with(&spec, Signal::TERM), "SIGTERM → SIGQUIT @7s → SIGKILL @10s");
        assert_eq!(with(&spec, Signal::USR1), "SIGUSR1 → SIGTERM @5s → SIGQUIT @7s → SIGKILL @10s");
        // The manifest's own signal: the manifest's plan, repeats and all.
        assert_eq!(with(&spec, Signal::INT), "SIGINT → SIGTERM @5s → SIGQUIT @7s → SIGKILL @10s");
        assert_eq!(with(&spec, Signal::KILL), "SIGKILL");
        // A plan that asks for the same signal twice itself (a second Ctrl-C) keeps it.
        spec.escalate = vec![Escalation { signal: Signal::INT, after_ms: 3000 }];
        assert_eq!(graceful(&spec, false, Overrides::default()).describe(), "SIGINT → SIGINT @3s → SIGKILL @10s");
        assert_eq!(with(&spec, Signal::TERM), "SIGTERM → SIGINT @3s → SIGKILL @10s");
    }
}
