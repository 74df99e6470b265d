//! Replay's controls: the keys that move the replay clock (the replay driver carries them
//! out), the go-to prompt, and the stop keys, refused.

use crate::state::State;
use crate::tui::action::{Action, ReplayCmd};
use crate::tui::app::{Overlay, Ui};
use crate::tui::keymap::Command;

/// What `s`, `K`, `S` and `x` say in replay.
pub(crate) const STOP_DISABLED: &str = "replay: stop actions are disabled — this is a recording";

/// A command bound in [`crate::tui::keymap::Context::Replay`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, _state: &State) -> Option<Action> {
    let move_to = match cmd {
        Command::PlayPause => ReplayCmd::PlayPause,
        Command::Faster => ReplayCmd::Faster,
        Command::Slower => ReplayCmd::Slower,
        Command::StepForward => ReplayCmd::Step { forward: true },
        Command::StepBack => ReplayCmd::Step { forward: false },
        Command::NextMark => ReplayCmd::Mark { forward: true },
        Command::PrevMark => ReplayCmd::Mark { forward: false },
        Command::ToStart => ReplayCmd::ToStart,
        Command::ToEnd => ReplayCmd::ToEnd,
        Command::Goto => {
            ui.overlay = Overlay::Goto { input: String::new() };
            return None;
        }
        Command::StopDisabled => {
            ui.notify(STOP_DISABLED);
            return None;
        }
        _ => return None,
    };
    Some(Action::Replay(move_to))
}
