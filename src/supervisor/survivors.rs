//! Finding and killing what is left of a node's tree after its main process ended.
//!
//! gracewatch is a child subreaper, so the orphaned descendants of a node become *our*
//! children. A survivor of node N is any process below one of our children (other than a live
//! leader) that carries N's marker in its environment (inherited from the node) or that the
//! probe saw in N's tree. Every kill goes through a pidfd, after checking the start time when
//! the pid came from an earlier sighting.

use crate::event::Survivor;
use crate::probe::Known;
use crate::probe::children::ChildIndex;
use crate::probe::read::{Buf, ProcDir};
use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};

/// Environment variable every process of a session inherits: the session's random id.
pub(crate) const ENV_SESSION_ID: &str = "GRACEWATCH_SESSION_ID";

/// Children of `pid`, merged over all its threads.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    ChildIndex::default().children(pid, std::time::Instant::now())
}

/// `pid` and all its descendants.
fn subtree_in(index: &mut ChildIndex, now: std::time::Instant, pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    let mut seen = HashSet::new();
    while let Some(p) = stack.pop() {
        if seen.insert(p) {
            out.push(p);
            stack.extend(index.children(p, now));
        }
    }
    out
}

/// What a process's environment says about whose it is: (node, session id).
pub(crate) fn marker(pid: u32) -> Option<(Option<String>, String)> {
    marker_in(&ProcDir::open(pid).ok()?)
}

/// [`marker`] of a process already opened.
fn marker_in(dir: &ProcDir) -> Option<(Option<String>, String)> {
    let env = dir.environ(&mut Buf::new()).ok()?;
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

/// What the sweep reads of a live process.
struct Seen {
    /// Read through this, so what is read next of it is of the same process.
    dir: ProcDir,
    start: u64,
    sid: u32,
    name: String,
    /// Its main thread is running its exit (`PF_EXITING`).
    exiting: bool,
}

/// A live process. Zombies are already dead: a killed process stays a zombie until the reaper
/// gets to it and must not be counted twice. (A process whose main thread has exited while
/// other threads run shows `Z` too, and is alive.)
fn stat_of(pid: u32) -> Option<Seen> {
    const PF_EXITING: u32 = 0x4;
    let dir = ProcDir::open(pid).ok()?;
    let stat = dir.stat(&mut Buf::new()).ok()?;
    let zombie = stat.state == b'Z';
    (!zombie || stat.num_threads > 1).then_some(Seen {
        dir,
        start: stat.start_time,
        sid: stat.session,
        name: stat.comm,
        exiting: !zombie && stat.flags & PF_EXITING != 0,
    })
}

/// Sends SIGKILL through a pidfd, checking the start time when one is given. Returns the
/// pidfd, which becomes readable once the process has died.
pub(crate) fn kill_verified(pid: u32, start_time: Option<u64>) -> Option<OwnedFd> {
    let raw = rustix::process::Pid::from_raw(pid as i32)?;
    let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()?;
    if let Some(expected) = start_time {
        // The pidfd pins the process: if the start time matches now, it is the one we saw.
        if stat_of(pid).map(|s| s.start) != Some(expected) {
            return None;
        }
    }
    rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL).ok()?;
    Some(fd)
}

/// Waits (at most `timeout`) until every process behind these pidfds has died, so a later
/// sweep never sees a process it already killed. Says, for each, whether it died.
pub(crate) fn wait_dead<F: AsFd>(fds: &[F], timeout: std::time::Duration) -> Vec<bool> {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = std::time::Instant::now() + timeout;
    let mut dead = vec![false; fds.len()];
    loop {
        let pending: Vec<usize> = (0..fds.len()).filter(|i| !dead[*i]).collect();
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if pending.is_empty() || left.is_zero() {
            return dead;
        }
        let mut polls: Vec<PollFd> = pending.iter().map(|i| PollFd::new(&fds[*i], PollFlags::IN)).collect();
        let ts = rustix::time::Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) };
        match poll(&mut polls, Some(&ts)) {
            Ok(_) => {}
            // A signal handler ran on this thread (SIGCHLD, from the very deaths we wait for):
            // poll is not restarted; go round with the time that is left.
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return dead,
        }
        for (i, p) in pending.iter().zip(&polls) {
            dead[*i] = !p.revents().is_empty();
        }
    }
}

