//! Every sentence gracewatch says about an event, in one place.
//!
//! Three surfaces tell what happened: the log (the lines the fold writes), the steps of a stop
//! (its timeline in the detail pane) and the report's timeline of the shutdown. They word some
//! events differently on purpose: a log line stands alone, so it names the pid and says how
//! long the stop took; a step sits under its stop with its time beside it; the report reads as
//! one account. Each event's forms are written here side by side, from the same pieces, so a
//! change to one is seen next to the others and the three cannot drift apart unseen.

use super::{NodeState, StepKind, StopStep, shell_join, status_text};
use crate::event::{
    ClaimOutcome, EventKind, ExitCause, HandlerClaim, Header, ProbeMode, Requester, Signal, SignalTarget, StageAction,
    StopMode, StopPlan, Survivor,
};
use crate::util::{fmt_ns, fmt_t};
use std::collections::BTreeMap;

/// `1 drop token`, `3 drop tokens`, `2 processes`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if noun.ends_with('s') {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

// The pieces the sentences share.

/// `graceful` or `forced`.
fn mode_word(mode: StopMode) -> &'static str {
    if mode == StopMode::Force { "forced" } else { "graceful" }
}

/// What a signal went to, with its pid: `process group 4101`, `pid 12`, `descendant 13`.
fn target_with_pid(target: SignalTarget, pid: u32) -> String {
    match target {
        SignalTarget::Group => format!("process group {pid}"),
        SignalTarget::Process => format!("pid {pid}"),
        SignalTarget::Descendant => format!("descendant {pid}"),
    }
}

/// What a signal went to, without a pid (a step of a stop).
fn target_word(target: SignalTarget) -> &'static str {
    match target {
        SignalTarget::Group => "process group",
        SignalTarget::Process => "process",
        SignalTarget::Descendant => "descendant",
    }
}

/// ` (sent by the operator)` for a signal sent by hand; nothing for the plan's own.
fn sent_by(by: Option<Requester>) -> String {
    by.filter(|b| *b != Requester::Plan).map(|b| format!(" (sent by {})", b.phrase())).unwrap_or_default()
}

/// `5084 (gracewatch), 5090 (sleep)`.
fn survivor_list(survivors: &[Survivor]) -> String {
    survivors.iter().map(|s| format!("{} ({})", s.pid, s.name)).collect::<Vec<_>>().join(", ")
}

// The session and the lifecycle of a node (the log alone tells these).

pub(crate) fn session_started(header: &Header) -> String {
    format!(
        "session {} started (gracewatch {}, {})",
        header.session,
        header.version,
        count(header.manifest.nodes.len(), "node")
    )
}

pub(crate) fn session_ended(reason: &str) -> String {
    format!("session ended: {reason}")
}

pub(crate) fn spawned(pid: u32, argv: &[String]) -> String {
    format!("spawned pid {pid}: {}", shell_join(argv))
}

pub(crate) fn spawn_failed(error: &str) -> String {
    format!("could not start: {error}")
}

pub(crate) fn adopted(pid: u32, uid: u32, argv: &[String]) -> String {
    format!("watching pid {pid} (uid {uid}): {}", shell_join(argv))
}

/// A line of output, marked when it was cut.
pub(crate) fn output(line: &str, truncated_from: Option<u32>) -> String {
    match truncated_from {
        Some(len) => format!("{line}… [cut from {len} bytes]"),
        None => line.to_string(),
    }
}

/// `30ms after the stop request` (the log's exit line, the detail pane's exit).
pub(crate) fn after_stop_request(ns: u64) -> String {
    format!("{} after the stop request", fmt_ns(ns))
}

/// The log's exit line: `stopped (status 0) 30ms after the stop request, 3 tokens still lent`.
/// `since_request` is the time from the stop request, when there was one.
pub(crate) fn exited_log(cause: ExitCause, status: &str, since_request: Option<u64>, pending_tokens: usize) -> String {
    let took = since_request.map(|ns| format!(" {}", after_stop_request(ns))).unwrap_or_default();
    let tokens = if pending_tokens == 0 { String::new() } else { format!(", {pending_tokens} tokens still lent") };
    format!("{}{took}{tokens}", cause.with_status(status))
}

/// The report's exit line: `exited: stopped (status 0), 1 token still lent`.
pub(crate) fn exited_report(
    cause: ExitCause,
    code: Option<i32>,
    signal: Option<Signal>,
    pending_tokens: usize,
) -> String {
    let tokens =
        if pending_tokens == 0 { String::new() } else { format!(", {} still lent", count(pending_tokens, "token")) };
    format!("exited: {}{tokens}", cause.with_status(&status_text(code, signal)))
}

