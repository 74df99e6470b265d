//! The replay index: checkpoints of the folded state and marks of stop-related events,
//! built once per open on a background thread, readable while it grows.
//!
//! This module knows nothing of where an index is kept: [`super::open`] takes it from the
//! cache or builds it, and [`super::cache`] stores it.

use crate::event::{Event, EventKind, StageAction};
use crate::journal::{JournalReader, Position, ReadSummary};
use crate::state::{Fold, State};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Events between two checkpoints: a seek folds at most this many.
pub const CHECKPOINT_EVERY: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Events applied to reach `state` (the index of the next event).
    pub applied: u64,
    /// `t` of the last event applied.
    pub t: u64,
    /// Where the next event starts.
    pub pos: Position,
    pub state: Snapshot,
}

/// A checkpoint's folded state: in memory, or in the on-disk cache until a seek needs it.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Ready(Arc<State>),
    OnDisk { file: Arc<PathBuf>, at: u64, len: u64 },
}

impl Snapshot {
    /// The state (read from the cache file if that is where it is); `None` if it cannot be
    /// read back, and the seek then folds from an earlier point.
    pub fn get(&self) -> Option<Arc<State>> {
        match self {
            Snapshot::Ready(s) => Some(s.clone()),
            Snapshot::OnDisk { file, at, len } => {
                crate::journal::checkpoint::read_state_at(file, *at, *len).map(Arc::new)
            }
        }
    }
}

/// A stop-related moment, for `]`/`[` and the timeline bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    /// Index of the event (0 = header).
    pub n: u64,
    pub t: u64,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MarkKind {
    StopRequested,
    Stage,
    Kill,
    /// An exit that was not clean (killed, crashed).
    BadExit,
    Exit,
}

#[derive(Debug, Default)]
pub struct Index {
    pub files: Vec<PathBuf>,
    pub checkpoints: Vec<Checkpoint>,
    pub marks: Vec<Mark>,
    /// Events indexed so far.
    pub events: u64,
    /// `t` of the last event indexed.
    pub end_t: u64,
    pub summary: ReadSummary,
    /// The whole journal has been read.
    pub complete: bool,
    /// Reading failed part-way (the journal could not be read further). Damaged records are
    /// skipped, not failures: they are counted in `summary`.
    pub error: Option<String>,
    /// Bytes of the journal (all its files), and bytes indexed so far: the progress to show.
    pub bytes_total: u64,
    pub bytes_read: u64,
    /// Read from the on-disk cache rather than built by this open.
    pub from_cache: bool,
    /// Set while a seek folds from a checkpoint inside the journal: the indexer waits, so the
    /// seek has the processor (the index is not needed for it).
    pub hold: Arc<AtomicBool>,
}

impl Index {
    /// The last checkpoint at or before event `n`.
    pub fn checkpoint_before(&self, n: u64) -> Option<&Checkpoint> {
        let i = self.checkpoints.partition_point(|c| c.applied <= n);
        i.checked_sub(1).and_then(|i| self.checkpoints.get(i))
    }

    /// The last checkpoint whose time is at or before `t`.
    pub fn checkpoint_at_time(&self, t: u64) -> Option<&Checkpoint> {
        let i = self.checkpoints.partition_point(|c| c.t <= t);
        i.checked_sub(1).and_then(|i| self.checkpoints.get(i))
    }
}

pub type SharedIndex = Arc<RwLock<Index>>;

fn mark_of(ev: &EventKind) -> Option<MarkKind> {
    Some(match ev {
        EventKind::StopRequested { .. } | EventKind::StopAllRequested { .. } => MarkKind::StopRequested,
        EventKind::StageEntered { stage: StageAction::Kill, .. } => MarkKind::Kill,
        EventKind::StageEntered { .. } | EventKind::GraceExtended { .. } => MarkKind::Stage,
        EventKind::NodeExited { cause, .. } if cause.is_clean() => MarkKind::Exit,
        EventKind::NodeExited { .. } | EventKind::Survivors { .. } => MarkKind::BadExit,
        _ => return None,
    })
}