/// Is the process already dying? It is when it runs its exit already, or when SIGKILL is
/// pending: a fatal signal with its default action (the stop signal that reached the rest of
/// the group, say; not a core-dumping one, not to a traced process) marks every thread so when
/// it is sent, and a direct SIGKILL is pending until taken. The process then ends when it is
/// next scheduled, which on a loaded machine can be after the sweep looks. (One that stays
/// dying, stuck in the kernel, is told apart after the sweep's wait.)
fn dying(seen: &Seen) -> bool {
    seen.exiting || seen.dir.status(&mut Buf::new()).is_ok_and(|status| kill_pending(&String::from_utf8_lossy(&status)))
}

/// Whether a `/proc/PID/status` text shows SIGKILL pending (for the thread or the process).
fn kill_pending(status: &str) -> bool {
    const SIGKILL_BIT: u64 = 1 << (9 - 1);
    status.lines().any(|line| {
        let Some((key, mask)) = line.split_once(':') else { return false };
        matches!(key, "SigPnd" | "ShdPnd") && u64::from_str_radix(mask.trim(), 16).is_ok_and(|m| m & SIGKILL_BIT != 0)
    })
}

/// Our session id as `/proc` shows it, the same source as every process we compare it with.
/// Not `getsid(2)`: inside a PID namespace whose session leader lives outside (a container, a CI
/// runner), the kernel answers 0, which is a real answer there, and rustix's `getsid` asserts a
/// non-zero pid and panics on it.
fn my_sid() -> Option<u32> {
    ProcDir::open(std::process::id()).ok()?.stat(&mut Buf::new()).ok().map(|s| s.session)
}

/// Kills every leftover below our children (but `spare`: live leaders, the guardian) that
/// `belongs` claims; returns them with the node the marker names.
fn sweep_where(
    spare: &[u32],
    mut belongs: impl FnMut(u32, u64, Option<&str>) -> bool,
) -> Vec<(Option<String>, Survivor)> {
    let me = std::process::id();
    let my_sid = my_sid();
    // Each process killed: its pidfd, who it was, and whether it was dying already.
    let mut killed: Vec<(OwnedFd, (Option<String>, Survivor), bool)> = Vec::new();
    let mut index = ChildIndex::default();
    let now = std::time::Instant::now();
    for child in index.children(me, now) {
        if spare.contains(&child) {
            continue;
        }
        for pid in subtree_in(&mut index, now, child) {
            let Some(seen) = stat_of(pid) else { continue };
            let node = marker_in(&seen.dir).and_then(|(n, _)| n);
            if belongs(pid, seen.start, node.as_deref()) {
                let dying = dying(&seen);
                if let Some(fd) = kill_verified(pid, Some(seen.start)) {
                    let survivor =
                        Survivor { pid, name: seen.name, detached: my_sid.is_some_and(|sid| seen.sid != sid) };
                    killed.push((fd, (node, survivor), dying));
                }
            }
        }
    }
    let fds: Vec<&OwnedFd> = killed.iter().map(|(fd, _, _)| fd).collect();
    let dead = wait_dead(&fds, std::time::Duration::from_millis(500));
    // A process that was dying and is dead by now did not outlive its node; one still there
    // (stuck in the kernel, a hung mount) did.
    killed.into_iter().zip(dead).filter(|((_, _, dying), dead)| !dying || !dead).map(|((_, who, _), _)| who).collect()
}

/// Kills what is left of `node`'s tree and says who it was.
pub(crate) fn sweep(node: &str, session_id: &str, known: &[Known], spare: &[u32]) -> Vec<Survivor> {
    let known_pids: HashSet<(u32, u64)> = known.iter().map(|k| (k.pid, k.start_time)).collect();
    sweep_where(spare, |pid, start, marked| {
        (marked == Some(node) && marker(pid).is_some_and(|(_, s)| s == session_id))
            || known_pids.contains(&(pid, start))
    })
    .into_iter()
    .map(|(_, s)| s)
    .collect()
}

/// A survivor sweep that failed (a panic in it: a bug), so leftovers may not have been killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SweepFailed {
    /// What the panic said.
    pub what: String,
}

