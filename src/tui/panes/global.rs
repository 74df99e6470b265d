//! The keys that work anywhere no prompt is open: the stop keys (asked on the confirm line),
//! pause, help, quit, moving the focus between panes, and the log's keys.

use super::{confirm, log, picker};
use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Overlay, Pane, Ui};
use crate::tui::keymap::Command;
use crate::tui::layout::areas;

/// A command bound in [`crate::tui::keymap::Context::Global`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    match cmd {
        Command::Stop => confirm::ask_stop(ui, state),
        Command::Kill => confirm::ask_kill(ui, state),
        Command::StopAll => confirm::ask_stop_all(ui, state),
        Command::Signal => picker::open(ui, state),
        Command::Quit => return confirm::quit(ui, state),
        Command::Pause => {
            ui.paused = !ui.paused;
            return Some(if ui.paused { Action::Pause } else { Action::Resume });
        }
        Command::Help => ui.overlay = Overlay::Help { scroll: 0 },
        Command::FocusNext | Command::FocusPrev => focus(cmd == Command::FocusNext, ui, state),
        Command::LogFilter | Command::LogFollow | Command::Search | Command::SearchNext | Command::SearchPrev => {
            return log::run(cmd, ui, state);
        }
        _ => {}
    }
    None
}

/// Tab, Shift-Tab: the next or previous pane, skipping the hazards panel while it is hidden.
fn focus(forward: bool, ui: &mut Ui, state: &State) {
    let hazards_shown = areas(ui.screen, ui, state).hazards.height > 0;
    let turn = |p: Pane| if forward { p.next() } else { p.prev() };
    let mut next = turn(ui.focus);
    if next == Pane::Hazards && !hazards_shown {
        next = turn(next);
    }
    ui.focus = next;
}
