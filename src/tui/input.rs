//! Keys and mouse to actions, purely: `(event, &mut Ui, &State) -> Option<Action>`. The
//! `State` is the one on screen (the frozen one while paused). A key is looked up in the one
//! table ([`keymap::lookup`]) for the contexts in force, and its command handed to the pane or
//! overlay of the context it was bound in ([`panes::run`]).

use super::action::Action;
use super::app::{Overlay, Pane, Ui, View};
use super::keymap::{self, Command, Context, Key};
use super::layout::areas;
use super::panes;
use crate::state::State;
use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};

/// Lines a mouse wheel notch scrolls.
const WHEEL: usize = 3;

pub(crate) fn on_key(ev: KeyEvent, ui: &mut Ui, state: &State) -> Option<Action> {
    let key = Key::from_event(ev)?;
    if panes::prompt::type_key(key, ui) {
        return None;
    }
    let binding = keymap::lookup(key, &keymap::contexts(ui))?;
    panes::run(binding.cmd, binding.ctx, ui, state)
}

pub(crate) fn on_mouse(ev: MouseEvent, ui: &mut Ui, state: &State) -> Option<Action> {
    let up = match ev.kind {
        MouseEventKind::ScrollUp => true,
        MouseEventKind::ScrollDown => false,
        MouseEventKind::Down(MouseButton::Left) => {
            click(ev.column, ev.row, ui, state);
            return None;
        }
        _ => return None,
    };
    let ctx = match ui.overlay {
        Overlay::Help { .. } => Context::Help,
        Overlay::None => {
            ui.focus = pane_at(ev.column, ev.row, ui, state)?;
            keymap::focused_pane(ui)
        }
        _ => return None,
    };
    if ctx == Context::Log {
        // One step of WHEEL lines, not WHEEL steps of one.
        panes::log::scroll(ui, state, WHEEL, up);
        return None;
    }
    let cmd = if up { Command::Up } else { Command::Down };
    for _ in 0..WHEEL {
        panes::run(cmd, ctx, ui, state);
    }
    None
}

/// A paste goes into an open prompt (its first line); `true` if one took it.
pub(crate) fn on_paste(text: &str, ui: &mut Ui) -> bool {
    panes::prompt::paste(text, ui)
}

/// The pane drawn at a screen position.
fn pane_at(col: u16, row: u16, ui: &Ui, state: &State) -> Option<Pane> {
    let a = areas(ui.screen, ui, state);
    let pos = ratatui::layout::Position { x: col, y: row };
    [(a.main, Pane::Nodes), (a.log, Pane::Log), (a.hazards, Pane::Hazards)]
        .into_iter()
        .find_map(|(area, pane)| area.contains(pos).then_some(pane))
}

/// A left click focuses the pane under it, and selects the table row or hazard clicked.
fn click(col: u16, row: u16, ui: &mut Ui, state: &State) {
    if ui.overlay != Overlay::None {
        return;
    }
    let Some(pane) = pane_at(col, row, ui, state) else { return };
    ui.focus = pane;
    match pane {
        Pane::Nodes if ui.view == View::Table => panes::table::click(row, ui, state),
        Pane::Hazards => panes::hazards::click(row, ui, state),
        Pane::Nodes | Pane::Log => {}
    }
}

#[cfg(test)]
mod tests;
