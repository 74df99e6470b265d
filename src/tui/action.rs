//! What a key press asks the driver to do beyond changing the `Ui`.

use crate::control::protocol::Request;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Send this request to the supervisor (stop, kill, stop all, signal).
    Send(Request),
    /// Freeze the display on the state shown now; updates keep folding in behind it.
    Pause,
    /// Show the live state again.
    Resume,
    /// Leave the cockpit now (detach, or after the link closed, or once everything stopped).
    Quit,
    /// Call the reconnect function (attach after the link closed).
    Reconnect,
    /// Move the replay (replay only).
    Replay(ReplayCmd),
}

/// What the replay driver does with its player and clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCmd {
    PlayPause,
    Faster,
    Slower,
    /// One event forward or back (pauses).
    Step {
        forward: bool,
    },
    /// The next or previous stop-related event.
    Mark {
        forward: bool,
    },
    ToStart,
    ToEnd,
    /// To this session time (ns).
    Seek(u64),
}
