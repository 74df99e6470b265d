//! Replay's timeline bar: the whole session on one line, where stops were requested, where
//! nodes were killed or ended badly, and where the screen is.
//!
//! ` +2.501s ├━━━━━━━━━S━━━●────────K────S──K┤ 8.764s · event 61/171`

use super::Ctx;
use crate::replay::MarkKind;
use crate::tui::app::ReplayView;
use crate::util::fmt_t;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// What one cell of the bar shows, most important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cell {
    Here,
    Kill,
    BadExit,
    Stop,
    Played,
    Ahead,
}

impl Cell {
    pub(crate) fn glyph(self) -> &'static str {
        match self {
            Cell::Here => "●",
            Cell::Kill => "K",
            Cell::BadExit => "✗",
            Cell::Stop => "S",
            Cell::Played => "━",
            Cell::Ahead => "─",
        }
    }

    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Cell::Here => "the moment on screen",
            Cell::Kill => "SIGKILL (a grace period ran out, or a forced stop)",
            Cell::BadExit => "a node ended badly (killed, crashed, survivors left)",
            Cell::Stop => "a stop was requested",
            Cell::Played => "before the moment on screen",
            Cell::Ahead => "after it",
        }
    }

    /// The legend, in the help screen's order.
    pub(crate) const LEGEND: [Cell; 4] = [Cell::Here, Cell::Stop, Cell::Kill, Cell::BadExit];
}

/// The bar's cells for `width` columns: column `i` covers session times up to `(i + 1) / width`
/// of `end_t`.
pub(crate) fn cells(r: &ReplayView, now: u64, width: usize) -> Vec<Cell> {
    if width == 0 {
        return Vec::new();
    }
    let end = r.end_t.max(now).max(1);
    let col = |t: u64| ((u128::from(t.min(end)) * (width as u128 - 1)) / u128::from(end)) as usize;
    let here = col(now);
    let mut out: Vec<Cell> = (0..width).map(|i| if i < here { Cell::Played } else { Cell::Ahead }).collect();
    for m in &r.marks {
        let cell = match m.kind {
            MarkKind::StopRequested => Cell::Stop,
            MarkKind::Kill => Cell::Kill,
            MarkKind::BadExit => Cell::BadExit,
            MarkKind::Stage | MarkKind::Exit => continue,
        };
        let c = &mut out[col(m.t)];
        *c = (*c).min(cell);
    }
    out[here] = Cell::Here;
    out
}

pub(crate) fn render(cx: Ctx, area: Rect, buf: &mut Buffer) {
    let Some(r) = &cx.ui.replay else { return };
    let t = cx.theme;
    let left = format!(" {} ", fmt_t(cx.now));
    let of = fmt_t(r.end_t);
    let right = if r.complete {
        format!(" {} · event {}/{} ", of.trim_start_matches('+'), r.applied, r.events)
    } else {
        format!(" {}… · event {}/{}… ", of.trim_start_matches('+'), r.applied, r.events)
    };
    let width = usize::from(area.width);
    let (left, right) = if left.chars().count() + right.chars().count() + 12 <= width {
        (left, right)
    } else if left.chars().count() + 8 <= width {
        (left, String::new())
    } else {
        (String::new(), String::new())
    };
    let bar_w = width.saturating_sub(left.chars().count() + right.chars().count() + 2);
    let mut spans = vec![Span::styled(left, t.text), Span::styled("├", t.dim)];
    let style = |c: Cell| -> Style {
        match c {
            Cell::Here => t.key,
            Cell::Kill | Cell::BadExit => t.bad,
            Cell::Stop => t.prompt,
            Cell::Played => t.text,
            Cell::Ahead => t.dim,
        }
    };
    // Runs of one kind of cell share a span.
    let mut run: Option<(Cell, String)> = None;
    for c in cells(r, cx.now, bar_w) {
        match &mut run {
            Some((k, s)) if *k == c => s.push_str(c.glyph()),
            _ => {
                if let Some((k, s)) = run.take() {
                    spans.push(Span::styled(s, style(k)));
                }
                run = Some((c, c.glyph().to_string()));
            }
        }
    }
    if let Some((k, s)) = run {
        spans.push(Span::styled(s, style(k)));
    }
    spans.push(Span::styled("┤", t.dim));
    spans.push(Span::styled(right, t.dim));
    Line::from(spans).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{Mark, Speed};

    #[test]
    fn marks_and_the_cursor_land_in_their_columns() {
        let mut r = ReplayView::new("j.jsonl", Speed::Times(1.0));
        r.end_t = 100;
        r.marks = vec![
            Mark { n: 3, t: 20, kind: MarkKind::StopRequested },
            Mark { n: 4, t: 21, kind: MarkKind::Stage },
            Mark { n: 5, t: 80, kind: MarkKind::BadExit },
            Mark { n: 6, t: 81, kind: MarkKind::Kill },
            Mark { n: 7, t: 100, kind: MarkKind::Exit },
        ];
        let line: String = cells(&r, 50, 11).iter().map(|c| c.glyph()).collect();
        assert_eq!(line, "━━S━━●──K──");
        let line: String = cells(&r, 0, 11).iter().map(|c| c.glyph()).collect();
        assert_eq!(line, "●─S─────K──");
        let line: String = cells(&r, 100, 11).iter().map(|c| c.glyph()).collect();
        assert_eq!(line, "━━S━━━━━K━●");
        assert!(cells(&r, 5, 0).is_empty());
        r.end_t = 0;
        assert_eq!(cells(&r, 0, 3).len(), 3, "an empty session still draws");
    }
}
