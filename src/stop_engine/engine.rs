//! The stop engine as a state machine. It never touches a process or a clock: the supervisor
//! gives it `now` and the folded [`State`], and executes the [`Effect`]s it returns, in order.

use super::plan::{self, Overrides};
use super::request::{StopRequest, StopTargets};
use crate::event::{EventKind, ExitCause, Requester, Signal, StageAction, StopMode, StopPlan};
use crate::state::{NodeState, Phase, State};
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;
/// A token released within this window counts as "still draining".
const DRAIN_WINDOW: u64 = 1_000 * MS;
/// Each drain extension moves the kill deadline out by this much (bounded by the plan).
const DRAIN_STEP: u64 = 1_000 * MS;

/// What the supervisor must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// Append this event (stamped now).
    Emit(EventKind),
    /// Send the cooperative stop message on the node's socket.
    SendStopMessage { node: String, signal_in_ms: u64, kill_in_ms: u64 },
    /// Send a signal to the node (to its group when the plan says so).
    Signal { node: String, signal: Signal, group: bool },
}

/// How the stop of one node was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Course {
    /// Its stop started, with this plan.
    Plan(StopPlan),
    /// (A stop-all) its stop starts once these nodes, which depend on it, have ended.
    After(Vec<String>),
    /// (A stop-all) its stop is already under way and goes on as it was.
    Unchanged,
}

impl Course {
    /// `SIGTERM → SIGKILL @10s`, `once app, web ended`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Course::Plan(plan) => plan.describe(),
            Course::After(after) => format!("once {} ended", after.join(", ")),
            Course::Unchanged => "after the nodes that depend on it".to_string(),
        }
    }
}

/// What a stop request started: each node accepted with its course, each refused with why,
/// and the effects to execute, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Submitted {
    pub accepted: Vec<(String, Course)>,
    pub refused: Vec<RequestError>,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    UnknownNode(String),
    AlreadyExited(String),
    NotStarted(String),
    AlreadyStopping(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::UnknownNode(n) => write!(f, "no node named {n:?}"),
            RequestError::AlreadyExited(n) => write!(f, "{n} has already exited"),
            RequestError::NotStarted(n) => write!(f, "{n} has not started"),
            RequestError::AlreadyStopping(n) => {
                write!(f, "{n} is already stopping (use --force to kill it now)")
            }
        }
    }
}

impl std::error::Error for RequestError {}

#[derive(Debug, Clone)]
struct Running {
    plan: StopPlan,
    requested_at: u64,
    /// Index of the next stage to enter.
    next: usize,
    /// When SIGKILL lands (moved out by drain extensions, never past `kill_bound`).
    kill_at: u64,
    kill_bound: u64,
    killed: Option<ExitCause>,
}

/// A stop-all in progress: the nodes whose stop has not started yet, each with the nodes it
/// waits for (its dependents: it starts once each of them has ended).
#[derive(Debug, Clone)]
struct AllRun {
    waiting: Vec<(String, Vec<String>)>,
    by: Requester,
    overrides: Overrides,
}

#[derive(Debug, Default)]
pub(crate) struct StopEngine {
    running: BTreeMap<String, Running>,
    all: Option<AllRun>,
}

impl StopEngine {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Nodes with a stop in progress.
    pub(crate) fn stopping(&self) -> usize {
        self.running.len()
    }

    /// Takes a stop request: starts the stop of each node it names (or of everything, in
    /// reverse dependency order), and says how each was taken. The effects start them.
    pub(crate) fn submit(&mut self, state: &State, req: &StopRequest, now: u64) -> Submitted {
        match &req.targets {
            StopTargets::All => self.request_all(state, req.force(), req.by, req.overrides, now),
            StopTargets::Nodes(nodes) => {
                let mut out = Submitted::default();
                for node in nodes {
                    match self.request(state, node, req.mode, req.by, req.overrides, now) {
                        Ok((plan, effects)) => {
                            out.accepted.push((node.clone(), Course::Plan(plan)));
                            out.effects.extend(effects);
                        }
                        Err(e) => out.refused.push(e),
                    }
                }
                out
            }
        }
    }

