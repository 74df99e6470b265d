//! What a key press asks the driver to do beyond changing the `Ui`.

use crate::control::protocol::Request;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
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
}
