//! The fork hazard: a copy of a multi-threaded process that never exec'd.
//!
//! A fork judged threaded only by sampling `/proc` (see `probe::at_fork`) is still raised, in
//! words that say so: "may have had N threads … (seen by sampling /proc, not exact)". A fork the
//! kernel connector ordered exactly is named first when there are both.

use super::{HazardId, Lint};
use crate::state::NodeState;

pub(super) struct ForkWithoutExecThreaded;

impl Lint for ForkWithoutExecThreaded {
    fn id(&self) -> HazardId {
        HazardId::ForkWithoutExecThreaded
    }
    fn summary(&self) -> &'static str {
        "A process forked without exec while it had several threads: the child can deadlock on a lock held by a thread that does not exist in it."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let bad: Vec<_> = node.forks.iter().filter(|f| f.threaded == Some(true) && f.execd == Some(false)).collect();
        let f = bad.iter().find(|f| !f.uncertain).or(bad.first())?;
        let runtime = if f.runtime == Some(true) { " and a running async runtime" } else { "" };
        let sampled = if f.uncertain { " (seen by sampling /proc, not exact)" } else { "" };
        let more = if bad.len() > 1 { format!(" ({} such forks)", bad.len()) } else { String::new() };
        Some(format!(
            "pid {} forked {} without exec while it {}{runtime}{sampled}: the child can deadlock{more}",
            f.parent_pid,
            f.child_pid,
            f.had_threads()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ForkSource;
    use crate::state::ForkRecord;

    fn fork(child_pid: u32, uncertain: bool) -> ForkRecord {
        ForkRecord {
            t: 0,
            parent_pid: 10,
            child_pid,
            threads: 3,
            runtime: None,
            source: ForkSource::Proc,
            execd: Some(false),
            threaded: Some(true),
            uncertain,
        }
    }

    #[test]
    fn a_sampled_verdict_says_it_is_uncertain_and_an_exact_one_is_named_first() {
        let mut node = NodeState::new(crate::manifest::NodeSpec::with_defaults("a", Vec::new()));
        node.forks.push(fork(11, true));
        let s = ForkWithoutExecThreaded.check(&node).unwrap_or_default();
        assert_eq!(
            s,
            "pid 10 forked 11 without exec while it may have had 3 threads (seen by sampling /proc, not exact): the child can deadlock"
        );
        node.forks.push(fork(12, false));
        let s = ForkWithoutExecThreaded.check(&node).unwrap_or_default();
        assert_eq!(s, "pid 10 forked 12 without exec while it had 3 threads: the child can deadlock (2 such forks)");
    }
}
