//! The nodes table: which node is selected, where the table is scrolled, how it is sorted, and
//! the table's keys (move, page, open in detail, sort) and clicks.

use crate::state::{NodeState, Phase, State};
use crate::tui::action::Action;
use crate::tui::app::Ui;
use crate::tui::keymap::Command;
use crate::tui::layout::{self, areas};

/// The table's own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePane {
    /// The selected node by name (stable across sorting and updates); `None`: the first row.
    pub selected: Option<String>,
    /// First row shown.
    pub offset: usize,
    pub sort: SortKey,
    pub sort_desc: bool,
}

impl Default for TablePane {
    fn default() -> Self {
        TablePane { selected: None, offset: 0, sort: SortKey::Declared, sort_desc: false }
    }
}

impl TablePane {
    /// The rows in display order.
    pub fn rows<'a>(&self, state: &'a State) -> Vec<&'a NodeState> {
        let mut rows: Vec<&NodeState> = state.nodes.values().collect();
        match self.sort {
            SortKey::Declared => {}
            SortKey::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            // Stable sorts: ties keep manifest order.
            SortKey::State => rows.sort_by_key(|n| state_rank(n)),
            SortKey::Tokens => rows.sort_by_key(|n| std::cmp::Reverse(n.tokens.pending())),
            SortKey::Hazards => rows.sort_by_key(|n| std::cmp::Reverse(n.hazards.len())),
            SortKey::Cpu => rows.sort_by_key(|n| std::cmp::Reverse(n.cpu_permille)),
            SortKey::Mem => rows.sort_by_key(|n| std::cmp::Reverse(n.rss_kib)),
        }
        if self.sort_desc {
            rows.reverse();
        }
        rows
    }

    /// Index of the selected node among `rows` (0 when nothing or something gone is selected).
    pub fn selected_index(&self, rows: &[&NodeState]) -> usize {
        self.selected.as_deref().and_then(|name| rows.iter().position(|n| n.name == name)).unwrap_or(0)
    }

    /// The selected node: the named one if it exists, else the first row.
    pub fn selected_node<'a>(&self, state: &'a State) -> Option<&'a NodeState> {
        if let Some(n) = self.selected.as_deref().and_then(|name| state.node(name)) {
            return Some(n);
        }
        self.rows(state).first().copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Manifest order.
    Declared,
    Name,
    State,
    Tokens,
    Hazards,
    Cpu,
    Mem,
}

impl SortKey {
    #[must_use]
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Declared => SortKey::Name,
            SortKey::Name => SortKey::State,
            SortKey::State => SortKey::Tokens,
            SortKey::Tokens => SortKey::Hazards,
            SortKey::Hazards => SortKey::Cpu,
            SortKey::Cpu => SortKey::Mem,
            SortKey::Mem => SortKey::Declared,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Declared => "manifest order",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::Tokens => "pending tokens",
            SortKey::Hazards => "hazards",
            SortKey::Cpu => "CPU",
            SortKey::Mem => "memory",
        }
    }
}

/// Stopping first (they are what the operator is watching), then running, starting, exited.
fn state_rank(n: &NodeState) -> u8 {
    match n.phase {
        Phase::Stopping => 0,
        Phase::Running => 1,
        Phase::Starting => 2,
        Phase::Exited => 3,
    }
}

/// The first row to show so that `selected` is visible in `height` rows, starting from `offset`.
pub(crate) fn scrolled_offset(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    if height == 0 {
        return selected;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    off
}

/// A command bound in [`crate::tui::keymap::Context::Table`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    match cmd {
        Command::Open => {
            if let Some(n) = ui.selected_node(state) {
                let name = n.name.clone();
                super::detail::open(ui, name);
            }
        }
        Command::Sort => {
            ui.pin_selection(state);
            ui.table.sort = ui.table.sort.next();
            ui.table.sort_desc = false;
            ui.notify(format!("sorted by {}", ui.table.sort.label()));
        }
        Command::SortReverse => {
            ui.pin_selection(state);
            ui.table.sort_desc = !ui.table.sort_desc;
            let reversed = if ui.table.sort_desc { ", reversed" } else { "" };
            ui.notify(format!("sorted by {}{reversed}", ui.table.sort.label()));
        }
        _ => step(cmd, ui, state),
    }
    None
}

/// Moves the selection (up, down, a page, to either end), keeping it on screen.
fn step(cmd: Command, ui: &mut Ui, state: &State) {
    let main = areas(ui.screen, ui, state).main;
    let table = &mut ui.table;
    let list = table.rows(state);
    if list.is_empty() {
        return;
    }
    let h = layout::table_rows(main).max(1);
    let cur = table.selected_index(&list);
    let end = list.len() - 1;
    let next = match cmd {
        Command::Up => cur.saturating_sub(1),
        Command::Down => (cur + 1).min(end),
        Command::PageUp => cur.saturating_sub(h),
        Command::PageDown => (cur + h).min(end),
        Command::Home => 0,
        _ => end,
    };
    table.selected = Some(list[next].name.clone());
    table.offset = scrolled_offset(table.offset, next, h, list.len());
}

/// A left click at screen `row`, inside the main area showing the table: selects that row.
pub(crate) fn click(row: u16, ui: &mut Ui, state: &State) {
    let main = areas(ui.screen, ui, state).main;
    // Border, then the header row, then data rows from the shown offset.
    let first = main.y + 2;
    if row >= first && row < main.y + main.height.saturating_sub(1) {
        let table = &mut ui.table;
        let list = table.rows(state);
        let h = layout::table_rows(main);
        let off = scrolled_offset(table.offset, table.selected_index(&list), h, list.len());
        if let Some(n) = list.get(off + usize::from(row - first)) {
            table.selected = Some(n.name.clone());
            table.offset = off;
        }
    }
}
