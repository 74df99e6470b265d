//! Journals: every event of a session, one JSON line each, header first.
//!
//! Written losslessly off the hub's thread; read back up to the last whole line when a crash
//! tore the tail.

mod paths;
mod reader;
mod writer;

pub use paths::{default_journal_path, journals_dir, state_dir};
pub use reader::{
    DAMAGED_LOCATED, DamagedAt, JournalError, JournalReader, Position, ReadSummary, describe_damage, read_all,
};
pub use writer::JournalWriter;
