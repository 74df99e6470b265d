//! The course of stops.

use super::At;
use crate::event::{Requester, Signal, SignalTarget, StageAction, StopMode, StopPlan};
use crate::state::{LogSource, Phase, SignalRecord, State, StepKind, StopAll, StopProgress, sentence};
use std::collections::BTreeMap;

pub(super) fn requested(
    s: &mut State,
    at: At,
    node: &str,
    by: Requester,
    mode: StopMode,
    plan: &StopPlan,
    kill_at: Option<u64>,
) {
    let t = at.t;
    let n = s.node_mut(node);
    if n.phase != Phase::Exited {
        n.phase = Phase::Stopping;
    }
    // The engine's own deadline; older journals did not carry it: the request and the grace.
    let kill_at = kill_at.unwrap_or_else(|| StopProgress::kill_at_of(t, plan));
    match &mut n.stop {
        Some(stop) if n.phase != Phase::Exited => {
            // A second request (usually a forced one) on a stop in progress.
            stop.mode = mode;
            stop.plan = plan.clone();
            stop.kill_at = kill_at;
            stop.push(t, StepKind::Requested { by, mode });
        }
        _ => n.stop = Some(StopProgress::new(t, by, mode, plan.clone(), kill_at)),
    }
    s.say(at, Some(node), LogSource::Event, sentence::stop_requested_log(by, mode, plan));
}

pub(super) fn all_requested(
    s: &mut State,
    at: At,
    by: Requester,
    force: bool,
    tiers: &[Vec<String>],
    waits: &BTreeMap<String, Vec<String>>,
) {
    s.stop_all = Some(StopAll { t: at.t, by, force, tiers: tiers.to_vec(), waits: waits.clone() });
    s.say(at, None, LogSource::Event, sentence::stop_all_requested(by, force, tiers, waits));
}

pub(super) fn stage_entered(s: &mut State, at: At, node: &str, stage: StageAction, deadline: Option<u64>) {
    let t = at.t;
    let n = s.node_mut(node);
    if let Some(stop) = &mut n.stop {
        stop.stage = Some(stage);
        stop.stage_index += 1;
        stop.stage_entered_at = Some(t);
        stop.deadline = deadline;
        if stage == StageAction::Kill {
            stop.kill_at = t;
        }
        stop.push(t, StepKind::Stage { action: stage });
    }
}

#[expect(clippy::too_many_arguments, reason = "the event's fields, destructured so that no other event reaches it")]
pub(super) fn signal_sent(
    s: &mut State,
    at: At,
    node: &str,
    pid: u32,
    target: SignalTarget,
    signal: Signal,
    error: Option<&str>,
    by: Option<Requester>,
) {
    let t = at.t;
    let n = s.node_mut(node);
    let by_hand = by.filter(|b| *b != Requester::Plan);
    if let Some(stop) = &mut n.stop {
        stop.push(t, StepKind::Signal { signal, target, error: error.map(str::to_string) });
        if signal == Signal::CONT && error.is_none() && by_hand.is_none() {
            stop.continued_at = Some(t);
        }
    }
    if let Some(by) = by_hand.filter(|_| error.is_none() && signal.can_end()) {
        n.signalled = Some(SignalRecord { t, signal, by });
    }
    let source = if error.is_some() { LogSource::Problem } else { LogSource::Event };
    s.say(at, Some(node), source, sentence::signal_sent(signal, target, pid, error, by));
}

pub(super) fn grace_extended(s: &mut State, at: At, node: &str, deadline: u64, pending_tokens: u32) {
    let n = s.node_mut(node);
    if let Some(stop) = &mut n.stop {
        stop.kill_at = deadline;
        stop.deadline = Some(deadline);
        stop.extensions += 1;
        stop.push(at.t, StepKind::Extended { deadline, pending_tokens });
    }
    s.say(at, Some(node), LogSource::Event, sentence::grace_extended_log(at.t, deadline, pending_tokens));
}

pub(super) fn message_sent(s: &mut State, at: At, node: &str) {
    if let Some(stop) = &mut s.node_mut(node).stop {
        stop.message_sent_at = Some(at.t);
        stop.push(at.t, StepKind::MessageSent);
    }
    s.say(at, Some(node), LogSource::Event, sentence::stop_message_sent());
}

pub(super) fn acked(s: &mut State, at: At, node: &str) {
    let mut latency = None;
    if let Some(stop) = &mut s.node_mut(node).stop {
        if stop.acked_at.is_none() {
            stop.acked_at = Some(at.t);
            stop.push(at.t, StepKind::Acked);
            latency = stop.ack_latency();
        }
    }
    s.say(at, Some(node), LogSource::Event, sentence::stop_acked_log(latency));
}
