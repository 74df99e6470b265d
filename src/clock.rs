//! Session time: nanoseconds since the session started, on `CLOCK_MONOTONIC`.
//!
//! The header records the monotonic reading at `t = 0`, so any process on the same machine (an
//! attached cockpit) computes the same `t` as the supervisor.

use rustix::time::{ClockId, clock_gettime};

/// Raw `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn monotonic_ns() -> u64 {
    let ts = clock_gettime(ClockId::Monotonic);
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    start_ns: u64,
}

impl Clock {
    /// A clock whose `t = 0` is now.
    pub(crate) fn start() -> Clock {
        Clock { start_ns: monotonic_ns() }
    }

    /// A clock for a session whose header says `t = 0` was `start_ns`.
    pub(crate) fn from_start(start_ns: u64) -> Clock {
        Clock { start_ns }
    }

    pub(crate) fn start_ns(self) -> u64 {
        self.start_ns
    }

    /// Session time now.
    pub(crate) fn now(self) -> u64 {
        monotonic_ns().saturating_sub(self.start_ns)
    }

    /// A `tokio::time::Instant` for session time `t` (for timers).
    pub(crate) fn instant_at(self, t: u64) -> std::time::Instant {
        let now = self.now();
        let base = std::time::Instant::now();
        if t >= now {
            base + std::time::Duration::from_nanos(t - now)
        } else {
            base.checked_sub(std::time::Duration::from_nanos(now - t)).unwrap_or(base)
        }
    }
}
