//! The replay player: the folded state at a chosen moment of a journal.
//!
//! A seek starts from the nearest checkpoint before the moment: one of the index when the
//! index has got that far (or came complete from the cache), else one written inside the
//! journal ([`crate::journal::checkpoint`]), found in the file itself. A journal without
//! checkpoints inside (older than format 1.1) waits for its index.

use super::index::{self, Mark, SharedIndex};
use crate::event::Event;
use crate::journal::checkpoint::{self, Moment, Nearest};
use crate::journal::{JournalError, JournalReader, Position};
use crate::state::{Fold, State};
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

pub struct Player {
    pub index: SharedIndex,
    files: Vec<PathBuf>,
    /// The state after `applied` events.
    pub state: Fold,
    /// Events applied (the index of the next one).
    pub applied: u64,
    reader: Option<JournalReader>,
    /// The next event, read ahead (for time-based stepping).
    ahead: Option<Event>,
    /// The journal ended (or was torn) after `applied` events.
    pub at_end: bool,
    /// The journal's file, while it may hold checkpoints (format 1.1 and later, one file) and
    /// none has been found missing.
    checkpointed: Option<PathBuf>,
    /// The journal was looked at for checkpoints.
    probed: bool,
    /// Of a journal with checkpoints: events (by `seq`) and `t` of its last record, read from
    /// its end on open, before the index gets there.
    pub known_end: Option<(u64, u64)>,
}

impl Player {
    /// Opens a journal at its start (the header applied): the first frame needs nothing more.
    /// `cache`: the directory of the on-disk index cache, if one is to be used.
    pub fn open(path: &Path, cache: Option<PathBuf>) -> Result<Player, JournalError> {
        let (index, files) = super::open_index(path, cache)?;
        let mut p = Player {
            index,
            files,
            state: Fold::new(crate::hazards::lints()),
            applied: 0,
            reader: None,
            ahead: None,
            at_end: false,
            checkpointed: None,
            probed: false,
            known_end: None,
        };
        p.reader = Some(JournalReader::open(path)?);
        p.step();
        let minor = p.state.header.as_ref().map_or(0, |h| h.format_minor);
        if minor >= 1 && p.files.len() == 1 {
            p.checkpointed = p.files.first().cloned();
            p.known_end = checkpoint::last_record(path).ok().flatten().map(|(seq, t)| (seq + 1, t));
        }
        Ok(p)
    }

    /// Can a seek past the index start from a checkpoint inside the journal? (As far as is
    /// known: a journal that turns out to have none answers no from then on.)
    pub fn checkpointed(&self) -> bool {
        self.checkpointed.is_some()
    }

    /// Has the index got as far as `moment`?
    fn indexed(&self, moment: Moment) -> bool {
        let idx = self.index.read().unwrap_or_else(PoisonError::into_inner);
        idx.complete
            || match moment {
                Moment::Time(t) => t <= idx.end_t,
                Moment::Events(n) => n <= idx.events,
            }
    }

    /// Moves to `moment` from the checkpoint inside the journal nearest before it (or folds on
    /// from here when that is nearer). False, and nothing moved, when the journal has no
    /// checkpoint where one is due: it is then seeked through the index only.
    pub fn seek_in_journal(&mut self, moment: Moment) -> bool {
        let Some(path) = self.checkpointed.clone() else { return false };
        if !self.probed {
            // Once: a journal of format 1.1 written by other means may hold none.
            self.probed = true;
            if !checkpoint::holds_checkpoints(&path).unwrap_or(false) {
                self.checkpointed = None;
                return false;
            }
        }
        let backwards = match moment {
            Moment::Time(t) => t < self.state.now,
            Moment::Events(n) => n < self.applied,
        };
        // Forwards, a checkpoint at or behind here is no better than folding on.
        let here = if backwards { 0 } else { self.applied };
        let _hold = HoldIndexer::new(&self.index);
        match checkpoint::nearest(&path, moment, here) {
            Ok(Nearest::Found(found)) => {
                let found = *found;
                self.ahead = None;
                self.at_end = false;
                self.state.replace(found.state);
                self.applied = found.applied;
                self.reader = JournalReader::open_at(&self.files, Position { file: 0, offset: found.next }).ok();
            }
            Ok(Nearest::Behind) => {}
            Ok(Nearest::FromStart) => {
                if backwards {
                    self.restart_from(|_| None);
                }
            }
            Ok(Nearest::Absent) | Err(_) => {
                self.checkpointed = None;
                return false;
            }
        }
        match moment {
            Moment::Time(t) => self.advance_to_time(t),
            Moment::Events(n) => while self.applied < n && self.step() {},
        }
        true
    }

