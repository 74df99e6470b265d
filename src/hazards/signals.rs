//! Hazards read from the kernel's signal masks of the process the stop signal goes to.
//!
//! Every sentence says which stop signal it judged against: the node's own (from its manifest),
//! or, for a process taken under `watch`, the one assumed (`--stop-signal`, else SIGTERM).

use super::{HazardId, Lint};
use crate::event::{Disposition, ProcSample, Signal};
use crate::state::{NodeState, Phase, StepKind, is_shell};

/// At rest, the stop signal blocked on every thread is a hazard only once consecutive reads of
/// the process have found it so, never open in between, this many times ...
pub(crate) const BLOCK_PERSIST_READS: u32 = 4;
/// ... over at least this long, from the first sample that showed the run (its second read:
/// one read never counts). While a run is judged the probe reads the process at its fast
/// interval (250 ms by default), so a block that comes and goes (a reload, a hand-off, a short
/// sleep with signals blocked) is seen open again long before.
pub(crate) const BLOCK_PERSIST_SPAN_MS: u64 = 2_000;
/// During a stop the hazard is judged on the kernel's evidence: the stop signal, once sent,
/// still pending while every thread blocks it, in reads spanning this long at least (a mask
/// that opens delivers it at once) ...
pub(crate) const HELD_SPAN_MS: u64 = 500;
/// ... and this many of them.
pub(crate) const HELD_READS: u32 = 2;

/// How a sentence names the process it is about: nothing for the node's leader, "its command
/// NAME (pid N, run by SHELL) " for the command a shell leader waits for
/// ([`NodeState::stop_target`]).
fn named(node: &NodeState, target: &ProcSample) -> String {
    match node.leader() {
        Some(leader) if leader.pid != target.pid => {
            format!("its command {} (pid {}, run by {}) ", target.name, target.pid, leader.name)
        }
        _ => String::new(),
    }
}

/// Which stop signal was judged against, in parentheses: the node's own, or for a process taken
/// under `watch`, the one assumed.
fn assumed(node: &NodeState) -> &'static str {
    if node.adopted {
        "(the stop signal assumed; use --stop-signal if it stops with another)"
    } else {
        "(its stop signal)"
    }
}

/// After the signal's name, in a sentence that does not otherwise say it is the stop signal.
fn assumed_after(node: &NodeState) -> String {
    format!(" {}", assumed(node))
}

pub(super) struct SigtermIgnored;

impl Lint for SigtermIgnored {
    fn id(&self) -> HazardId {
        HazardId::SigtermIgnored
    }
    fn summary(&self) -> &'static str {
        "The process ignores its stop signal: only SIGKILL at the end of the grace period will stop it."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let sig = node.stop_signal();
        let target = node.stop_target()?;
        (target.disposition(sig) == Disposition::Ignored).then(|| {
            format!(
                "{}ignores {sig} {}: only SIGKILL at the end of its grace period will stop it",
                named(node, target),
                assumed(node)
            )
        })
    }
}

pub(super) struct StopSignalDefault;

impl Lint for StopSignalDefault {
    fn id(&self) -> HazardId {
        HazardId::StopSignalDefault
    }
    fn summary(&self) -> &'static str {
        "The stop signal is at its default action while the process handles other signals: it will die on the spot, without its cleanup."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let sig = node.stop_signal();
        let target = node.stop_target()?;
        if target.disposition(sig) != Disposition::Default || node.stops_cooperatively() {
            return None;
        }
        if let Some(claim) = node.failed_claim_for(sig) {
            return Some(format!(
                "{sig}{} is at its default action because {} could not install its handler: it will die without cleanup",
                assumed_after(node),
                claim.claim.owner
            ));
        }
        // A shell catches SIGINT for job control, waiting for a command or between two, and
        // a `trap ... INT` looks the same from here: a shell's SIGINT says nothing.
        let shell = is_shell(&target.name);
        let others: Vec<String> = Signal::SHOWN
            .iter()
            .filter(|s| **s != sig && target.caught.contains(**s) && !(shell && **s == Signal::INT))
            .map(|s| s.name())
            .collect();
        (!others.is_empty()).then(|| {
            let who = named(node, target);
            let sig = format!("{sig}{}", assumed_after(node));
            let subject = if who.is_empty() { format!("{sig} is") } else { format!("{who}has {sig}") };
            format!(
                "{subject} at its default action though it catches {}: it will die without cleanup",
                others.join(" and ")
            )
        })
    }
}

pub(super) struct StopSignalBlocked;

impl Lint for StopSignalBlocked {
    fn id(&self) -> HazardId {
        HazardId::StopSignalBlocked
    }
    fn summary(&self) -> &'static str {
        "The stop signal is blocked on every thread: it stays pending and the stop waits for SIGKILL."
    }
    /// During a stop, once the stop signal was sent and the process read since: on the evidence
    /// (still pending while every thread blocks it, over [`HELD_SPAN_MS`]), whatever the masks
    /// looked like before. Otherwise on persistence: blocked on every thread in every read for
    /// [`BLOCK_PERSIST_SPAN_MS`] and [`BLOCK_PERSIST_READS`] reads. One read never raises it.
    fn check(&self, node: &NodeState) -> Option<String> {
        let target = node.stop_target()?;
        let seen = node.masks.get(&target.pid)?;
        if let Some((sig, sent_at)) = stop_signal_sent(node) {
            if seen.at > sent_at && target.disposition(sig) != Disposition::Ignored {
                match seen.held(sig) {
                    Some(run) if run.reads >= HELD_READS && seen.lasted(run) >= HELD_SPAN_MS * 1_000_000 => {
                        let who = named(node, target);
                        let whose = if who.is_empty() { String::new() } else { format!(" in {}", who.trim_end()) };
                        return Some(format!(
                            "{sig} was sent {} ago and is still pending{whose}: every thread blocks it; the stop will end in SIGKILL",
                            crate::util::fmt_ns(seen.at.saturating_sub(sent_at))
                        ));
                    }
                    // Not long enough yet: as at rest meanwhile.
                    Some(_) => {}
                    // Taken since it was sent: the mask let it through (or a signalfd read it).
                    None => return None,
                }
            }
        }
        let sig = node.stop_signal();
        if target.disposition(sig) == Disposition::Ignored {
            return None; // sigterm-ignored says it
        }
        let run = seen
            .blocked(sig)
            .filter(|r| r.reads >= BLOCK_PERSIST_READS && seen.lasted(*r) >= BLOCK_PERSIST_SPAN_MS * 1_000_000)?;
        Some(format!(
            "{}blocks {sig} {} on all {} of its threads, in every read for at least {}: a stop would leave it pending and end in SIGKILL",
            named(node, target),
            assumed(node),
            target.threads.len(),
            crate::util::fmt_ns(seen.lasted(run))
        ))
    }
}

/// The signal the stop in progress sent first (its stop signal, or the one `stop --signal`
/// chose), and when it was sent.
fn stop_signal_sent(node: &NodeState) -> Option<(Signal, u64)> {
    let stop = node.stop.as_ref().filter(|_| node.phase == Phase::Stopping)?;
    let sig = stop.plan.first_signal()?;
    stop.timeline.iter().find_map(|step| match &step.what {
        StepKind::Signal { signal, error: None, .. } if *signal == sig => Some((sig, step.t)),
        _ => None,
    })
}
