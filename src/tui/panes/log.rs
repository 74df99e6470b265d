//! The log pane: where the log is scrolled, whether it shows only the selected node, the
//! committed search; its keys scroll it, and the global log keys (`f`, `G`, `/`, `n`, `N`)
//! act on it.

use crate::state::State;
use crate::tui::action::Action;
use crate::tui::app::{Overlay, Ui};
use crate::tui::keymap::Command;
use crate::tui::layout::{self, areas};
use crate::tui::logview;

/// The log pane's own state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPane {
    /// Only the selected node's lines.
    pub only_selected: bool,
    /// Absolute number (`log.dropped + index`) of the bottom line shown; `None` follows the end.
    pub anchor: Option<u64>,
    /// The committed search, highlighted; `n`/`N` move between its matches.
    pub search: Option<String>,
}

/// A command bound in [`crate::tui::keymap::Context::Log`], or one of the global log keys.
pub(crate) fn run(cmd: Command, ui: &mut Ui, state: &State) -> Option<Action> {
    let page = layout::inner_rows(areas(ui.screen, ui, state).log).max(1);
    match cmd {
        Command::Up => scroll(ui, state, 1, true),
        Command::Down => scroll(ui, state, 1, false),
        Command::PageUp => scroll(ui, state, page, true),
        Command::PageDown => scroll(ui, state, page, false),
        Command::Home => {
            // The oldest line at the top: the bottom is a page further on.
            let filter = ui.log_filter(state);
            ui.log.anchor = logview::top(&state.log, filter);
            scroll(ui, state, page.saturating_sub(1), false);
        }
        Command::LogFilter => {
            ui.log.only_selected = !ui.log.only_selected;
            ui.log.anchor = None;
            match ui.log_filter(state) {
                Some(name) => ui.notify(format!("log: {name} only")),
                None => ui.notify("log: every node"),
            }
        }
        Command::Search => ui.overlay = Overlay::Search { input: ui.log.search.clone().unwrap_or_default() },
        Command::SearchNext | Command::SearchPrev => {
            let Some(q) = ui.log.search.clone() else {
                ui.notify("no search: / to search the log");
                return None;
            };
            let filter = ui.log_filter(state);
            match logview::find(&state.log, filter, ui.log.anchor, &q, cmd == Command::SearchNext) {
                Some(abs) => ui.log.anchor = Some(abs),
                None => ui.notify(format!("no match for {q:?}")),
            }
        }
        Command::End | Command::LogFollow => ui.log.anchor = None,
        _ => {}
    }
    None
}

/// Commits the typed search (Enter on the search line): shows its newest match.
pub(crate) fn search(input: String, ui: &mut Ui, state: &State) {
    if input.is_empty() {
        ui.log.search = None;
        return;
    }
    let filter = ui.log_filter(state);
    match logview::newest(&state.log, filter, &input) {
        Some(abs) => ui.log.anchor = Some(abs),
        None => ui.notify(format!("no match for {input:?}")),
    }
    ui.log.search = Some(input);
}

/// Scrolls `by` lines older (`up`) or newer.
pub(crate) fn scroll(ui: &mut Ui, state: &State, by: usize, up: bool) {
    let filter = ui.log_filter(state);
    let page = layout::inner_rows(areas(ui.screen, ui, state).log);
    let mut anchor = logview::scroll(&state.log, filter, ui.log.anchor, by, up);
    // Scrolling up from the end: do not leave fewer lines than a page above the bottom.
    if up {
        let shown = logview::window(&state.log, filter, anchor, page).len();
        if shown < page {
            anchor = logview::top(&state.log, filter)
                .and_then(|t| logview::scroll(&state.log, filter, Some(t), page.saturating_sub(1), false));
            if anchor.is_none() {
                // The whole log fits: keep following.
                ui.log.anchor = None;
                return;
            }
        }
    }
    ui.log.anchor = anchor;
}