    /// Applies the next event; returns false at the end.
    pub fn step(&mut self) -> bool {
        let next = match self.ahead.take() {
            Some(e) => Some(e),
            None => self.read_next(),
        };
        if let Some(e) = next {
            self.state.apply(&e);
            self.applied += 1;
            true
        } else {
            self.at_end = true;
            false
        }
    }

    fn read_next(&mut self) -> Option<Event> {
        let r = self.reader.as_mut()?;
        match r.next_event() {
            Ok(Some(e)) => Some(e),
            _ => None,
        }
    }

    /// `t` of the next event, if any.
    pub fn next_t(&mut self) -> Option<u64> {
        if self.ahead.is_none() {
            self.ahead = self.read_next();
        }
        self.ahead.as_ref().map(|e| e.t)
    }

    /// Moves to the state after `n` events (`n >= 1`: the header is always applied).
    pub fn seek_to_event(&mut self, n: u64) {
        let n = n.max(1);
        if !self.indexed(Moment::Events(n)) && self.seek_in_journal(Moment::Events(n)) {
            return;
        }
        if n < self.applied || self.leaps_ahead(|idx| idx.checkpoint_before(n)) {
            self.restart_from(|idx| idx.checkpoint_before(n).cloned());
        }
        while self.applied < n && self.step() {}
    }

    /// Does the checkpoint `pick` chooses lie far enough ahead (half an interval) that starting
    /// from it beats folding on from here? Checkpoints may be sparser than
    /// [`index::CHECKPOINT_EVERY`] (a cache thinned to its budget, a long recording), so the
    /// question is asked of the checkpoint itself.
    fn leaps_ahead(&self, pick: impl FnOnce(&index::Index) -> Option<&index::Checkpoint>) -> bool {
        let idx = self.index.read().unwrap_or_else(PoisonError::into_inner);
        pick(&idx).is_some_and(|c| c.applied > self.applied + index::CHECKPOINT_EVERY / 2)
    }

    /// Moves to the last event at or before session time `t`.
    pub fn seek_to_time(&mut self, t: u64) {
        if !self.indexed(Moment::Time(t)) && self.seek_in_journal(Moment::Time(t)) {
            return;
        }
        if t < self.state.now || self.leaps_ahead(|idx| idx.checkpoint_at_time(t)) {
            self.restart_from(|idx| idx.checkpoint_at_time(t).cloned());
        }
        self.advance_to_time(t);
    }

    /// Plays forward to session time `t` (never backwards).
    pub fn advance_to_time(&mut self, t: u64) {
        while self.next_t().is_some_and(|nt| nt <= t) {
            self.step();
        }
        if self.ahead.is_none() {
            self.at_end = self.next_t().is_none();
        }
    }

    fn restart_from(&mut self, pick: impl FnOnce(&index::Index) -> Option<index::Checkpoint>) {
        let picked = {
            let idx = self.index.read().unwrap_or_else(PoisonError::into_inner);
            pick(&idx)
        };
        // A cached state that cannot be read back: fold from the start instead.
        let found: Option<(u64, Position, std::sync::Arc<State>)> =
            picked.and_then(|c| c.state.get().map(|s| (c.applied, c.pos, s)));
        self.ahead = None;
        self.at_end = false;
        match found {
            Some((applied, pos, state)) => {
                self.state.replace((*state).clone());
                self.applied = applied;
                self.reader = JournalReader::open_at(&self.files, pos).ok();
            }
            None => {
                // Not indexed yet that far back: from the start.
                self.state.replace(State::default());
                self.applied = 0;
                self.reader = self.files.first().and_then(|f| {
                    if self.files.len() == 1 {
                        JournalReader::open(f).ok()
                    } else {
                        f.parent().and_then(|d| JournalReader::open(d).ok())
                    }
                });
                self.step();
            }
        }
    }

    /// The next (or previous) stop-related mark from the current position.
    pub fn mark(&self, forward: bool) -> Option<Mark> {
        let idx = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let here = self.applied.saturating_sub(1);
        if forward {
            idx.marks.iter().find(|m| m.n > here).copied()
        } else {
            idx.marks.iter().rev().find(|m| m.n < here).copied()
        }
    }

    /// Moves to just after a mark's event.
    pub fn jump_to_mark(&mut self, mark: Mark) {
        self.seek_to_event(mark.n + 1);
    }
}

/// Holds the indexer while it lives (a seek folding on its own).
struct HoldIndexer(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl HoldIndexer {
    fn new(index: &SharedIndex) -> HoldIndexer {
        let hold = index.read().unwrap_or_else(PoisonError::into_inner).hold.clone();
        hold.store(true, std::sync::atomic::Ordering::Release);
        HoldIndexer(hold)
    }
}

impl Drop for HoldIndexer {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