    /// Asks to stop one node: its plan, and the effects that start it.
    fn request(
        &mut self,
        state: &State,
        node: &str,
        mode: StopMode,
        by: Requester,
        overrides: Overrides,
        now: u64,
    ) -> Result<(StopPlan, Vec<Effect>), RequestError> {
        let n = state.node(node).ok_or_else(|| RequestError::UnknownNode(node.to_string()))?;
        match n.phase {
            Phase::Exited => return Err(RequestError::AlreadyExited(node.to_string())),
            Phase::Starting if n.pid.is_none() => {
                return Err(RequestError::NotStarted(node.to_string()));
            }
            _ => {}
        }
        if let Some(run) = self.running.get(node) {
            if mode == StopMode::Graceful || run.killed.is_some() {
                return Err(RequestError::AlreadyStopping(node.to_string()));
            }
        }
        let plan = plan::for_node(n, mode, overrides);
        // One clock read for the engine and the fold: the event carries the kill time.
        let kill_at = now + plan.grace_ms * MS;
        let mut effects = vec![Effect::Emit(EventKind::StopRequested {
            node: node.to_string(),
            by,
            mode,
            plan: plan.clone(),
            kill_at: Some(kill_at),
        })];
        let run = Running {
            kill_bound: kill_at + plan.drain_extension_ms * MS,
            plan: plan.clone(),
            requested_at: now,
            next: 0,
            kill_at,
            killed: None,
        };
        self.running.insert(node.to_string(), run);
        effects.extend(self.advance(state, node, now));
        Ok((plan, effects))
    }

    /// Asks to stop every node in reverse dependency order: each node's stop starts once every
    /// node that depends on it has ended (not a whole tier: an unrelated node's long grace
    /// holds nothing up). A second request while one runs (or `force`) kills everything left
    /// at once. Every node the stop is for is accepted, with how its stop goes.
    fn request_all(&mut self, state: &State, force: bool, by: Requester, overrides: Overrides, now: u64) -> Submitted {
        let escalate = force || self.all.is_some();
        let order = plan::stop_all(state, escalate);
        let mut out = Submitted::default();
        out.effects.push(Effect::Emit(EventKind::StopAllRequested {
            by,
            force: escalate,
            tiers: order.tiers.clone(),
            waits: order.waits.clone(),
        }));
        let mut started: BTreeMap<String, StopPlan> = BTreeMap::new();
        if escalate {
            for name in &order.nodes {
                if self.running.get(name).is_some_and(|r| r.killed.is_some()) {
                    continue;
                }
                if let Ok((plan, more)) = self.request(state, name, StopMode::Force, by, overrides, now) {
                    started.insert(name.clone(), plan);
                    out.effects.extend(more);
                }
            }
            self.all = Some(AllRun { waiting: Vec::new(), by, overrides });
        } else {
            let waiting = order
                .tiers
                .iter()
                .flatten()
                .map(|name| (name.clone(), order.waits.get(name).cloned().unwrap_or_default()))
                .collect();
            self.all = Some(AllRun { waiting, by, overrides });
            let (plans, more) = self.start_ready(state, now);
            started = plans;
            out.effects.extend(more);
        }
        out.accepted = order
            .nodes
            .into_iter()
            .map(|name| {
                let course = match (started.remove(&name), order.waits.get(&name)) {
                    (Some(plan), _) => Course::Plan(plan),
                    (None, Some(after)) => Course::After(after.clone()),
                    (None, None) => Course::Unchanged,
                };
                (name, course)
            })
            .collect();
        out
    }

    /// Starts the stop of each waiting node of a stop-all whose dependents have all ended: the
    /// plans started, and their effects.
    fn start_ready(&mut self, state: &State, now: u64) -> (BTreeMap<String, StopPlan>, Vec<Effect>) {
        let mut effects = Vec::new();
        let mut plans = BTreeMap::new();
        let Some(all) = &mut self.all else { return (plans, effects) };
        let ended = |n: &String| state.node(n).is_none_or(|n| n.phase == Phase::Exited);
        let (ready, still): (Vec<_>, Vec<_>) =
            std::mem::take(&mut all.waiting).into_iter().partition(|(_, waits)| waits.iter().all(ended));
        all.waiting = still;
        let (by, overrides) = (all.by, all.overrides);
        for (name, _) in ready {
            if self.running.contains_key(&name) {
                continue;
            }
            if let Ok((plan, more)) = self.request(state, &name, StopMode::Graceful, by, overrides, now) {
                plans.insert(name, plan);
                effects.extend(more);
            }
        }
        (plans, effects)
    }

