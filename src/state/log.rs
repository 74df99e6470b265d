//! The log the cockpit shows: node output and gracewatch's own events, bounded.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Lines kept in memory (and in replay snapshots).
pub(crate) const LOG_CAPACITY: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub t: u64,
    pub seq: u64,
    /// The node, or None for the supervisor's own lines.
    pub node: Option<String>,
    pub source: LogSource,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    Stdout,
    Stderr,
    /// A lifecycle event gracewatch saw (spawn, stop stage, exit, hazard).
    Event,
    /// Something went wrong (protocol error, supervisor error).
    Problem,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Log {
    pub lines: VecDeque<LogLine>,
    /// Lines that fell off the front.
    pub dropped: u64,
}

impl Log {
    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() >= LOG_CAPACITY {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}
