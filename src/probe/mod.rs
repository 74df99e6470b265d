//! The /proc probe: watches each node's process tree and reports what changed.
//!
//! Runs on its own thread ("gw-probe"). The supervisor tells it which trees to watch and how
//! closely (someone watching, a stop running); it emits [`EventKind`]s through a sink:
//! `ProcSampled` (only when something but CPU/memory changed), `ProcGone`, `Usage`,
//! `Fork` (source `proc`) and `ForkResolved`.
//!
//! STUB: the interface is fixed; the implementation is being written.

#[allow(dead_code)]
mod connector;
#[allow(dead_code)]
mod exec;
#[allow(dead_code)]
mod read;
#[allow(dead_code)]
mod schedule;

use crate::event::{EventKind, ForkSeen};

/// Where the probe's events go (the supervisor stamps and journals them).
pub type Sink = Box<dyn Fn(EventKind) + Send + 'static>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Interval while someone watches or a stop runs (manifest `probe_interval`).
    pub fast_interval_ms: u64,
    /// Longest interval when nothing changes and nobody watches.
    pub idle_interval_ms: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig { fast_interval_ms: 250, idle_interval_ms: 5_000 }
    }
}

/// How closely to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Intensity {
    /// Cockpits attached.
    pub viewers: usize,
    /// Nodes with a stop in progress.
    pub stopping: usize,
}

/// A process of a node's tree, as last seen (for the survivor sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22): tells a recycled
    /// pid apart.
    pub start_time: u64,
}

/// The supervisor's handle on the probe thread. Dropping it stops the thread.
pub struct Probe {
    _private: (),
}

impl Probe {
    pub fn start(_config: ProbeConfig, _sink: Sink) -> std::io::Result<Probe> {
        Ok(Probe { _private: () })
    }

    /// Start watching a node's tree rooted at `pid` (sampled at once).
    pub fn watch(&self, _node: &str, _pid: u32) {}

    /// The node's main process ended: take a last look at what is left, then stop watching.
    pub fn unwatch(&self, _node: &str) {}

    pub fn set_intensity(&self, _intensity: Intensity) {}

    /// Sample this node's tree now (a stop was requested, a signal sent).
    pub fn sample_now(&self, _node: &str) {}

    /// A fork reported by someone else (the node's client library): resolve whether the
    /// child exec'd and whether the parent's threads outlived the fork.
    pub fn fork_seen(&self, _node: &str, _fork: ForkSeen) {}

    /// Every process of the node's tree the probe knows of, leader included, with start
    /// times; includes descendants reparented away from the tree.
    pub fn known(&self, _node: &str) -> Vec<Known> {
        Vec::new()
    }
}
