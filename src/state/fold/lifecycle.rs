//! Session, spawn, output and exit events.

use super::At;
use crate::event::{ExitCause, Header, PendingToken, Signal, Stream, Survivor};
use crate::state::{ExitRecord, LogSource, NodeState, Phase, State, StepKind, sentence};

pub(super) fn session_started(s: &mut State, at: At, header: &Header) {
    for spec in &header.manifest.nodes {
        if !s.nodes.contains_key(&spec.name) {
            s.nodes.insert(spec.name.clone(), NodeState::new(spec.clone()));
        }
    }
    s.header = Some(header.clone());
    s.say(at, None, LogSource::Event, sentence::session_started(header));
}

pub(super) fn session_ended(s: &mut State, at: At, reason: &str) {
    s.ended = Some((at.t, reason.to_string()));
    s.say(at, None, LogSource::Event, sentence::session_ended(reason));
}

pub(super) fn spawned(s: &mut State, at: At, node: &str, pid: u32, pgid: u32, argv: &[String]) {
    let n = s.node_mut(node);
    n.pid = Some(pid);
    n.pgid = Some(pgid);
    argv.clone_into(&mut n.argv);
    n.spawned_at = Some(at.t);
    if n.phase == Phase::Starting {
        n.phase = Phase::Running;
    }
    s.say(at, Some(node), LogSource::Event, sentence::spawned(pid, argv));
}

pub(super) fn spawn_failed(s: &mut State, at: At, node: &str, error: &str) {
    let n = s.node_mut(node);
    n.phase = Phase::Exited;
    n.exit = Some(ExitRecord {
        t: at.t,
        pid: 0,
        code: None,
        signal: None,
        cause: ExitCause::SpawnFailed,
        pending_tokens: Vec::new(),
        error: Some(error.to_string()),
    });
    s.say(at, Some(node), LogSource::Problem, sentence::spawn_failed(error));
}

pub(super) fn adopted(s: &mut State, at: At, node: &str, pid: u32, argv: &[String], uid: u32) {
    let manifest = s.header.as_ref().map(|h| &h.manifest);
    let declared = manifest.is_some_and(|m| m.node(node).is_some());
    let assumed = manifest.and_then(|m| m.watch_stop_signal);
    let n = s.node_mut(node);
    if n.spec.cmd.is_empty() {
        argv.clone_into(&mut n.spec.cmd);
    }
    if !declared {
        // `watch --stop-signal` (SIGTERM unless given): what its hazards assume.
        n.spec.stop_signal = assumed.unwrap_or(Signal::TERM);
    }
    // Not ours: signals go to the process alone, never to a group it may share.
    n.spec.group = false;
    n.pid = Some(pid);
    n.pgid = None;
    argv.clone_into(&mut n.argv);
    n.spawned_at = Some(at.t);
    n.adopted = true;
    n.phase = Phase::Running;
    s.say(at, Some(node), LogSource::Event, sentence::adopted(pid, uid, argv));
}

pub(super) fn output(s: &mut State, at: At, node: &str, stream: Stream, line: &str, truncated_from: Option<u32>) {
    s.node_mut(node).output_lines += 1;
    let source = if stream == Stream::Stdout { LogSource::Stdout } else { LogSource::Stderr };
    s.say(at, Some(node), source, sentence::output(line, truncated_from));
}

#[expect(clippy::too_many_arguments, reason = "the event's fields, destructured so that no other event reaches it")]
pub(super) fn exited(
    s: &mut State,
    at: At,
    node: &str,
    pid: u32,
    code: Option<i32>,
    signal: Option<Signal>,
    cause: ExitCause,
    pending_tokens: &[PendingToken],
) {
    let n = s.node_mut(node);
    n.phase = Phase::Exited;
    let record = ExitRecord { t: at.t, pid, code, signal, cause, pending_tokens: pending_tokens.to_vec(), error: None };
    let status = record.status();
    n.exit = Some(record);
    n.cpu_permille = 0;
    if let Some(stop) = &mut n.stop {
        stop.push(at.t, StepKind::Exited { cause });
        stop.deadline = None;
    }
    let since_request = n.stop.as_ref().map(|stop| at.t.saturating_sub(stop.requested_at));
    let source = if cause.is_clean() { LogSource::Event } else { LogSource::Problem };
    s.say(at, Some(node), source, sentence::exited_log(cause, &status, since_request, pending_tokens.len()));
}

pub(super) fn survivors(s: &mut State, at: At, node: &str, survivors: &[Survivor]) {
    s.node_mut(node).survivors.extend(survivors.iter().cloned());
    s.say(at, Some(node), LogSource::Problem, sentence::survivors_log(survivors));
}

pub(super) fn supervisor_error(s: &mut State, at: At, context: &str, message: &str) {
    s.supervisor_errors += 1;
    s.say(at, None, LogSource::Problem, sentence::supervisor_error(context, message));
}
