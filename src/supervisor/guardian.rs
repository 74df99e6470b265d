//! The guardian: a tiny process that outlives gracewatch only to clean up after it.
//!
//! Nodes die with gracewatch through their parent-death signal, but their descendants do not
//! (and a `setsid` grandchild is in no group we could signal). The guardian holds a pipe from
//! gracewatch; when the pipe closes without a "bye" (gracewatch was killed), it kills every
//! member of the process groups gracewatch told it about and every process carrying the
//! session's id in its environment, until none is left.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

pub(crate) struct Guardian {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guardian {
    /// Starts `gracewatch __guardian SESSION_ID` in its own process group.
    pub(crate) fn start(session_id: &str) -> std::io::Result<Guardian> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("__guardian")
            .arg(session_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Guardian { child, stdin })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A node's process group to kill if gracewatch dies.
    pub(crate) fn add_group(&mut self, pgid: u32) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "pgid {pgid}");
        }
    }

    /// gracewatch is exiting normally: the guardian exits without touching anything.
    pub(crate) fn bye(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "bye");
        }
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        self.bye();
    }
}

/// The guardian process's main. Returns its exit status.
pub(crate) fn guardian_main(session_id: &str) -> i32 {
    // Terminal signals are for gracewatch, not for us: catch and ignore them.
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGQUIT,
    ] {
        let _ = signal_hook::flag::register(sig, flag.clone());
    }
    let mut groups: Vec<u32> = Vec::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line == "bye" {
            return 0;
        }
        if let Some(pgid) = line.strip_prefix("pgid ").and_then(|p| p.parse().ok()) {
            groups.push(pgid);
        }
    }
    // gracewatch died without saying bye.
    // Every kill goes through a pidfd after checking the start time; repeat until a scan finds
    // nothing (a process may fork while we kill).
    for _ in 0..10 {
        let marked = super::survivors::scan_marked(session_id, &groups);
        if marked.is_empty() {
            break;
        }
        let fds: Vec<_> =
            marked.into_iter().filter_map(|(pid, start)| super::survivors::kill_verified(pid, Some(start))).collect();
        super::survivors::wait_dead(&fds, std::time::Duration::from_millis(200));
    }
    0
}
