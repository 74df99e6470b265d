//! Replaying a journal: the same fold the live cockpit uses, driven by a replay clock.
//!
//! - [`index`]: built on a background thread on first open: folded-state checkpoints every
//!   [`index::CHECKPOINT_EVERY`] events, and the marks of every stop-related event.
//! - [`cache`]: the index kept on disk, so that a journal opened again is seekable at once.
//! - [`open`]: a journal's index, from the cache or built (the one module that uses both).
//! - [`recorder`]: the same index built while a session writes its journal, left in the cache
//!   so that even the first replay of a large journal seeks at once.
//! - [`clock`]: which session time is on screen as wall time passes, at a speed; the targets
//!   of the go-to prompt.
//! - [`player`]: the state at any moment; seeks start from the nearest checkpoint (of the
//!   index, or inside the journal itself: [`crate::journal::checkpoint`]), so a seek anywhere
//!   costs at most one checkpoint interval of folding.

pub mod cache;
pub mod clock;
pub mod index;
pub mod open;
pub mod player;
pub mod recorder;

pub use clock::{ReplayClock, Speed};
pub use index::{Index, Mark, MarkKind};
pub use open::open_index;
pub use player::Player;
