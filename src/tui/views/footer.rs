//! The bottom line: a notice for a moment, else the keys that work here (from the keymap).

use super::Ctx;
use crate::tui::keymap;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(crate) fn render(cx: Ctx, area: Rect, buf: &mut Buffer) {
    let (ui, t) = (cx.ui, cx.theme);
    if let Some(n) = &ui.notice {
        if n.until.is_none_or(|u| cx.now < u) {
            Line::from(vec![Span::styled(" ▸ ", t.key), Span::styled(n.text.clone(), t.warn)]).render(area, buf);
            return;
        }
    }
    if ui.link.finished.is_some() {
        // The session is over; this is its final state.
        Line::from(vec![
            Span::styled(" ■ ", t.key),
            Span::styled("all nodes stopped — ", t.text),
            Span::styled("q", t.key),
            Span::styled(" to quit", t.text),
        ])
        .render(area, buf);
        return;
    }
    let width = usize::from(area.width);
    let len = |(key, what): &(String, &str)| key.chars().count() + what.chars().count() + 3;
    // `? help` and `q quit` always show, at the end; the rest in keymap order while they fit.
    let (last, first): (Vec<_>, Vec<_>) =
        keymap::bar(ui).into_iter().partition(|(_, what)| *what == "help" || *what == "quit");
    let mut used: usize = last.iter().map(len).sum();
    let mut items = Vec::new();
    for item in first {
        if used + len(&item) > width {
            break;
        }
        used += len(&item);
        items.push(item);
    }
    items.extend(last);
    let spans: Vec<Span> = items
        .into_iter()
        .flat_map(|(key, what)| [Span::styled(format!(" {key}"), t.key), Span::styled(format!(" {what} "), t.dim)])
        .collect();
    Line::from(spans).render(area, buf);
}
