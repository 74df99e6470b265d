//! Where each pane goes, as a pure function of the screen size, the `Ui` and the state. The
//! views draw into these areas and the mouse handler maps clicks back through them.

use super::app::{Overlay, Ui, View};
use crate::state::State;
use ratatui::layout::Rect;

/// At least this wide: the log and the hazards sit side by side, all table columns fit.
pub(crate) const WIDE: u16 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Areas {
    pub header: Rect,
    /// The nodes table or the detail pane.
    pub main: Rect,
    pub log: Rect,
    /// Zero-sized when hidden (narrow screens in detail view).
    pub hazards: Rect,
    /// The confirm or search line, when one is open.
    pub prompt: Option<Rect>,
    /// Replay's timeline bar, above the prompt and the footer.
    pub timeline: Option<Rect>,
    pub footer: Rect,
}

pub(crate) fn areas(screen: Rect, ui: &Ui, state: &State) -> Areas {
    let Rect { x, y, width: w, height: h } = screen;
    let header = Rect::new(x, y, w, h.min(1));
    let footer = Rect::new(x, (y + h).saturating_sub(1).max(y), w, u16::from(h >= 2));
    let prompt_h = if h >= 8 { prompt_lines(ui, w) } else { u16::from(h >= 4 && prompt_lines(ui, w) > 0) };
    let timeline_h = u16::from(ui.replay.is_some() && h >= 6);
    let body_top = y + header.height;
    let body_h = h.saturating_sub(header.height + footer.height + prompt_h + timeline_h);
    let timeline = (timeline_h > 0).then(|| Rect::new(x, body_top + body_h, w, timeline_h));
    let prompt = (prompt_h > 0).then(|| Rect::new(x, body_top + body_h + timeline_h, w, prompt_h));
    let wide = w >= WIDE;

    // The main area: the table as tall as its rows (bounded), the detail pane most of the body.
    let rows = state.nodes.len() as u16;
    let main_h = match ui.view {
        View::Table => {
            let cap = if wide { body_h * 55 / 100 } else { body_h / 2 };
            (rows.saturating_add(3)).min(cap).max(5.min(body_h))
        }
        View::Detail => {
            if wide {
                body_h * 65 / 100
            } else {
                body_h.saturating_sub(6)
            }
        }
    }
    .min(body_h);
    let main = Rect::new(x, body_top, w, main_h);
    let rest_top = body_top + main_h;
    let rest_h = body_h - main_h;

    let (log, hazards) = if wide {
        let log_w = w * 62 / 100;
        (Rect::new(x, rest_top, log_w, rest_h), Rect::new(x + log_w, rest_top, w - log_w, rest_h))
    } else if ui.view == View::Detail {
        (Rect::new(x, rest_top, w, rest_h), Rect::new(x, rest_top, 0, 0))
    } else {
        let feed = state.hazard_feed.len() as u16;
        let haz_h = feed.saturating_add(2).clamp(3, 6).min(rest_h.saturating_sub(4));
        (Rect::new(x, rest_top + haz_h, w, rest_h - haz_h), Rect::new(x, rest_top, w, haz_h))
    };
    Areas { header, main, log, hazards, prompt, timeline, footer }
}

/// Lines the confirm or search prompt needs at `width` (a long plan wraps, up to 3 lines).
pub(crate) fn prompt_lines(ui: &Ui, width: u16) -> u16 {
    match &ui.overlay {
        Overlay::Confirm(c) => {
            let len = c.text.chars().count() + 2;
            len.div_ceil(usize::from(width.max(1))).clamp(1, 3) as u16
        }
        Overlay::Search { .. } | Overlay::Goto { .. } => 1,
        _ => 0,
    }
}

/// Rows of table data that fit in the main area (borders and the header row excluded).
pub(crate) fn table_rows(main: Rect) -> usize {
    usize::from(main.height.saturating_sub(3))
}

/// Lines inside a bordered pane.
pub(crate) fn inner_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(2))
}