/// The survivors of a node's tree as the detail pane and the report list them, each marked
/// when it had left the session (`5084 (gracewatch, setsid), 5090 (sleep)`).
pub(crate) fn survivors_detached(survivors: &[Survivor]) -> String {
    survivors
        .iter()
        .map(|s| format!("{} ({}{})", s.pid, s.name, if s.detached { ", setsid" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn survivors_log(survivors: &[Survivor]) -> String {
    format!("killed survivors of its tree: {}", survivor_list(survivors))
}

pub(crate) fn survivors_report(survivors: &[Survivor]) -> String {
    format!("survivors killed: {}", survivor_list(survivors))
}

pub(crate) fn supervisor_error(context: &str, message: &str) -> String {
    format!("{context}: {message}")
}

// What the probe saw.

/// A fork that kept running the parent's code in a threaded process. `had_threads` says what
/// the parent had (`had 4 threads`).
pub(crate) fn fork_without_exec(parent_pid: u32, child_pid: u32, had_threads: &str, uncertain: bool) -> String {
    let sampled = if uncertain { " (seen by sampling /proc, not exact)" } else { "" };
    format!("pid {parent_pid} forked {child_pid} without exec while it {had_threads}{sampled}")
}

pub(crate) fn probe_mode(mode: ProbeMode, detail: &str) -> String {
    let how = match mode {
        ProbeMode::Connector => "kernel connector",
        ProbeMode::Polling => "/proc polling",
    };
    format!("process events: {how} ({detail})")
}

// The course of a stop: here the surfaces differ.

/// The log's: `stop requested by ctl: SIGTERM → SIGKILL @2s`, `forced stop requested by …`.
pub(crate) fn stop_requested_log(by: Requester, mode: StopMode, plan: &StopPlan) -> String {
    let what = if mode == StopMode::Force { "forced stop" } else { "stop" };
    format!("{what} requested by {}: {}", by.as_str(), plan.describe())
}

/// A step's: `graceful stop requested by ctl` (the plan is shown above the steps).
pub(crate) fn stop_requested_step(by: Requester, mode: StopMode) -> String {
    format!("{} stop requested by {}", mode_word(mode), by.as_str())
}

/// The report's: `graceful stop requested by ctl: stop message → SIGTERM @2s → SIGKILL @6s`.
pub(crate) fn stop_requested_report(by: Requester, mode: StopMode, plan: &StopPlan) -> String {
    format!("{}: {}", stop_requested_step(by, mode), plan.describe())
}

/// The order of a stop-all in words: `web, lone now; app after web; db after app` (a journal
/// without the waits: its tiers, `web, lone → app → db`).
pub(crate) fn stop_all_order(tiers: &[Vec<String>], waits: &BTreeMap<String, Vec<String>>) -> String {
    if waits.is_empty() {
        return tiers.iter().map(|tier| tier.join(", ")).collect::<Vec<_>>().join(" → ");
    }
    let all: Vec<&String> = tiers.iter().flatten().collect();
    let now: Vec<&str> = all.iter().filter(|n| !waits.contains_key(**n)).map(|n| n.as_str()).collect();
    let mut parts = Vec::new();
    if !now.is_empty() {
        parts.push(format!("{} now", now.join(", ")));
    }
    for name in all {
        if let Some(after) = waits.get(name) {
            parts.push(format!("{name} after {}", after.join(", ")));
        }
    }
    parts.join("; ")
}

/// The log's and the report's: `stop all requested by ctl: web, lone now; app after web`.
pub(crate) fn stop_all_requested(
    by: Requester,
    force: bool,
    tiers: &[Vec<String>],
    waits: &BTreeMap<String, Vec<String>>,
) -> String {
    let what = if force { "forced stop of all" } else { "stop all" };
    format!("{what} requested by {}: {}", by.as_str(), stop_all_order(tiers, waits))
}

/// A step's and the report's: `stage: SIGTERM`.
pub(crate) fn stage_entered(stage: StageAction) -> String {
    format!("stage: {}", stage.label())
}

/// The log's and the report's: `SIGTERM → process group 4101`, `SIGKILL → pid 12 (sent by the
/// operator)`, `SIGTERM to pid 12 failed: ESRCH`.
pub(crate) fn signal_sent(
    signal: Signal,
    target: SignalTarget,
    pid: u32,
    error: Option<&str>,
    by: Option<Requester>,
) -> String {
    let to = target_with_pid(target, pid);
    let who = sent_by(by);
    match error {
        Some(e) => format!("{signal} to {to} failed: {e}{who}"),
        None => format!("{signal} → {to}{who}"),
    }
}

/// A step's: `SIGTERM sent to process group` (the pid is the node's, shown above).
pub(crate) fn signal_sent_step(signal: Signal, target: SignalTarget, error: Option<&str>) -> String {
    let to = target_word(target);
    match error {
        Some(e) => format!("{signal} to {to} failed: {e}"),
        None => format!("{signal} sent to {to}"),
    }
}

/// How often a stop's grace was extended, for the detail pane and the report: `2 times while
/// tokens drained`.
pub(crate) fn grace_extensions(extensions: u32) -> String {
    format!("{} while tokens drained", count(extensions as usize, "time"))
}

/// The log's: `grace extended by 2s: 3 tokens still draining` (from `t`, the event's time).
pub(crate) fn grace_extended_log(t: u64, deadline: u64, pending_tokens: u32) -> String {
    format!("grace extended by {}: {pending_tokens} tokens still draining", fmt_ns(deadline.saturating_sub(t)))
}

/// A step's: `grace extended to +12.000s (3 tokens draining)`.
pub(crate) fn grace_extended_step(deadline: u64, pending_tokens: u32) -> String {
    format!("grace extended to {} ({pending_tokens} tokens draining)", fmt_t(deadline))
}

/// The report's: `grace extended to +12.000s: 3 tokens still draining`.
pub(crate) fn grace_extended_report(deadline: u64, pending_tokens: u32) -> String {
    format!("grace extended to {}: {} still draining", fmt_t(deadline), count(pending_tokens as usize, "token"))
}

/// Every surface's.
pub(crate) fn stop_message_sent() -> String {
    "stop message sent".to_string()
}

/// The log's: `acknowledged the stop after 2ms` (the latency from the stop message).
pub(crate) fn stop_acked_log(latency: Option<u64>) -> String {
    match latency {
        Some(l) => format!("acknowledged the stop after {}", fmt_ns(l)),
        None => "acknowledged a stop".to_string(),
    }
}

/// The report's: `stop acknowledged after 2ms` (the latency from the stop message); a step's
/// is the same sentence with the time from the stop request.
pub(crate) fn stop_acked(after: Option<u64>) -> String {
    match after {
        Some(l) => format!("stop acknowledged after {}", fmt_ns(l)),
        None => "stop acknowledged".to_string(),
    }
}

/// A step's: `exit: stopped`.
pub(crate) fn exited_step(cause: ExitCause) -> String {
    format!("exit: {}", cause.describe())
}

/// One step of a stop, for the detail pane: `SIGTERM sent to process group`.
pub(crate) fn step(step: &StopStep, requested_at: u64) -> String {
    match &step.what {
        StepKind::Requested { by, mode } => stop_requested_step(*by, *mode),
        StepKind::Stage { action } => stage_entered(*action),
        StepKind::MessageSent => stop_message_sent(),
        StepKind::Signal { signal, target, error } => signal_sent_step(*signal, *target, error.as_deref()),
        StepKind::Acked => stop_acked(Some(step.t.saturating_sub(requested_at))),
        StepKind::Extended { deadline, pending_tokens } => grace_extended_step(*deadline, *pending_tokens),
        StepKind::Exited { cause } => exited_step(*cause),
    }
}

/// One line of the report's timeline for a stop-related event, read from the state the event
/// has just been folded into.
pub(crate) fn report_line(ev: &EventKind, node: Option<&NodeState>) -> String {
    match ev {
        EventKind::StopAllRequested { by, force, tiers, waits } => stop_all_requested(*by, *force, tiers, waits),
        EventKind::StopRequested { by, mode, plan, .. } => stop_requested_report(*by, *mode, plan),
        EventKind::StageEntered { stage, .. } => stage_entered(*stage),
        EventKind::SignalSent { signal, target, error, pid, by, .. } => {
            signal_sent(*signal, *target, *pid, error.as_deref(), *by)
        }
        EventKind::GraceExtended { deadline, pending_tokens, .. } => grace_extended_report(*deadline, *pending_tokens),
        EventKind::StopMessageSent { .. } => stop_message_sent(),
        EventKind::StopAcked { .. } => {
            stop_acked(node.and_then(|n| n.stop.as_ref()).and_then(super::StopProgress::ack_latency))
        }
        EventKind::NodeExited { cause, code, signal, pending_tokens, .. } => {
            exited_report(*cause, *code, *signal, pending_tokens.len())
        }
        EventKind::Survivors { survivors, .. } => survivors_report(survivors),
        other => other.name().to_string(),
    }
}

// What instrumented nodes said over the wire.

pub(crate) fn connected(language: &str, client_version: &str, pid: u32) -> String {
    format!("connected: {language} client {client_version}, pid {pid}")
}

pub(crate) fn disconnected(reason: &str) -> String {
    format!("disconnected: {reason}")
}

pub(crate) fn connection_refused(reason: &str) -> String {
    format!("connection refused: {reason}")
}

pub(crate) fn protocol_error(error: &str) -> String {
    format!("protocol error, connection cut: {error}")
}

/// `app installed a SIGTERM handler (thread 'main')`; `true` with it when it is a problem.
pub(crate) fn handler_claimed(claim: &HandlerClaim) -> (bool, String) {
    match claim.outcome {
        ClaimOutcome::Installed => {
            (false, format!("{} installed a {} handler (thread '{}')", claim.owner, claim.signal, claim.thread))
        }
        ClaimOutcome::Restored => (false, format!("{} restored the previous {} handler", claim.owner, claim.signal)),
        ClaimOutcome::Failed => (
            true,
            format!(
                "{} failed to install a {} handler (thread '{}'): {}",
                claim.owner,
                claim.signal,
                claim.thread,
                claim.error.as_deref().unwrap_or("?")
            ),
        ),
    }
}

// Hazards.

/// `hazard tokens-stuck: 6 drop tokens still held by …`.
pub(crate) fn hazard_raised(id: impl std::fmt::Display, sentence: &str) -> String {
    format!("hazard {id}: {sentence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PlanStage;

    fn plan() -> StopPlan {
        StopPlan {
            grace_ms: 2000,
            stages: vec![
                PlanStage { at_ms: 0, action: StageAction::Signal(Signal::TERM) },
                PlanStage { at_ms: 2000, action: StageAction::Kill },
            ],
            drain_extension_ms: 0,
            group: true,
        }
    }

    /// Each surface's words for the same stop, side by side: what the log, a step and the
    /// report say must change here, together, or not at all.
    #[test]
    fn the_three_surfaces_tell_one_stop_each_in_its_own_words() {
        let (by, mode) = (Requester::Ctl, StopMode::Graceful);
        assert_eq!(stop_requested_log(by, mode, &plan()), "stop requested by ctl: SIGTERM → SIGKILL @2s");
        assert_eq!(stop_requested_step(by, mode), "graceful stop requested by ctl");
        assert_eq!(stop_requested_report(by, mode, &plan()), "graceful stop requested by ctl: SIGTERM → SIGKILL @2s");
        assert_eq!(
            stop_requested_log(by, StopMode::Force, &plan()),
            "forced stop requested by ctl: SIGTERM → SIGKILL @2s"
        );

        let (sig, group) = (Signal::TERM, SignalTarget::Group);
        assert_eq!(signal_sent(sig, group, 4101, None, Some(Requester::Plan)), "SIGTERM → process group 4101");
        assert_eq!(
            signal_sent(Signal::KILL, SignalTarget::Process, 12, None, Some(Requester::Operator)),
            "SIGKILL → pid 12 (sent by the operator)"
        );
        assert_eq!(signal_sent_step(sig, group, None), "SIGTERM sent to process group");
        assert_eq!(signal_sent_step(sig, group, Some("ESRCH")), "SIGTERM to process group failed: ESRCH");

        let ms = 1_000_000;
        assert_eq!(grace_extended_log(10_000 * ms, 12_000 * ms, 3), "grace extended by 2s: 3 tokens still draining");
        assert_eq!(grace_extended_step(12_000 * ms, 3), "grace extended to +12.000s (3 tokens draining)");
        assert_eq!(grace_extended_report(12_000 * ms, 1), "grace extended to +12.000s: 1 token still draining");

        assert_eq!(stop_acked_log(Some(2 * ms)), "acknowledged the stop after 2ms");
        assert_eq!(stop_acked(Some(2 * ms)), "stop acknowledged after 2ms");
        assert_eq!(
            exited_log(ExitCause::Stopped, "status 0", Some(30 * ms), 0),
            "stopped (status 0) 30ms after the stop request"
        );
        assert_eq!(
            exited_report(ExitCause::Stopped, Some(0), None, 1),
            "exited: stopped (status 0), 1 token still lent"
        );
        assert_eq!(exited_step(ExitCause::Stopped), "exit: stopped");
    }
}
