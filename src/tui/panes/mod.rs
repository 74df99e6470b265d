//! The cockpit's panes and overlays, a file each: the state each one keeps (selection,
//! scroll, highlight) and the commands of its `Context`. `run` hands a command to the
//! file of the context it was bound in; `crate::tui::keymap` is the one table of keys.
//!
//! A new pane is a file here (its state and its commands), its arm in `run`, its
//! `Context` and keys in the keymap table, its state as a field of [`Ui`], and its drawing
//! in [`crate::tui::views`] (views stay pure functions of the state and the panes' state).

pub(crate) mod closed;
pub(crate) mod confirm;
pub(crate) mod detail;
pub(crate) mod global;
pub(crate) mod hazards;
pub(crate) mod help;
pub(crate) mod log;
pub(crate) mod picker;
pub(crate) mod prompt;
pub(crate) mod replay;
pub mod table;

use super::action::Action;
use super::app::Ui;
use super::keymap::{Command, Context};
use crate::state::State;

/// Carries out one command in the context it was bound in.
pub(crate) fn run(cmd: Command, ctx: Context, ui: &mut Ui, state: &State) -> Option<Action> {
    let run = match ctx {
        Context::Global => global::run,
        Context::Table => table::run,
        Context::Detail => detail::run,
        Context::Log => log::run,
        Context::Hazards => hazards::run,
        Context::Help => help::run,
        Context::Confirm => confirm::run,
        Context::Picker => picker::run,
        Context::Search => prompt::search,
        Context::Goto => prompt::goto,
        Context::Closed => closed::run,
        Context::Replay => replay::run,
    };
    run(cmd, ui, state)
}

/// A scroll position moved by `cmd` (a line, a page, to either end), within `0..=max`.
fn moved(cur: u16, cmd: Command, page: u16, max: u16) -> u16 {
    match cmd {
        Command::Up => cur.saturating_sub(1),
        Command::Down => cur.saturating_add(1),
        Command::PageUp => cur.saturating_sub(page),
        Command::PageDown => cur.saturating_add(page),
        Command::Home => 0,
        _ => max,
    }
    .min(max)
}
