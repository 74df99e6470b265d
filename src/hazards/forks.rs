//! The fork hazard: a copy of a multi-threaded process that never exec'd.

use super::{HazardId, Lint};
use crate::state::NodeState;

pub struct ForkWithoutExecThreaded;

impl Lint for ForkWithoutExecThreaded {
    fn id(&self) -> HazardId {
        HazardId::ForkWithoutExecThreaded
    }
    fn summary(&self) -> &'static str {
        "A process forked without exec while it had several threads: the child can deadlock on a lock held by a thread that does not exist in it."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let bad: Vec<_> = node.forks.iter().filter(|f| f.threaded == Some(true) && f.execd == Some(false)).collect();
        let f = bad.first()?;
        let runtime = if f.runtime == Some(true) { " and a running async runtime" } else { "" };
        let more = if bad.len() > 1 { format!(" ({} such forks)", bad.len()) } else { String::new() };
        Some(format!(
            "pid {} forked {} without exec while it had {} threads{runtime}: the child can deadlock{more}",
            f.parent_pid, f.child_pid, f.threads
        ))
    }
}