/// Events between two looks at whether anyone still reads the index.
const ORPHAN_CHECK_EVERY: u64 = 4096;

/// The fold behind an index: applies events one by one, notes their marks, and takes a
/// checkpoint after the header and then every `every` events. Shared by the indexer that reads
/// a journal and by the recorder that watches one being written.
#[derive(Debug)]
pub struct IndexBuilder {
    pub state: Fold,
    pub applied: u64,
    /// Marks not yet handed over.
    pub marks: Vec<Mark>,
    pub every: u64,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        IndexBuilder {
            state: Fold::new(crate::hazards::lints()),
            applied: 0,
            marks: Vec::new(),
            every: CHECKPOINT_EVERY,
        }
    }
}

impl IndexBuilder {
    /// Applies `event`, whose line ends where `next` (the following event) starts; returns the
    /// checkpoint taken after it, if one is due.
    pub fn step(&mut self, event: &Event, next: Position) -> Option<Checkpoint> {
        if let Some(kind) = mark_of(&event.ev) {
            self.marks.push(Mark { n: self.applied, t: event.t, kind });
        }
        self.state.apply(event);
        self.applied += 1;
        (self.applied == 1 || self.applied % self.every == 0).then(|| Checkpoint {
            applied: self.applied,
            t: event.t,
            pos: next,
            state: Snapshot::Ready(Arc::new(self.state.state().clone())),
        })
    }
}

/// Reads the whole journal, publishing checkpoints and marks as it goes. Stops early, leaving
/// the index incomplete, once nobody else holds it (the player was dropped). A complete index
/// read without error is then handed to `done` (a copy: the player is not held up meanwhile).
pub fn build(mut reader: JournalReader, index: &SharedIndex, done: impl FnOnce(&Index)) {
    let hold = index.read().unwrap_or_else(PoisonError::into_inner).hold.clone();
    let mut builder = IndexBuilder::default();
    // Where each file starts, counted over the whole journal, for the progress.
    let starts: Vec<u64> = reader
        .all_files()
        .iter()
        .scan(0u64, |at, f| {
            let start = *at;
            *at += std::fs::metadata(f).map_or(0, |m| m.len());
            Some(start)
        })
        .collect();
    loop {
        match reader.next_event() {
            Ok(Some(event)) => {
                let pos = reader.position();
                if let Some(cp) = builder.step(&event, pos) {
                    let mut idx = index.write().unwrap_or_else(PoisonError::into_inner);
                    idx.checkpoints.push(cp);
                    idx.marks.append(&mut builder.marks);
                    idx.events = builder.applied;
                    idx.end_t = event.t;
                    idx.bytes_read = starts.get(pos.file).copied().unwrap_or(0) + pos.offset;
                    idx.summary.clone_from(&reader.summary);
                }
                if builder.applied % ORPHAN_CHECK_EVERY == 0 {
                    if Arc::strong_count(index) == 1 {
                        return;
                    }
                    while hold.load(Ordering::Acquire) && Arc::strong_count(index) > 1 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                index.write().unwrap_or_else(PoisonError::into_inner).error = Some(e.to_string());
                break;
            }
        }
    }
    let mut idx = index.write().unwrap_or_else(PoisonError::into_inner);
    idx.marks.append(&mut builder.marks);
    idx.events = builder.applied;
    idx.end_t = builder.state.now;
    idx.summary = reader.summary.clone();
    idx.bytes_read = idx.bytes_total;
    idx.complete = true;
    if idx.error.is_none() {
        let copy = Index {
            files: idx.files.clone(),
            checkpoints: idx.checkpoints.clone(),
            marks: idx.marks.clone(),
            events: idx.events,
            end_t: idx.end_t,
            summary: idx.summary.clone(),
            complete: true,
            error: None,
            bytes_total: idx.bytes_total,
            bytes_read: idx.bytes_read,
            from_cache: false,
            hold: Arc::default(),
        };
        drop(idx);
        done(&copy);
    }
}
