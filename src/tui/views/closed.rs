//! What shows when the link to the session closed: why, and what can be done.

use super::Ctx;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

pub(crate) fn render(cx: Ctx, reason: &str, screen: Rect, buf: &mut Buffer) {
    let t = cx.theme;
    let w = 60.min(screen.width);
    let h = 7.min(screen.height);
    let area = Rect::new(screen.x + (screen.width - w) / 2, screen.y + (screen.height - h) / 2, w, h);
    Clear.render(area, buf);
    let mut keys = Vec::new();
    if cx.ui.link.can_reconnect {
        keys.push(Span::styled("r", t.key));
        keys.push(Span::raw(" reconnect   "));
    }
    keys.push(Span::styled("q", t.key));
    keys.push(Span::raw(" quit"));
    let lines = vec![
        Line::from(vec![Span::styled("The session closed: ", t.bad), Span::raw(reason.to_string())]),
        Line::styled("The screen shows the last state received.", t.dim),
        Line::default(),
        Line::from(keys),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().border_style(t.bad).title(Line::styled(" session closed ", t.bad)))
        .render(area, buf);
}
