//! The hub: every event passes here exactly once. It stamps `seq`, keeps `t` monotonic,
//! appends to the journal, folds into the live state and broadcasts to attached cockpits.

use crate::event::{Event, EventKind};
use crate::journal::JournalWriter;
use crate::state::State;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events buffered per attached cockpit before it counts as fallen behind.
pub const BROADCAST_CAPACITY: usize = 4096;

pub struct Hub {
    seq: u64,
    last_t: u64,
    journal: Option<JournalWriter>,
    journal_failed: bool,
    /// A journal failure not yet reported as an event.
    journal_failure: Option<String>,
    pub state: State,
    tx: broadcast::Sender<Arc<Event>>,
    printer: Option<super::headless::Printer>,
}

impl Hub {
    pub fn new(journal: Option<JournalWriter>, printer: Option<super::headless::Printer>) -> Hub {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Hub {
            seq: 0,
            last_t: 0,
            journal,
            journal_failed: false,
            journal_failure: None,
            state: State::new(),
            tx,
            printer,
        }
    }

    /// Records one event that happened at session time `t`.
    pub fn push(&mut self, t: u64, ev: EventKind) -> Arc<Event> {
        let t = t.max(self.last_t);
        self.last_t = t;
        let event = Event { seq: self.seq, t, ev };
        self.seq += 1;
        if let Some(journal) = &mut self.journal {
            if let Err(e) = journal.append(&event) {
                if !self.journal_failed {
                    self.journal_failed = true;
                    tracing::error!("journal write failed: {e}");
                    self.journal_failure =
                        Some(format!("writing the journal failed, events from here on are not kept: {e}"));
                }
            }
        }
        self.state.apply(&event);
        if let Some(printer) = &mut self.printer {
            printer.print(&self.state, &event);
        }
        let event = Arc::new(event);
        let _ = self.tx.send(event.clone());
        event
    }

    /// The first journal failure, once, for the session to report as an event.
    pub fn take_journal_failure(&mut self) -> Option<String> {
        self.journal_failure.take()
    }

    /// A copy of the state and a receiverthat gets every event after it.
    pub fn subscribe(&self) -> (Box<State>, broadcast::Receiver<Arc<Event>>) {
        (Box::new(self.state.clone()), self.tx.subscribe())
    }

    pub fn journal_path(&self) -> Option<&std::path::Path> {
        self.journal.as_ref().map(JournalWriter::path)
    }

    /// Writes out and closes the journal; says what went wrong with it, if anything did.
    pub fn close_journal(&mut self) -> Option<String> {
        let mut journal = self.journal.take()?;
        match journal.finish() {
            Ok(()) => None,
            Err(e) => {
                tracing::error!("journal: {e}");
                Some(e)
            }
        }
    }
}
