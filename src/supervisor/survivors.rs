//! Finding and killing what is left of a node's tree after its main process ended.
//!
//! gracewatch is a child subreaper, so the orphaned descendants of a node become *our*
//! children. A survivor of node N is any process below one of our children (other than a live
//! leader) that carries N's marker in its environment (inherited from the node) or that the
//! probe saw in N's tree. Every kill goes through a pidfd, after checking the start time when
//! the pid came from an earlier sighting.

use crate::event::Survivor;
use crate::probe::Known;
use std::collections::{BTreeSet, HashSet};

/// Environment variable every process of a session inherits: the session's random id.
pub const ENV_SESSION_ID: &str = "GRACEWATCH_SESSION_ID";

/// Children of `pid`, merged over all its threads.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = BTreeSet::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    for task in tasks.filter_map(Result::ok) {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.into_iter().collect()
}

/// `pid` and all its descendants.
pub fn subtree(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    let mut seen = HashSet::new();
    while let Some(p) = stack.pop() {
        if seen.insert(p) {
            out.push(p);
            stack.extend(children_of(p));
        }
    }
    out
}

/// What a process's environment says about whose it is: (node, session id).
pub fn marker(pid: u32) -> Option<(Option<String>, String)> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let mut node = None;
    let mut session = None;
    for var in env.split(|b| *b == 0) {
        if let Some(v) = var.strip_prefix(format!("{}=", crate::wire::ENV_NODE).as_bytes()) {
            node = Some(String::from_utf8_lossy(v).into_owned());
        } else if let Some(v) = var.strip_prefix(format!("{ENV_SESSION_ID}=").as_bytes()) {
            session = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    Some((node, session?))
}

/// (start time, session id, comm) of a process.
fn stat_of(pid: u32) -> Option<(u64, i32, String)> {
    let stat = procfs::process::Process::new(pid as i32)
        .ok()?
        .stat()
        .ok()?;
    Some((stat.starttime, stat.session, stat.comm))
}

/// Sends SIGKILL through a pidfd, checking the start time when one is given.
pub fn kill_verified(pid: u32, start_time: Option<u64>) -> bool {
    let Some(raw) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    let Ok(fd) = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) else {
        return false;
    };
    if let Some(expected) = start_time {
        // The pidfd pins the process: if the start time matches now, it is the one we saw.
        if stat_of(pid).map(|s| s.0) != Some(expected) {
            return false;
        }
    }
    rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL).is_ok()
}

/// Kills what is left of `node`'s tree and says who it was.
/// `spare`: our children that are not leftovers (live leaders, the guardian).
pub fn sweep(node: &str, session_id: &str, known: &[Known], spare: &[u32]) -> Vec<Survivor> {
    let me = std::process::id();
    let my_sid = rustix::process::getsid(None)
        .map(|p| p.as_raw_nonzero().get())
        .unwrap_or(0);
    let known_pids: HashSet<(u32, u64)> = known.iter().map(|k| (k.pid, k.start_time)).collect();
    let mut found = Vec::new();
    for child in children_of(me) {
        if spare.contains(&child) {
            continue;
        }
        for pid in subtree(child) {
            let Some((start, sid, name)) = stat_of(pid) else {
                continue;
            };
            let ours = match marker(pid) {
                Some((Some(n), s)) => n == node && s == session_id,
                _ => false,
            } || known_pids.contains(&(pid, start));
            if ours && kill_verified(pid, Some(start)) {
                found.push(Survivor {
                    pid,
                    name,
                    detached: sid != my_sid,
                });
            }
        }
    }
    found
}

/// Kills every remaining descendant of gracewatch (the end of a session), whoever's it is.
pub fn sweep_all(spare: &[u32]) -> Vec<(Option<String>, Survivor)> {
    let me = std::process::id();
    let my_sid = rustix::process::getsid(None)
        .map(|p| p.as_raw_nonzero().get())
        .unwrap_or(0);
    let mut found = Vec::new();
    for child in children_of(me) {
        if spare.contains(&child) {
            continue;
        }
        for pid in subtree(child) {
            let Some((start, sid, name)) = stat_of(pid) else {
                continue;
            };
            let node = marker(pid).and_then(|(n, _)| n);
            if kill_verified(pid, Some(start)) {
                found.push((
                    node,
                    Survivor {
                        pid,
                        name,
                        detached: sid != my_sid,
                    },
                ));
            }
        }
    }
    found
}

/// Every process on the machine carrying this session's id in its environment or belonging to
/// one of `groups` (the guardian's last resort), with start times.
pub fn scan_marked(session_id: &str, groups: &[u32]) -> Vec<(u32, u64)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let stat = procfs::process::Process::new(pid as i32)
                .ok()?
                .stat()
                .ok()?;
            let in_group = groups.contains(&(stat.pgrp as u32));
            (in_group || marker(pid).is_some_and(|(_, s)| s == session_id))
                .then_some((pid, stat.starttime))
        })
        .collect()
}