    /// Enters every stage of `node` that is due at `now`.
    fn advance(&mut self, state: &State, node: &str, now: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(run) = self.running.get_mut(node) else {
            return effects;
        };
        let Some(n) = state.node(node) else {
            return effects;
        };
        while run.next < run.plan.stages.len() {
            let stage = run.plan.stages[run.next].clone();
            let due = if stage.action == StageAction::Kill { run.kill_at } else { run.requested_at + stage.at_ms * MS };
            if due > now {
                break;
            }
            if stage.action == StageAction::Kill && run.plan.grace_ms > 0 {
                if let Some(deadline) = drain_extension(run, n, now) {
                    run.kill_at = deadline;
                    effects.push(Effect::Emit(EventKind::GraceExtended {
                        node: node.to_string(),
                        deadline,
                        pending_tokens: n.tokens.pending() as u32,
                    }));
                    break;
                }
            }
            run.next += 1;
            let deadline = run
                .plan
                .stages
                .get(run.next)
                .map(|s| if s.action == StageAction::Kill { run.kill_at } else { run.requested_at + s.at_ms * MS });
            effects.push(Effect::Emit(EventKind::StageEntered {
                node: node.to_string(),
                stage: stage.action,
                deadline,
            }));
            match stage.action {
                StageAction::Message => {
                    let signal_at = deadline.unwrap_or(run.kill_at);
                    effects.push(Effect::SendStopMessage {
                        node: node.to_string(),
                        signal_in_ms: signal_at.saturating_sub(now) / MS,
                        kill_in_ms: run.kill_at.saturating_sub(now) / MS,
                    });
                }
                StageAction::Signal(signal) => {
                    effects.push(Effect::Signal { node: node.to_string(), signal, group: run.plan.group });
                    // A paused process (SIGSTOP, job control) would hold the signal pending
                    // until SIGKILL: resume it so that it can act on it, as systemd does.
                    if signal != Signal::CONT && !signal.pauses() {
                        effects.push(Effect::Signal {
                            node: node.to_string(),
                            signal: Signal::CONT,
                            group: run.plan.group,
                        });
                    }
                }
                StageAction::Kill => {
                    run.killed =
                        Some(if run.plan.grace_ms == 0 { ExitCause::ForceKilled } else { ExitCause::KilledAtDeadline });
                    effects.push(Effect::Signal {
                        node: node.to_string(),
                        signal: Signal::KILL,
                        group: run.plan.group,
                    });
                }
            }
        }
        effects
    }

    /// Enters every stage that is due, and starts the stops a stop-all can start now.
    pub(crate) fn tick(&mut self, state: &State, now: u64) -> Vec<Effect> {
        let names: Vec<String> = self.running.keys().cloned().collect();
        let mut effects = Vec::new();
        for name in names {
            effects.extend(self.advance(state, &name, now));
        }
        effects.extend(self.start_ready(state, now).1);
        effects
    }

    /// When the engine next needs a `tick`.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.running
            .values()
            .filter_map(|r| {
                let stage = r.plan.stages.get(r.next)?;
                Some(if stage.action == StageAction::Kill { r.kill_at } else { r.requested_at + stage.at_ms * MS })
            })
            .min()
    }

    /// A node's main process ended: how its stop (if any) ended. `sent`: a signal someone sent
    /// it outside a stop plan shortly before (the cockpit's `x`), and who. Call before folding
    /// the `NodeExited` event; follow with [`StopEngine::tick`] to move a stop-all along.
    pub(crate) fn on_exit(
        &mut self,
        node: &str,
        code: Option<i32>,
        signal: Option<Signal>,
        sent: Option<(Signal, Requester)>,
    ) -> ExitCause {
        // Without a status (a watched process, no kernel connector) assume the likely end.
        let unknown = code.is_none() && signal.is_none();
        match (self.running.remove(node), sent) {
            (Some(Running { killed: Some(cause), .. }), _) if signal == Some(Signal::KILL) || unknown => cause,
            // Killed by hand during its stop, before the plan's own kill.
            (Some(_), Some((Signal::KILL, by))) if signal == Some(Signal::KILL) => {
                ExitCause::Signalled { signal: Signal::KILL, by }
            }
            (Some(_), _) => ExitCause::Stopped,
            (None, Some((signal, by))) => ExitCause::Signalled { signal, by },
            (None, None) if unknown || (code == Some(0) && signal.is_none()) => ExitCause::Exited,
            (None, None) if self.all.is_some() => ExitCause::Stopped,
            (None, None) => ExitCause::Crashed,
        }
    }

    /// The stop-all finished (every node's stop started and every node exited).
    pub(crate) fn all_done(&self, state: &State) -> bool {
        self.all.as_ref().is_some_and(|a| a.waiting.is_empty())
            && self.running.is_empty()
            && state.nodes.values().all(|n| n.phase == Phase::Exited || n.pid.is_none())
    }
}

/// Moves the kill deadline out while tokens drain: pending tokens, one released within the
/// last second, and room left under the bound.
fn drain_extension(run: &Running, n: &NodeState, now: u64) -> Option<u64> {
    if n.tokens.pending() == 0 || run.kill_bound <= run.kill_at {
        return None;
    }
    let recent = n.tokens.last_release_at.is_some_and(|t| now.saturating_sub(t) <= DRAIN_WINDOW);
    recent.then(|| (now + DRAIN_STEP).min(run.kill_bound)).filter(|d| *d > now)
}

#[cfg(test)]
mod tests;