impl SweepFailed {
    /// A failure, not bad input.
    #[allow(dead_code, clippy::unused_self)] // to be read by the one print site (the errors part of issue 11)
    pub(crate) fn exit_code(&self) -> u8 {
        1
    }
}

impl std::fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the survivor sweep failed ({}); leftover processes may not have been killed", self.what)
    }
}

impl std::error::Error for SweepFailed {}

/// Runs a sweep so that a panic in it (a bug) becomes a message instead of ending gracewatch
/// before it has recorded how the session ended.
pub(crate) fn guarded<T>(sweep: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, SweepFailed> {
    std::panic::catch_unwind(sweep).map_err(|panic| SweepFailed {
        what: panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into()),
    })
}

/// Kills every remaining descendant of gracewatch (the end of a session), whoever's it is.
pub(crate) fn sweep_all(spare: &[u32]) -> Vec<(Option<String>, Survivor)> {
    sweep_where(spare, |_, _, _| true)
}

/// Every process on the machine carrying this session's id in its environment or belonging to
/// one of `groups` (the guardian's last resort), with start times.
pub(crate) fn scan_marked(session_id: &str, groups: &[u32]) -> Vec<(u32, u64)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let dir = ProcDir::open(pid).ok()?;
            let stat = dir.stat(&mut Buf::new()).ok()?;
            let in_group = groups.contains(&stat.pgrp);
            (in_group || marker_in(&dir).is_some_and(|(_, s)| s == session_id)).then_some((pid, stat.start_time))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_dead_says_which_died() {
        let mut killed = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let mut alive = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let fd = kill_verified(killed.id(), None).expect("killed");
        let alive_fd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(alive.id() as i32).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        let dead = wait_dead(&[fd, alive_fd], std::time::Duration::from_millis(300));
        assert_eq!(dead, vec![true, false]);
        alive.kill().unwrap();
        alive.wait().unwrap();
        killed.wait().unwrap();
    }

    #[test]
    fn a_pending_sigkill_means_dying() {
        let status =
            |pnd: &str, shd: &str| format!("Name:\tsleep\nSigPnd:\t{pnd}\nShdPnd:\t{shd}\nSigBlk:\t0000000000000100\n");
        assert!(!kill_pending(&status("0000000000000000", "0000000000000000")));
        assert!(kill_pending(&status("0000000000000100", "0000000000000000")));
        assert!(kill_pending(&status("0000000000000000", "0000000000004100")));
        // SIGTERM pending (caught or blocked) is not dying; nor is SIGKILL blocked (it cannot be).
        assert!(!kill_pending(&status("0000000000004000", "0000000000000000")));
        // A live process of ours is not dying.
        let me = std::process::id();
        assert!(!dying(&stat_of(me).expect("our own stat")));
    }

    #[test]
    fn a_process_whose_main_thread_exited_is_alive_while_its_threads_run() {
        // The main thread ends with pthread_exit; a second thread runs on. /proc shows the
        // process as `Z` (its main thread's state).
        let code = "import threading,time,ctypes\nthreading.Thread(target=time.sleep,args=(60,)).start()\nprint('go', flush=True)\nctypes.CDLL(None).pthread_exit(None)";
        let mut child = std::process::Command::new("python3")
            .args(["-c", code])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        // python3 may be a launcher that execs the interpreter: the pid stays the same.
        let pid = child.id();
        let start = std::time::Instant::now();
        let zombie_main =
            || ProcDir::open(pid).unwrap().stat(&mut Buf::new()).is_ok_and(|s| s.state == b'Z' && s.num_threads > 1);
        while !zombie_main() {
            assert!(start.elapsed() < std::time::Duration::from_secs(30), "the main thread never exited");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let seen = stat_of(pid).expect("alive: a thread still runs");
        assert!(!seen.exiting && !dying(&seen));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_sweep_that_panics_becomes_a_message() {
        assert_eq!(guarded(|| 7), Ok(7));
        let err = guarded(|| -> u32 { panic!("boom at {}", 3) }).unwrap_err().to_string();
        assert!(err.contains("boom at 3") && err.contains("may not have been killed"), "{err}");
    }
}
