//! Who a process's children are.
//!
//! The direct answer is `/proc/PID/task/TID/children`, merged over threads. That file exists
//! only when the kernel was built with `CONFIG_PROC_CHILDREN`, and some are not (Firecracker
//! guest kernels among them, which is where our CI runs). There the answer comes from the other
//! direction: one pass over every `/proc/PID/stat` reads each process's parent (the `ppid`
//! field names the parent *process*, so the threads are merged already). A pass is reused for
//! every question asked within `SCAN_REUSE`, so a probe round costs one pass, not one per
//! process.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one pass over `/proc` answers questions for.
pub(crate) const SCAN_REUSE: Duration = Duration::from_millis(20);

/// Does this kernel have `/proc/PID/task/TID/children`?
pub fn per_task_files() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        std::path::Path::new(&format!("/proc/self/task/{tid}/children")).exists()
    })
}

/// Parent pid → child pids, for every process on the machine, from one pass over `/proc`.
pub(crate) fn scan_parents() -> HashMap<u32, Vec<u32>> {
    let mut by_parent: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return by_parent;
    };
    for pid in entries.filter_map(Result::ok).filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()) {
        if let Some(ppid) = std::fs::read(format!("/proc/{pid}/stat")).ok().as_deref().and_then(ppid_of) {
            by_parent.entry(ppid).or_default().push(pid);
        }
    }
    for kids in by_parent.values_mut() {
        kids.sort_unstable();
    }
    by_parent
}

/// Field 4 of a `stat` line (after the parenthesized `comm`, which may hold anything).
fn ppid_of(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..].split(|&b| b == b' ').filter(|w| !w.is_empty());
    let _state = fields.next()?;
    std::str::from_utf8(fields.next()?).ok()?.parse().ok()
}

/// Children of `pid` from the per-thread files, merged over its threads.
fn from_task_files(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.filter_map(Result::ok) {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(text.split_ascii_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Answers "children of P" for many P, one `/proc` pass at most every `SCAN_REUSE` on
/// kernels without the per-thread files.
#[derive(Debug, Default)]
pub struct ChildIndex {
    scanned: Option<(Instant, HashMap<u32, Vec<u32>>)>,
}

impl ChildIndex {
    /// The children of `pid`, sorted, as of `now` (within `SCAN_REUSE`).
    pub fn children(&mut self, pid: u32, now: Instant) -> Vec<u32> {
        if per_task_files() {
            return from_task_files(pid);
        }
        let fresh = self.scanned.as_ref().is_some_and(|(at, _)| now >= *at && now - *at < SCAN_REUSE);
        if !fresh {
            self.scanned = Some((now, scan_parents()));
        }
        self.scanned.as_ref().and_then(|(_, m)| m.get(&pid).cloned()).unwrap_or_default()
    }

    /// Forgets the last pass: the next question reads `/proc` again.
    pub fn invalidate(&mut self) {
        self.scanned = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppid_is_read_past_a_comm_with_spaces_and_parens() {
        assert_eq!(ppid_of(b"42 (a) b (c)) S 7 42 42 0 -1"), Some(7));
        assert_eq!(ppid_of(b"garbage"), None);
    }

    #[test]
    fn a_real_child_is_found() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let kids = ChildIndex::default().children(std::process::id(), Instant::now());
        assert!(kids.contains(&child.id()), "{kids:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
