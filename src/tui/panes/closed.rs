//! The box shown once the link to the session closed: reconnect (attach) or quit.

use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::Ui;
use crate::tui::keymap::Command;

/// A command bound in [`crate::tui::keymap::Context::Closed`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    match cmd {
        Command::Reconnect if ui.link.can_reconnect => Some(Action::Reconnect),
        Command::Reconnect => {
            ui.notify("this cockpit cannot reconnect: run `gracewatch attach` again");
            None
        }
        Command::Quit => super::confirm::quit(ui, state),
        _ => None,
    }
}
