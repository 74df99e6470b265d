//! The log pane: node output and gracewatch's own events, every node or the selected one,
//! following the end or scrolled, with search matches highlighted.

use super::{Ctx, focused, pane};
use crate::state::{LogLine, LogSource, NodeState};
use crate::tui::app::Pane;
use crate::tui::format::fit;
use crate::tui::layout;
use crate::tui::logview;
use crate::util::fmt_t;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use std::fmt::Write as _;

/// Width of the node column.
const NODE_W: usize = 12;

pub(crate) fn render(cx: Ctx, selected: Option<&NodeState>, area: Rect, buf: &mut Buffer) {
    let (state, ui, t) = (cx.state, cx.ui, cx.theme);
    let filter = if ui.log.only_selected { selected.map(|n| n.name.as_str()) } else { None };
    let h = layout::inner_rows(area);
    let window = logview::window(&state.log, filter, ui.log.anchor, h);

    let mut title = String::from(" log");
    match filter {
        Some(name) => {
            let _ = write!(title, " · {name} only");
        }
        None => title.push_str(" · every node"),
    }
    if ui.log.anchor.is_some() {
        title.push_str(" · scrolled (End follows)");
    }
    if let Some(q) = &ui.log.search {
        let _ = write!(title, " · /{q}");
    }
    title.push(' ');
    let block = pane(title, focused(ui, Pane::Log), t);

    let query = ui.log.search.as_deref();
    // Times right-aligned to the widest one shown, so that +9.5s and +10.5s line up.
    let time_w = window.iter().map(|(_, line)| fmt_t(line.t).len()).max().unwrap_or(0);
    let lines: Vec<Line> =
        window.iter().map(|(_, line)| render_line(cx, line, filter.is_none(), query, time_w)).collect();
    let lines = if lines.is_empty() { vec![Line::styled("nothing logged yet", t.dim)] } else { lines };
    Paragraph::new(lines).block(block).render(area, buf);
}

fn render_line<'a>(cx: Ctx, line: &'a LogLine, with_node: bool, query: Option<&str>, time_w: usize) -> Line<'a> {
    let t = cx.theme;
    let (mark, style) = match line.source {
        LogSource::Stdout => ("│", t.text),
        LogSource::Stderr => ("┃", t.text),
        LogSource::Event => ("•", t.text),
        LogSource::Problem => ("!", t.warn),
    };
    let mut spans = vec![Span::styled(format!("{:>time_w$} ", fmt_t(line.t)), t.dim)];
    if with_node {
        let node = line.node.as_deref().unwrap_or("gracewatch");
        let node_style =
            if line.node.is_some() { t.title.remove_modifier(ratatui::style::Modifier::BOLD) } else { t.dim };
        spans.push(Span::styled(format!("{:<NODE_W$} ", fit(node, NODE_W)), node_style));
    }
    let mark_style = if line.source == LogSource::Stderr { t.warn } else { t.dim };
    spans.push(Span::styled(format!("{mark} "), mark_style));
    let text = line.text.as_str();
    let hits = query.map(|q| logview::matches(text, q)).unwrap_or_default();
    if hits.is_empty() {
        spans.push(Span::styled(text, style));
    } else {
        let mut at = 0;
        for (a, b) in hits {
            if a > at {
                spans.push(Span::styled(&text[at..a], style));
            }
            spans.push(Span::styled(&text[a..b], t.hit));
            at = b;
        }
        if at < text.len() {
            spans.push(Span::styled(&text[at..], style));
        }
    }
    Line::from(spans)
}
