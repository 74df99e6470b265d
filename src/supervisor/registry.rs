//! Which processes are node leaders, shared by the spawner, the reaper and whoever signals.
//!
//! One lock orders three things that must not interleave: spawning a child and opening its
//! pidfd (so the reaper cannot reap it before we hold the pidfd), reaping (so we know the pid
//! is gone), and signalling a process group (only while its leader is unreaped, so the group id
//! cannot have been recycled).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    spawned: Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// Leader pid → node name, while unreaped.
    leaders: HashMap<u32, String>,
    /// Children ever spawned (wakes the reaper when it had none).
    pub spawned_count: u64,
}

impl Inner {
    pub(crate) fn add_leader(&mut self, pid: u32, node: &str) {
        self.leaders.insert(pid, node.to_string());
        self.spawned_count += 1;
    }

    /// The reaper reaped `pid`: returns its node if it was a leader.
    pub(crate) fn reaped(&mut self, pid: u32) -> Option<String> {
        self.leaders.remove(&pid)
    }

    pub(crate) fn is_unreaped_leader(&self, pid: u32) -> bool {
        self.leaders.contains_key(&pid)
    }

    pub(crate) fn leader_pids(&self) -> Vec<u32> {
        self.leaders.keys().copied().collect()
    }
}

impl Registry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes a reaper that is waiting for children to exist.
    pub(crate) fn notify_spawned(&self) {
        self.spawned.notify_all();
    }

    /// Waits (up to `timeout`) for a spawn.
    pub(crate) fn wait_for_spawn(&self, timeout: std::time::Duration) {
        let guard = self.lock();
        let _ = self.spawned.wait_timeout(guard, timeout);
    }
}
