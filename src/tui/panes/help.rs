//! The `?` help screen: its scroll lives in [`Overlay::Help`]; its keys scroll and close it.

use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Overlay, Ui};
use crate::tui::keymap::Command;
use crate::tui::views::help::max_scroll;

/// A command bound in [`crate::tui::keymap::Context::Help`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, _state: &State) -> Option<Action> {
    if cmd == Command::Back {
        ui.overlay = Overlay::None;
        return None;
    }
    let page = ui.screen.height.saturating_sub(4).max(1);
    let max = max_scroll(ui.screen, ui.replay.is_some());
    if let Overlay::Help { scroll } = &mut ui.overlay {
        *scroll = super::moved(*scroll, cmd, page, max);
    }
    None
}
