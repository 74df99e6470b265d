//! The signal picker of `x`: the node and the highlighted signal live in [`Overlay::Picker`];
//! its keys move the highlight, send the signal (SIGKILL asks first) or cancel.

use super::confirm;
use crate::event::Signal;
use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Overlay, Ui};
use crate::tui::keymap::Command;

/// The signals `x` offers, in order.
pub(crate) const PICKER_SIGNALS: [Signal; 9] = [
    Signal::TERM,
    Signal::INT,
    Signal::HUP,
    Signal::QUIT,
    Signal::USR1,
    Signal::USR2,
    Signal::KILL,
    Signal::STOP,
    Signal::CONT,
];

/// A command bound in [`crate::tui::keymap::Context::Picker`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    match cmd {
        Command::Yes => {
            let Overlay::Picker { node, index } = std::mem::replace(&mut ui.overlay, Overlay::None) else {
                return None;
            };
            let signal = PICKER_SIGNALS[index.min(PICKER_SIGNALS.len() - 1)];
            confirm::signal(node, signal, ui, state)
        }
        Command::No => {
            ui.overlay = Overlay::None;
            None
        }
        _ => {
            if let Overlay::Picker { index, .. } = &mut ui.overlay {
                *index = match cmd {
                    Command::Up => index.saturating_sub(1),
                    _ => (*index + 1).min(PICKER_SIGNALS.len() - 1),
                };
            }
            None
        }
    }
}

/// `x`: opens the picker for the selected node, if it has a process to signal.
pub(crate) fn open(ui: &mut Ui, state: &State) {
    let Some(node) = ui.selected_node(state) else { return };
    if node.phase == crate::state::Phase::Exited || node.pid.is_none() {
        ui.notify(format!("{} has no process to signal", node.name));
    } else {
        ui.overlay = Overlay::Picker { node: node.name.clone(), index: 0 };
    }
}
