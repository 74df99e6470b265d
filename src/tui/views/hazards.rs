//! The hazards panel: every hazard raised, newest first, as one sentence naming the node.
//! Hazards that have since cleared are dimmed.

use super::wrap::wrap;
use super::{Ctx, focused, pane};
use crate::state::State;
use crate::tui::app::{Pane, Ui};
use crate::tui::layout;
use crate::util::fmt_t;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

/// The hazards on screen in `area`: (index from the newest, its wrapped lines), so that the
/// highlighted one is visible. Shared with the mouse handler.
pub(crate) fn visible(state: &State, ui: &Ui, area: Rect) -> Vec<(usize, Vec<Line<'static>>)> {
    let h = layout::inner_rows(area);
    let width = usize::from(area.width.saturating_sub(2));
    let feed = &state.hazard_feed;
    if h == 0 || feed.is_empty() {
        return Vec::new();
    }
    let t = &ui.theme;
    let item = |i: usize| -> Vec<Line<'static>> {
        let Some(notice) = feed.len().checked_sub(i + 1).and_then(|k| feed.get(k)) else { return Vec::new() };
        let live = state.node(&notice.node).is_some_and(|n| n.has_hazard(notice.id));
        let spans = vec![
            Span::styled(if live { "⚠ " } else { "· " }, if live { t.bad } else { t.dim }),
            Span::styled(format!("{} ", fmt_t(notice.t)), t.dim),
            Span::styled(notice.node.clone(), if live { t.warn } else { t.dim }),
            Span::styled(format!(" {}", notice.sentence), if live { t.text } else { t.dim }),
            Span::styled(format!(" [{}]", notice.id), t.dim),
        ];
        wrap(&spans, width, 2)
    };
    let cursor = ui.hazards.cursor.min(feed.len() - 1);
    // Start at the cursor and walk back while the items up to the cursor still fit.
    let mut first = cursor;
    let mut used = item(cursor).len();
    while first > 0 {
        let above = item(first - 1).len();
        if used + above > h {
            break;
        }
        used += above;
        first -= 1;
    }
    let mut out = Vec::new();
    let mut total = 0;
    for i in first..feed.len() {
        if total >= h {
            break;
        }
        let lines = item(i);
        total += lines.len();
        out.push((i, lines));
    }
    out
}

pub(crate) fn render(cx: Ctx, area: Rect, buf: &mut Buffer) {
    let (state, ui, t) = (cx.state, cx.ui, cx.theme);
    let feed = &state.hazard_feed;
    let is_focused = focused(ui, Pane::Hazards);
    let active: usize = state.nodes.values().map(|n| n.hazards.len()).sum();
    let title = if feed.is_empty() {
        " hazards ".to_string()
    } else {
        format!(" hazards ({active} active, {} raised) ", feed.len())
    };
    let block = pane(title, is_focused, t);
    let lines: Vec<Line> = if feed.is_empty() {
        // A process not sampled yet (still starting up) has not been judged: it does not
        // "look able to stop cleanly" yet.
        let unjudged =
            state.nodes.values().filter(|n| n.pid.is_some() && n.exit.is_none() && n.leader().is_none()).count();
        let text = match unjudged {
            0 => "none: every node looks able to stop cleanly".to_string(),
            1 => "none so far: 1 node is not judged yet (still starting up)".to_string(),
            n => format!("none so far: {n} nodes are not judged yet (still starting up)"),
        };
        vec![Line::styled(text, t.dim)]
    } else {
        visible(state, ui, area)
            .into_iter()
            .flat_map(|(i, lines)| {
                let highlight = is_focused && i == ui.hazards.cursor;
                lines.into_iter().map(move |l| if highlight { l.patch_style(t.selected) } else { l })
            })
            .collect()
    };
    Paragraph::new(lines).block(block).render(area, buf);
}
