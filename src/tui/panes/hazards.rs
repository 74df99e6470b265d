//! The hazards panel: which hazard is highlighted; its keys move the highlight and open the
//! highlighted hazard's node, and a click highlights one.

use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Pane, Ui};
use crate::tui::keymap::Command;
use crate::tui::layout::{self, areas};
use crate::tui::views::hazards::visible;

/// The hazards panel's own state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardsPane {
    /// Highlighted entry, 0 = newest.
    pub cursor: usize,
}

/// A command bound in [`crate::tui::keymap::Context::Hazards`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    let cursor = ui.hazards.cursor;
    if cmd == Command::Open {
        let feed = &state.hazard_feed;
        let notice = feed.len().checked_sub(cursor + 1).and_then(|k| feed.get(k));
        if let Some(h) = notice.filter(|h| state.node(&h.node).is_some()) {
            super::detail::open(ui, h.node.clone());
            ui.focus = Pane::Nodes;
        }
        return None;
    }
    let last = state.hazard_feed.len().saturating_sub(1);
    let page = layout::inner_rows(areas(ui.screen, ui, state).hazards).max(1);
    ui.hazards.cursor = match cmd {
        Command::Up => cursor.saturating_sub(1),
        Command::Down => cursor + 1,
        Command::PageUp => cursor.saturating_sub(page),
        Command::PageDown => cursor + page,
        Command::Home => 0,
        _ => last,
    }
    .min(last);
    None
}

/// A left click at screen `row` inside the panel: highlights the hazard drawn there.
pub(crate) fn click(row: u16, ui: &mut Ui, state: &State) {
    let area = areas(ui.screen, ui, state).hazards;
    let mut y = area.y + 1;
    for (i, lines) in visible(state, ui, area) {
        let h = lines.len() as u16;
        if row >= y && row < y + h {
            ui.hazards.cursor = i;
            break;
        }
        y += h;
    }
}
