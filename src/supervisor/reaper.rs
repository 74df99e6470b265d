//! The reaper thread. gracewatch is a child subreaper: every orphaned descendant of a node
//! becomes its child, and this thread reaps them all, reporting each exit.

use super::registry::Registry;
use crate::event::Signal;
use rustix::process::{WaitId, WaitIdOptions, WaitOptions};
use std::sync::Arc;

/// One reaped process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reaped {
    pub pid: u32,
    /// Set when the process was a node's leader.
    pub node: Option<String>,
    pub code: Option<i32>,
    pub signal: Option<Signal>,
    /// `t` when it was reaped.
    pub t: u64,
}

/// Starts the reaper; exits are sent with `send` (which must not block for long).
pub(crate) fn start(
    registry: Arc<Registry>,
    clock: crate::clock::Clock,
    send: impl Fn(Reaped) + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("gw-reaper".into()).spawn(move || {
        loop {
            // Wait, without reaping, until some child has exited.
            match rustix::process::waitid(WaitId::All, WaitIdOptions::EXITED | WaitIdOptions::NOWAIT) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::CHILD) => {
                    registry.wait_for_spawn(std::time::Duration::from_millis(500));
                    continue;
                }
                Err(e) => {
                    tracing::error!("waitid failed: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
            }
            // Reap under the lock: the spawner registers a child and its pidfd atomically.
            let mut reaped = Vec::new();
            {
                let mut inner = registry.lock();
                while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
                    let pid = pid.as_raw_nonzero().get() as u32;
                    let node = inner.reaped(pid);
                    reaped.push(Reaped {
                        pid,
                        node,
                        code: status.exit_status(),
                        signal: status.terminating_signal().and_then(Signal::from_number),
                        t: clock.now(),
                    });
                }
            }
            for r in reaped {
                send(r);
            }
        }
    })?;
    Ok(())
}
