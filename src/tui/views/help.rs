//! The `?` screen: every key by context (from the same keymap as the key bar), then what the
//! table's glyphs mean and what each hazard is.

use super::Ctx;
use super::timeline::Cell;
use super::wrap::wrap;
use crate::tui::format::HandlerMark;
use crate::tui::keymap::{self, Context};
use crate::tui::layout::WIDE;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Padding, Paragraph, Widget};

/// Every key by context; in replay, the replay's contexts, and only the keys that reach each
/// binding there.
fn keys(t: &Theme, w: usize, replay: bool) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in Context::ALL.into_iter().filter(|c| c.applies(replay)) {
        out.push(Line::styled(ctx.title().to_string(), t.title));
        for b in keymap::bindings(ctx) {
            let keys = keymap::live_keys(b, replay);
            if keys.is_empty() {
                continue;
            }
            let label = keys.iter().map(|k| k.label()).collect::<Vec<_>>().join("/");
            out.extend(wrap(&[Span::styled(format!("  {label:<14}"), t.key), Span::raw(b.desc)], w, 16));
        }
        if ctx == Context::Search || ctx == Context::Goto {
            out.extend(wrap(
                &[
                    Span::styled(format!("  {:<14}", "other keys"), t.key),
                    Span::raw(if ctx == Context::Goto {
                        "type the time (Backspace deletes)"
                    } else {
                        "type the search text (Backspace deletes)"
                    }),
                ],
                w,
                16,
            ));
        }
        out.push(Line::default());
    }
    out.extend(wrap(
        &[
            Span::styled("Mouse ", t.title),
            Span::raw("wheel scrolls the pane under it; click selects a row or focuses a pane"),
        ],
        w,
        2,
    ));
    out
}

fn legend(t: &Theme, w: usize, replay: bool) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if replay {
        out.push(Line::styled("Timeline", t.title));
        for c in Cell::LEGEND {
            out.extend(wrap(&[Span::styled(format!("  {}  ", c.glyph()), t.key), Span::raw(c.meaning())], w, 5));
        }
        out.push(Line::default());
    }
    out.push(Line::styled("Handlers: I T Q H = SIGINT SIGTERM SIGQUIT SIGHUP", t.title));
    for m in HandlerMark::ALL {
        out.extend(wrap(&[Span::styled(format!("  {}  ", m.glyph()), t.key), Span::raw(m.meaning())], w, 5));
    }
    let settling = "dimmed, STATE \"(settling)\": read while the process starts up; judged, and hazards checked, once the start-up is over";
    out.extend(wrap(&[Span::styled("     ", t.key), Span::raw(settling)], w, 5));
    out.push(Line::default());
    out.push(Line::styled("Table", t.title));
    for (k, v) in [
        ("STATE", "paused = stopped by SIGSTOP or held by a debugger; signalled SIG = ended after x sent SIG"),
        ("TOKENS", "drop tokens lent and not yet given back: count and age of the oldest"),
        ("GRACE", "bar = time left until SIGKILL; then the stage and the time left in it"),
        ("", "exited: how it ended (status or signal) and how long after the stop request"),
        ("FORK", "children of the main process; ✗ = forked without exec while threaded"),
        ("HAZARDS", "⚠ the first hazard of the node, +N more"),
        ("›", "the selected node (s, K, x and the detail pane act on it)"),
    ] {
        out.extend(wrap(&[Span::styled(format!("  {k:<8} "), t.key), Span::raw(v)], w, 11));
    }
    out.push(Line::default());
    out.push(Line::styled("Log", t.title));
    for (k, v) in [("│", "stdout"), ("┃", "stderr"), ("•", "what gracewatch saw or did"), ("!", "a problem")] {
        out.extend(wrap(&[Span::styled(format!("  {k}  "), t.key), Span::raw(v)], w, 5));
    }
    out.push(Line::default());
    out.push(Line::styled("Hazards", t.title));
    for lint in crate::hazards::lints().iter() {
        out.extend(wrap(&[Span::styled(format!("  {}: ", lint.id()), t.warn), Span::raw(lint.summary())], w, 4));
    }
    out
}

/// The help box: the screen between the header and the footer.
fn frame(screen: Rect) -> Rect {
    let top = u16::from(screen.height >= 3);
    Rect::new(screen.x, screen.y + top, screen.width, screen.height.saturating_sub(2 * top))
}

fn columns(screen: Rect, t: &Theme, replay: bool) -> Vec<(Rect, Vec<Line<'static>>)> {
    let inner = Block::bordered().inner(frame(screen));
    if screen.width >= WIDE {
        let lw = inner.width / 2;
        let left = Rect::new(inner.x, inner.y, lw, inner.height);
        let right = Rect::new(inner.x + lw + 2, inner.y, inner.width.saturating_sub(lw + 2), inner.height);
        vec![(left, keys(t, usize::from(left.width), replay)), (right, legend(t, usize::from(right.width), replay))]
    } else {
        let w = usize::from(inner.width);
        let mut all = keys(t, w, replay);
        all.push(Line::default());
        all.extend(legend(t, w, replay));
        vec![(inner, all)]
    }
}

pub(crate) fn max_scroll(screen: Rect, replay: bool) -> u16 {
    let t = Theme::plain();
    columns(screen, &t, replay)
        .iter()
        .map(|(r, lines)| lines.len().saturating_sub(usize::from(r.height)))
        .max()
        .unwrap_or(0) as u16
}

pub(crate) fn render(cx: Ctx, scroll: u16, screen: Rect, buf: &mut Buffer) {
    let t = cx.theme;
    let area = frame(screen);
    Clear.render(area, buf);
    Block::bordered()
        .border_style(t.border_focus)
        .title(Line::styled(" help · ↑↓ scroll · Esc close ", t.title))
        .render(area, buf);
    let cols = columns(screen, t, cx.ui.replay.is_some());
    let two = cols.len() == 2;
    for (i, (rect, lines)) in cols.into_iter().enumerate() {
        let max = lines.len().saturating_sub(usize::from(rect.height)) as u16;
        let p = Paragraph::new(lines).scroll((scroll.min(max), 0));
        if two && i == 1 {
            let r = Rect::new(rect.x - 2, rect.y, rect.width + 2, rect.height);
            p.block(Block::new().borders(Borders::LEFT).border_style(t.border).padding(Padding::left(1)))
                .render(r, buf);
        } else {
            p.render(rect, buf);
        }
    }
}
