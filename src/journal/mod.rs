//! Journals: every event of a session, one JSON line each, header first, with a checkpoint of
//! the folded state every so often ([`checkpoint`]).
//!
//! Written losslessly off the hub's thread; read back up to the last whole line when a crash
//! tore the tail.
//!
//! The header's format version is `major.minor` ([`crate::event::FORMAT_VERSION`],
//! [`crate::event::FORMAT_MINOR`]): a reader reads every minor of its major (a newer minor only
//! adds records an older reader skips, such as checkpoints) and refuses a newer major, naming
//! both.

pub mod checkpoint;
mod paths;
mod reader;
mod writer;

pub use paths::{default_journal_path, journals_dir, state_dir};
pub use reader::{
    DAMAGED_LOCATED, DamagedAt, JournalError, JournalReader, Position, ReadSummary, describe_damage, read_all,
};
pub use writer::{JournalWriter, WriteError};
