//! Whose processes a session has: its own (`up`, headless), or someone else's taken under
//! watch (`gracewatch watch`). Each answer that differs between the two is a method here, so
//! the loop asks its mode instead of testing a flag.

use super::watch::{Targets, Watched};
use crate::supervisor::guardian::Guardian;
use std::path::PathBuf;

pub(super) enum Mode {
    /// The session started its nodes: it stops them when it ends, sweeps what they leave, and
    /// a guardian kills what is left if gracewatch itself is killed.
    Owned {
        guardian: Option<Guardian>,
        /// Where the Python client was written for the nodes (on their `PYTHONPATH`).
        python_dir: Option<PathBuf>,
    },
    /// The session watches processes it did not start: it never stops or sweeps them unasked.
    Watched(Watched),
}

impl Mode {
    /// A watched session for `targets`, or an owned one.
    pub(super) fn for_targets(targets: Option<Targets>) -> Mode {
        match targets {
            Some(targets) => Mode::Watched(Watched::new(targets)),
            None => Mode::Owned { guardian: None, python_dir: None },
        }
    }

    /// Whether the session started (and so owns) its processes.
    pub(super) fn owns(&self) -> bool {
        matches!(self, Mode::Owned { .. })
    }

    pub(super) fn watched(&self) -> Option<&Watched> {
        match self {
            Mode::Watched(w) => Some(w),
            Mode::Owned { .. } => None,
        }
    }

    pub(super) fn watched_mut(&mut self) -> Option<&mut Watched> {
        match self {
            Mode::Watched(w) => Some(w),
            Mode::Owned { .. } => None,
        }
    }

    pub(super) fn guardian(&self) -> Option<&Guardian> {
        match self {
            Mode::Owned { guardian, .. } => guardian.as_ref(),
            Mode::Watched(_) => None,
        }
    }

    pub(super) fn guardian_mut(&mut self) -> Option<&mut Guardian> {
        match self {
            Mode::Owned { guardian, .. } => guardian.as_mut(),
            Mode::Watched(_) => None,
        }
    }

    pub(super) fn python_dir(&self) -> Option<&PathBuf> {
        match self {
            Mode::Owned { python_dir, .. } => python_dir.as_ref(),
            Mode::Watched(_) => None,
        }
    }

    /// When the mode next needs the loop to wake (a watched exit's status, a rescan).
    pub(super) fn next_wake(&self) -> Option<u64> {
        self.watched().and_then(Watched::next_wake)
    }

    /// A signal to gracewatch: an owned session stops everything (and ends once it has); a
    /// watch just ends: watching is not owning.
    pub(super) fn stops_on_signal(&self) -> bool {
        self.owns()
    }

    /// Whether the session, once asked to end, waits for its processes to exit (an owned one,
    /// which stops them) or ends at once (a watch never waits for what it watches).
    pub(super) fn waits_for_exits(&self) -> bool {
        self.owns()
    }
}
