//! The screen, as pure functions of `(&State, &Ui, now)`: no clock, no I/O. `now` is session
//! time in ns; the same views serve the live cockpit and replay.

pub(crate) mod closed;
pub mod confirm;
pub(crate) mod detail;
pub(crate) mod footer;
pub(crate) mod hazards;
pub(crate) mod header;
pub(crate) mod help;
pub(crate) mod log;
pub(crate) mod nodes_table;
pub(crate) mod picker;
pub(crate) mod timeline;
pub(crate) mod wrap;

use super::app::{Overlay, Pane, Ui, View};
use super::layout;
use super::theme::Theme;
use crate::state::{NodeState, State};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

/// What every view reads.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub ui: &'a Ui,
    pub now: u64,
    pub theme: &'a Theme,
}

/// The whole screen.
pub struct Screen<'a> {
    pub state: &'a State,
    pub ui: &'a Ui,
    pub now: u64,
}

impl<'a> Screen<'a> {
    pub fn new(state: &'a State, ui: &'a Ui, now: u64) -> Self {
        Screen { state, ui, now }
    }
}

impl Widget for &Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, ui) = (self.state, self.ui);
        let cx = Ctx { state, ui, now: self.now, theme: &ui.theme };
        let a = layout::areas(area, ui, state);
        let list = ui.table.rows(state);
        let selected: Option<&NodeState> =
            ui.table.selected.as_deref().and_then(|n| state.node(n)).or_else(|| list.first().copied());

        header::render(cx, a.header, buf);
        match ui.view {
            View::Table => nodes_table::render(cx, &list, a.main, buf),
            View::Detail => match selected {
                Some(node) => detail::render(cx, node, a.main, buf),
                None => nodes_table::render(cx, &list, a.main, buf),
            },
        }
        log::render(cx, selected, a.log, buf);
        if a.hazards.height > 0 {
            hazards::render(cx, a.hazards, buf);
        }
        if let Some(tl) = a.timeline {
            timeline::render(cx, tl, buf);
        }
        if let Some(p) = a.prompt {
            confirm::render(cx, p, buf);
        }
        footer::render(cx, a.footer, buf);
        match &ui.overlay {
            Overlay::Help { scroll } => help::render(cx, *scroll, area, buf),
            Overlay::Picker { node, index } => picker::render(cx, node, *index, area, buf),
            _ => {
                if let Some(reason) = ui.link.closed.as_ref().filter(|_| ui.link.finished.is_none()) {
                    closed::render(cx, reason, area, buf);
                }
            }
        }
    }
}

/// A bordered pane with its title; the focused pane's border stands out.
pub(crate) fn pane<'t>(title: impl Into<Line<'t>>, focused: bool, theme: &Theme) -> Block<'t> {
    let style = if focused { theme.border_focus } else { theme.border };
    Block::bordered().border_style(style).title(title.into().style(if focused { theme.title } else { theme.text }))
}

/// Is `pane` the focused one (and no prompt owns the keyboard)?
pub(crate) fn focused(ui: &Ui, pane: Pane) -> bool {
    ui.focus == pane
        && matches!(ui.overlay, Overlay::None | Overlay::Confirm(_) | Overlay::Search { .. } | Overlay::Goto { .. })
}
