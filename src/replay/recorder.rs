//! The replay index of a journal, built while the journal is written.
//!
//! A session that records a large journal folds every event anyway; a thread beside it takes
//! the same checkpoints the replay indexer would and, once the journal is closed, leaves them
//! in the replay cache. The first `replay` of that journal then seeks at once, instead of
//! waiting for an indexer to read a gigabyte. Small journals are left alone: indexing them on
//! open takes less time than a frame.

use super::cache::CacheError;
use super::index::{Checkpoint, Index, IndexBuilder, Mark};
use crate::event::Event;
use crate::journal::{JournalError, JournalReader, Position, ReadSummary};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

/// Journals with fewer events are indexed on open (well under a second).
pub const RECORD_FROM_EVENTS: u64 = 200_000;

/// Checkpoints kept in memory: past this, every other one goes and the interval doubles, so a
/// session of any length holds a bounded number of states.
const MAX_CHECKPOINTS: usize = 128;

/// What the recording thread hands back.
struct Recorded {
    checkpoints: Vec<Checkpoint>,
    marks: Vec<Mark>,
    events: u64,
    end_t: u64,
}

/// Why a recorded index was not left in the cache.
#[derive(Debug)]
pub enum RecordError {
    /// The recording thread is gone (finished twice) or panicked.
    ThreadGone,
    ThreadFailed,
    /// The journal could not be listed as a reader would list it.
    Journal(JournalError),
    Cache(CacheError),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::ThreadGone => f.write_str("the recording thread is gone"),
            RecordError::ThreadFailed => f.write_str("the recording thread failed"),
            RecordError::Journal(e) => e.fmt(f),
            RecordError::Cache(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecordError::Journal(e) => Some(e),
            RecordError::Cache(e) => Some(e),
            RecordError::ThreadGone | RecordError::ThreadFailed => None,
        }
    }
}

impl RecordError {
    /// A failure, never bad input: exit status 1.
    pub fn exit_code(&self) -> u8 {
        1
    }
}

pub struct Recorder {
    tx: Option<Sender<(Arc<Event>, u64)>>,
    worker: Option<JoinHandle<Recorded>>,
}

impl Recorder {
    /// Starts the recording thread, with a checkpoint every [`super::index::CHECKPOINT_EVERY`]
    /// events.
    pub fn start() -> std::io::Result<Recorder> {
        Recorder::with_interval(super::index::CHECKPOINT_EVERY)
    }

    /// Starts the recording thread with a checkpoint every `every` events.
    pub fn with_interval(every: u64) -> std::io::Result<Recorder> {
        let (tx, rx) = std::sync::mpsc::channel::<(Arc<Event>, u64)>();
        let worker = std::thread::Builder::new().name("gw-record-index".into()).spawn(move || {
            let mut builder = IndexBuilder { every: every.max(1), ..IndexBuilder::default() };
            let mut checkpoints: Vec<Checkpoint> = Vec::new();
            while let Ok((event, end)) = rx.recv() {
                if let Some(cp) = builder.step(&event, Position { file: 0, offset: end }) {
                    checkpoints.push(cp);
                    if checkpoints.len() > MAX_CHECKPOINTS {
                        builder.every *= 2;
                        let every = builder.every;
                        checkpoints.retain(|c| c.applied == 1 || c.applied % every == 0);
                    }
                }
            }
            Recorded { checkpoints, marks: builder.marks, events: builder.applied, end_t: builder.state.now }
        })?;
        Ok(Recorder { tx: Some(tx), worker: Some(worker) })
    }

    /// `event` has just been appended to the journal, and its line ends at byte `end`.
    pub fn observe(&self, event: Arc<Event>, end: u64) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((event, end));
        }
    }

    /// The journal at `journal` is complete and closed, every event observed: writes its index
    /// into the replay cache `dir` when it has at least `min_events` events. Returns the cache
    /// file, or `None` for a journal too small to need one.
    pub fn finish(mut self, journal: &Path, dir: &Path, min_events: u64) -> Result<Option<PathBuf>, RecordError> {
        self.tx.take();
        let recorded =
            self.worker.take().ok_or(RecordError::ThreadGone)?.join().map_err(|_| RecordError::ThreadFailed)?;
        if recorded.events < min_events.max(1) {
            return Ok(None);
        }
        // The files exactly as a reader opening this journal will list them (the cache's key).
        let files = JournalReader::open(journal).map_err(RecordError::Journal)?.all_files().to_vec();
        let bytes_total = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
        let index = Index {
            files,
            checkpoints: recorded.checkpoints,
            marks: recorded.marks,
            events: recorded.events,
            end_t: recorded.end_t,
            summary: ReadSummary { events: recorded.events, ..ReadSummary::default() },
            complete: true,
            error: None,
            bytes_total,
            bytes_read: bytes_total,
            from_cache: false,
            hold: std::sync::Arc::default(),
        };
        super::cache::save(dir, &index).map(Some).map_err(RecordError::Cache)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
