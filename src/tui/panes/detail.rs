//! The detail pane: the selected node in full, scrolled; its keys scroll it and go back to the
//! table.

use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Ui, View};
use crate::tui::keymap::Command;
use crate::tui::layout::{self, areas};
use crate::tui::views::detail::max_scroll;

/// The detail pane's own state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailPane {
    /// Lines scrolled down.
    pub scroll: u16,
}

/// Shows `node` in detail, from the top.
pub(crate) fn open(ui: &mut Ui, node: String) {
    ui.table.selected = Some(node);
    ui.view = View::Detail;
    ui.detail.scroll = 0;
}

/// A command bound in [`crate::tui::keymap::Context::Detail`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    if cmd == Command::Back {
        ui.view = View::Table;
        return None;
    }
    let main = areas(ui.screen, ui, state).main;
    let page = layout::inner_rows(main).max(1) as u16;
    let max = ui.selected_node(state).map_or(0, |n| max_scroll(main, n, state, state.now, ui));
    ui.detail.scroll = super::moved(ui.detail.scroll, cmd, page, max);
    None
}
