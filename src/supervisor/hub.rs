//! The hub: every event passes here exactly once. It stamps `seq`, keeps `t` monotonic,
//! appends to the journal, folds into the live state and broadcasts to attached cockpits.

use crate::event::{Event, EventKind};
use crate::journal::JournalWriter;
use crate::replay::recorder::{RECORD_FROM_EVENTS, Recorder};
use crate::state::{Fold, State};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events buffered per attached cockpit before it counts as fallen behind.
pub(crate) const BROADCAST_CAPACITY: usize = 4096;

pub(crate) struct Hub {
    seq: u64,
    last_t: u64,
    journal: Option<JournalWriter>,
    /// Builds the journal's replay index as it is written (see [`crate::replay::recorder`]).
    recorder: Option<Recorder>,
    journal_failed: bool,
    /// A journal failure not yet reported as an event.
    journal_failure: Option<String>,
    pub state: Fold,
    tx: broadcast::Sender<Arc<Event>>,
    printer: Option<super::headless::Printer>,
}

impl Hub {
    pub(crate) fn new(journal: Option<JournalWriter>, printer: Option<super::headless::Printer>) -> Hub {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let recorder = journal.as_ref().and_then(|_| Recorder::start().ok());
        Hub {
            seq: 0,
            last_t: 0,
            journal,
            recorder,
            journal_failed: false,
            journal_failure: None,
            state: Fold::new(crate::hazards::lints()),
            tx,
            printer,
        }
    }

    /// Records one event that happened at session time `t`.
    pub(crate) fn push(&mut self, t: u64, ev: EventKind) -> Arc<Event> {
        let t = t.max(self.last_t);
        self.last_t = t;
        let event = Arc::new(Event { seq: self.seq, t, ev });
        self.seq += 1;
        if let Some(journal) = &mut self.journal {
            match journal.append(&event) {
                Ok(()) => {
                    if let Some(recorder) = &self.recorder {
                        recorder.observe(event.clone(), journal.bytes());
                    }
                }
                Err(e) => self.journal_failed(&e),
            }
        }
        self.state.apply(&event);
        if let Some(journal) = self.journal.as_mut().filter(|j| !self.journal_failed && j.checkpoint_due()) {
            // The fold of every event so far, into the journal: it seeks anywhere with no index.
            if let Err(e) = journal.checkpoint(&self.state) {
                self.journal_failed(&e);
            }
        }
        if let Some(printer) = &mut self.printer {
            printer.print(&self.state, &event);
        }
        let _ = self.tx.send(event.clone());
        event
    }

    fn journal_failed(&mut self, e: &std::io::Error) {
        // An index of a journal with a hole in it would be wrong: none is kept.
        self.recorder = None;
        if !self.journal_failed {
            self.journal_failed = true;
            tracing::error!("journal write failed: {e}");
            self.journal_failure = Some(format!("writing the journal failed, events from here on are not kept: {e}"));
        }
    }

    /// The first journal failure, once, for the session to report as an event.
    pub(crate) fn take_journal_failure(&mut self) -> Option<String> {
        self.journal_failure.take()
    }

    /// A copy of the state and a receiverthat gets every event after it.
    pub(crate) fn subscribe(&self) -> (Box<State>, broadcast::Receiver<Arc<Event>>) {
        (Box::new(self.state.state().clone()), self.tx.subscribe())
    }

    pub(crate) fn journal_path(&self) -> Option<&std::path::Path> {
        self.journal.as_ref().map(JournalWriter::path)
    }

    /// Writes out and closes the journal, then leaves its replay index in the cache if it is
    /// large; says what went wrong with the journal, if anything did.
    pub(crate) fn close_journal(&mut self) -> Option<String> {
        let mut journal = self.journal.take()?;
        let recorder = self.recorder.take();
        if let Err(e) = journal.finish() {
            tracing::error!("journal: {e}");
            return Some(e.to_string());
        }
        if let (Some(recorder), Some(dir)) = (recorder, crate::replay::cache::default_dir()) {
            match recorder.finish(journal.path(), &dir, RECORD_FROM_EVENTS) {
                Ok(Some(file)) => tracing::debug!("replay index left in {}", file.display()),
                Ok(None) => {}
                Err(e) => tracing::debug!("replay index not cached: {e}"),
            }
        }
        None
    }
}
