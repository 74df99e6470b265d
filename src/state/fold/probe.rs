//! What the /proc probe and the kernel saw.

use super::At;
use crate::event::{ForkSeen, ForkSource, ProbeMode, ProcSample};
use crate::state::{FORKS_KEPT, ForkRecord, LogSource, State, sentence};

pub(super) fn sampled(s: &mut State, at: At, node: &str, sample: &ProcSample) {
    let n = s.node_mut(node);
    if n.pid == Some(sample.pid) {
        n.leader_sampled_at = Some(at.t);
        n.settling = None;
    }
    n.masks.entry(sample.pid).or_default().update(at.t, &sample.mask_runs);
    n.procs.insert(sample.pid, sample.clone());
}

/// Shown only; hazards wait for the sample.
pub(super) fn settling(s: &mut State, node: &str, sample: &ProcSample) {
    let n = s.node_mut(node);
    if n.pid == Some(sample.pid) && n.leader().is_none() {
        n.settling = Some(sample.clone());
    }
}

/// True when a process other than the leader was known: its node is judged again.
pub(super) fn gone(s: &mut State, node: &str, pid: u32) -> bool {
    let n = s.node_mut(node);
    n.masks.remove(&pid);
    // A shell's command may be what its hazards were about.
    n.pid != Some(pid) && n.procs.remove(&pid).is_some()
}

pub(super) fn usage(s: &mut State, at: At, node: &str, cpu_permille: u32, rss_kib: u64) {
    let n = s.node_mut(node);
    n.cpu_permille = cpu_permille;
    n.rss_kib = rss_kib;
    n.usage_at = Some(at.t);
}

pub(super) fn fork(s: &mut State, at: At, node: &str, fork: &ForkSeen) {
    let n = s.node_mut(node);
    if let Some(existing) = n.forks.iter_mut().find(|f| f.child_pid == fork.child_pid) {
        // Seen twice (client and kernel): keep the earliest sighting, the best facts.
        existing.t = existing.t.min(at.t);
        if fork.source != ForkSource::Proc {
            existing.threads = fork.threads;
            existing.source = fork.source;
        }
        existing.runtime = existing.runtime.or(fork.runtime);
    } else {
        if n.forks.len() >= FORKS_KEPT {
            // Drop the oldest resolved harmless fork first, else the oldest.
            let victim = n.forks.iter().position(|f| f.execd == Some(true)).unwrap_or(0);
            n.forks.remove(victim);
        }
        n.forks.push(ForkRecord {
            t: at.t,
            parent_pid: fork.parent_pid,
            child_pid: fork.child_pid,
            threads: fork.threads,
            runtime: fork.runtime,
            source: fork.source,
            execd: None,
            threaded: None,
            uncertain: false,
        });
    }
}

pub(super) fn fork_resolved(
    s: &mut State,
    at: At,
    node: &str,
    child_pid: u32,
    execd: bool,
    threaded: bool,
    uncertain: bool,
) {
    let n = s.node_mut(node);
    if let Some(f) = n.forks.iter_mut().find(|f| f.child_pid == child_pid) {
        f.execd = Some(execd);
        f.threaded = Some(threaded);
        f.uncertain = uncertain;
        if !execd && threaded {
            let text = sentence::fork_without_exec(f.parent_pid, f.child_pid, &f.had_threads(), f.uncertain);
            s.say(at, Some(node), LogSource::Problem, text);
        }
    }
}

pub(super) fn exec(s: &mut State, node: &str, pid: u32) {
    let n = s.node_mut(node);
    if let Some(f) = n.forks.iter_mut().find(|f| f.child_pid == pid && f.execd.is_none()) {
        f.execd = Some(true);
    }
}

pub(super) fn mode(s: &mut State, at: At, mode: ProbeMode, detail: &str) {
    s.probe_mode = Some((mode, detail.to_string()));
    s.say(at, None, LogSource::Event, sentence::probe_mode(mode, detail));
}
