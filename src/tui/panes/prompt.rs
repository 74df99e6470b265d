//! The typing prompts: the log search of `/` ([`Overlay::Search`]) and replay's go-to of `:`
//! ([`Overlay::Goto`]). The typed text lives in the overlay; Enter commits it, Esc cancels.

use crate::state::State;
use crate::tui::action::{Action, ReplayCmd};
use crate::tui::app::{Overlay, Ui};
use crate::tui::keymap::{Command, Key};

/// Types `key` into an open prompt; `true` if it was taken as text.
pub(crate) fn type_key(key: Key, ui: &mut Ui) -> bool {
    let (Overlay::Search { input } | Overlay::Goto { input }) = &mut ui.overlay else { return false };
    match key {
        Key::Char(c) => input.push(c),
        Key::Backspace => {
            input.pop();
        }
        _ => return false,
    }
    true
}

/// Pastes the first line of `text` into an open prompt; `true` if one was open.
pub(crate) fn paste(text: &str, ui: &mut Ui) -> bool {
    let (Overlay::Search { input } | Overlay::Goto { input }) = &mut ui.overlay else { return false };
    input.push_str(text.lines().next().unwrap_or_default());
    true
}

/// A command bound in [`crate::tui::keymap::Context::Search`].
pub(crate) fn search(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    let overlay = std::mem::replace(&mut ui.overlay, Overlay::None);
    if let (Command::Yes, Overlay::Search { input }) = (cmd, overlay) {
        super::log::search(input, ui, state);
    }
    None
}

/// A command bound in [`crate::tui::keymap::Context::Goto`].
pub(crate) fn goto(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    let overlay = std::mem::replace(&mut ui.overlay, Overlay::None);
    let (Command::Yes, Overlay::Goto { input }) = (cmd, overlay) else { return None };
    let started = state.header.as_ref().map_or(0, |h| h.started_unix_ms);
    match crate::replay::clock::parse_target(&input, started) {
        Ok(t) => Some(Action::Replay(ReplayCmd::Seek(t))),
        Err(e) => {
            ui.notify(e.to_string());
            None
        }
    }
}
