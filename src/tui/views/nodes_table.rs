//! The nodes table: one row per node, the columns that decide whether it can stop cleanly.
//! Only the rows on screen are built; columns give way on narrow screens (CPU, memory and
//! fork status go first, then the rest is abbreviated).

use super::{Ctx, focused, pane};
use crate::event::{ExitCause, Signal, StageAction};
use crate::hazards::HazardId;
use crate::state::{NodeState, Phase};
use crate::tui::app::Pane;
use crate::tui::format::{HandlerMark, cause_label, countdown, cpu, fit, gauge, stage_short};
use crate::tui::layout;
use crate::tui::panes::table::{SortKey, scrolled_offset};
use crate::util::{fmt_kib, fmt_ns};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Name,
    Pid,
    State,
    Sig,
    Tokens,
    Grace,
    Fork,
    Cpu,
    Mem,
    Hazards,
}

/// The columns that fit `width` (inside the borders), with their widths, and whether cells use
/// their short forms.
pub(crate) fn columns(width: u16, name_w: u16) -> (Vec<(Col, u16)>, bool) {
    let full: Vec<(Col, u16)> = vec![
        (Col::Name, name_w),
        (Col::Pid, 7),
        (Col::State, 18),
        (Col::Sig, 7),
        (Col::Tokens, 12),
        (Col::Grace, 32),
        (Col::Fork, 5),
        (Col::Cpu, 6),
        (Col::Mem, 7),
        (Col::Hazards, 12),
    ];
    let total = |cols: &[(Col, u16)]| cols.iter().map(|(_, w)| w + 1).sum::<u16>();
    let mut cols = full;
    for drop in [Col::Fork, Col::Mem, Col::Cpu] {
        if total(&cols) <= width {
            break;
        }
        cols.retain(|(c, _)| *c != drop);
    }
    if total(&cols) <= width {
        return (cols, false);
    }
    let mut short: Vec<(Col, u16)> = cols
        .into_iter()
        .map(|(c, w)| match c {
            Col::State => (c, 10),
            Col::Tokens => (c, 9),
            Col::Grace => (c, 18),
            Col::Hazards => (c, 3),
            Col::Name => (c, w.min(14)),
            _ => (c, w),
        })
        .collect();
    if total(&short) > width {
        short.retain(|(c, _)| *c != Col::Pid);
    }
    (short, true)
}

fn title(col: Col) -> &'static str {
    match col {
        Col::Name => " NAME",
        Col::Pid => "PID",
        Col::State => "STATE",
        Col::Sig => "I T Q H",
        Col::Tokens => "TOKENS",
        Col::Grace => "GRACE",
        Col::Fork => "FORK",
        Col::Cpu => "CPU",
        Col::Mem => "MEM",
        Col::Hazards => "HAZARDS",
    }
}

fn sort_col(key: SortKey) -> Option<Col> {
    match key {
        SortKey::Declared => None,
        SortKey::Name => Some(Col::Name),
        SortKey::State => Some(Col::State),
        SortKey::Tokens => Some(Col::Tokens),
        SortKey::Hazards => Some(Col::Hazards),
        SortKey::Cpu => Some(Col::Cpu),
        SortKey::Mem => Some(Col::Mem),
    }
}

pub(crate) fn render(cx: Ctx, list: &[&NodeState], area: Rect, buf: &mut Buffer) {
    let (ui, t) = (cx.ui, cx.theme);
    let table = &ui.table;
    let h = layout::table_rows(area);
    let sel = table.selected_index(list);
    let off = scrolled_offset(table.offset, sel, h, list.len());
    let shown = &list[off.min(list.len())..(off + h).min(list.len())];
    let name_w = (shown.iter().map(|n| n.name.chars().count()).max().unwrap_or(4) as u16 + 2).clamp(8, 22);
    let (cols, short) = columns(area.width.saturating_sub(2), name_w);

    let mut title_text = format!(" nodes ({})", list.len());
    if list.len() > h && h > 0 {
        let _ = write!(title_text, " · {}-{} shown", off + 1, off + shown.len());
    }
    if table.sort != SortKey::Declared || table.sort_desc {
        let _ = write!(title_text, " · by {}{}", table.sort.label(), if table.sort_desc { " ▼" } else { "" });
    }
    title_text.push(' ');
    let block = pane(title_text, focused(ui, Pane::Nodes), t);

    let sorted = sort_col(table.sort);
    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut s = title(*c).to_string();
        if Some(*c) == sorted {
            s.push_str(if table.sort_desc { "▲" } else { "▼" });
        }
        Cell::from(s)
    }))
    .style(t.title);

    let rows: Vec<Row> = shown
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let is_sel = off + i == sel;
            let row = Row::new(cols.iter().map(|(c, w)| cell(cx, n, *c, *w, short, is_sel)));
            if is_sel { row.style(t.selected) } else { row }
        })
        .collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|(c, w)| if *c == Col::Hazards { Constraint::Min(*w) } else { Constraint::Length(*w) })
        .collect();
    Table::new(rows, widths).header(header).column_spacing(1).block(block).render(area, buf);
    if list.is_empty() {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), u16::from(area.height > 3));
        Line::styled("no nodes yet", t.dim).render(inner, buf);
    }
}

fn cell<'a>(cx: Ctx, n: &'a NodeState, col: Col, width: u16, short: bool, selected: bool) -> Cell<'a> {
    let t = cx.theme;
    match col {
        Col::Name => {
            let mark = if selected { "›" } else { " " };
            Cell::from(format!("{mark}{}", fit(&n.name, usize::from(width.saturating_sub(1)))))
        }
        Col::Pid => Cell::from(n.pid.map_or_else(|| "-".to_string(), |p| p.to_string())),
        Col::State => state_cell(cx, n, short),
        Col::Sig => sig_cell(cx, n),
        Col::Tokens => {
            let pending = n.tokens.pending();
            if let Some(exit) = &n.exit {
                // Frozen at the end: what was still lent when it died.
                let left = exit.pending_tokens.len().max(pending);
                return if left == 0 {
                    Cell::from(Span::styled("0", t.dim))
                } else {
                    Cell::from(Span::styled(
                        if short { format!("{left} left") } else { format!("{left} at exit") },
                        t.bad,
                    ))
                };
            }
            if pending == 0 {
                Cell::from(Span::styled("0", t.dim))
            } else {
                let age = n.tokens.oldest_issued_at().map(|at| fmt_ns(cx.now.saturating_sub(at))).unwrap_or_default();
                let style = if n.phase == Phase::Stopping { t.warn } else { t.text };
                Cell::from(Span::styled(format!("{pending} {age}"), style))
            }
        }
        Col::Grace => grace_cell(cx, n, width, short),
        Col::Fork => {
            // `?`: a live process not sampled yet.
            let children = n.leader().map(|l| l.children.len());
            let unknown = || if n.pid.is_none() || n.phase == Phase::Exited { "-" } else { "?" };
            if n.has_hazard(HazardId::ForkWithoutExecThreaded) {
                let count = children.map_or_else(|| unknown().to_string(), |c| c.to_string());
                Cell::from(Span::styled(format!("{count} ✗"), t.bad))
            } else {
                match children {
                    None => Cell::from(Span::styled(unknown(), t.dim)),
                    Some(0) => Cell::from(Span::styled("-", t.dim)),
                    Some(c) => Cell::from(c.to_string()),
                }
            }
        }
        // `?`: not measured yet (the first figures come about a second in).
        Col::Cpu => match (n.phase, n.usage_at) {
            _ if n.pid.is_none() => Cell::from("-"),
            (Phase::Exited, _) => Cell::from("-"),
            (_, None) => Cell::from(Span::styled("?", t.dim)),
            _ => Cell::from(cpu(n.cpu_permille)),
        },
        Col::Mem => match (n.phase, n.usage_at) {
            _ if n.pid.is_none() => Cell::from("-"),
            (Phase::Exited, _) if n.rss_kib == 0 => Cell::from("-"),
            (_, None) => Cell::from(Span::styled("?", t.dim)),
            _ => Cell::from(fmt_kib(n.rss_kib)),
        },
        Col::Hazards => match n.hazards.first() {
            None => Cell::from(""),
            Some(first) => {
                let more = n.hazards.len() - 1;
                let text = if short {
                    format!("⚠{}", n.hazards.len())
                } else if more > 0 {
                    format!("⚠ {} +{more}", first.id)
                } else {
                    format!("⚠ {}", first.id)
                };
                Cell::from(Span::styled(text, t.bad))
            }
        },
    }
}

fn state_cell<'a>(cx: Ctx, n: &NodeState, short: bool) -> Cell<'a> {
    let t = cx.theme;
    match (&n.exit, n.phase) {
        (Some(exit), _) => {
            let style = if exit.cause.is_clean() { t.dim } else { t.bad };
            Cell::from(Span::styled(cause_label(exit.cause, short), style))
        }
        (None, Phase::Running) if n.paused().is_some() => Cell::from(Span::styled("paused", t.warn)),
        // Its dispositions are shown as read, not judged yet: the start-up is not over.
        (None, Phase::Running) if n.settling_leader().is_some() => {
            let word = if n.adopted { "watched" } else { "running" };
            Cell::from(Span::styled(if short { "settling".to_string() } else { format!("{word} (settling)") }, t.dim))
        }
        (None, Phase::Running) => Cell::from(Span::styled(if n.adopted { "watched" } else { "running" }, t.good)),
        (None, Phase::Stopping) if n.paused().is_some() => {
            Cell::from(Span::styled(if short { "paused" } else { "stopping · paused" }, t.bad))
        }
        (None, Phase::Stopping) => Cell::from(Span::styled("stopping", t.warn)),
        (None, phase) => Cell::from(Span::styled(phase.as_str(), t.dim)),
    }
}

fn sig_cell<'a>(cx: Ctx, n: &NodeState) -> Cell<'a> {
    let t = cx.theme;
    let settling = n.settling_leader();
    let blocked = n.leader().or(settling).map(crate::event::ProcSample::blocked_everywhere).unwrap_or_default();
    let stop_sig = n.stop_signal();
    let mut spans = Vec::with_capacity(8);
    for (i, sig) in Signal::SHOWN.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let mark = HandlerMark::of(n, *sig, blocked);
        let style = match mark {
            HandlerMark::Failed => t.bad,
            // Read during the start-up: shown, not judged (no colour says good or bad).
            _ if settling.is_some() => t.dim,
            HandlerMark::Caught => t.good,
            HandlerMark::Blocked => t.bad,
            HandlerMark::Ignored if *sig == stop_sig => t.bad,
            HandlerMark::Default if *sig == stop_sig => t.warn,
            _ => t.dim,
        };
        spans.push(Span::styled(mark.glyph(), style));
    }
    Cell::from(Line::from(spans))
}

/// Terminal cells taken by these spans (their text is narrow: digits, letters, `·`, `✓`).
fn span_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
}

fn grace_cell<'a>(cx: Ctx, n: &NodeState, width: u16, short: bool) -> Cell<'a> {
    let t = cx.theme;
    if let Some(exit) = &n.exit {
        if exit.cause == ExitCause::SpawnFailed {
            return Cell::from(Span::styled(exit.error.clone().unwrap_or_default(), t.bad));
        }
        let status = exit.status();
        let text = match &n.stop {
            Some(stop) if short => format!("{status} +{}", fmt_ns(exit.t.saturating_sub(stop.requested_at))),
            Some(stop) => format!("{status} after {}", fmt_ns(exit.t.saturating_sub(stop.requested_at))),
            None => status,
        };
        return Cell::from(Span::styled(text, if exit.cause.is_clean() { t.dim } else { t.bad }));
    }
    let Some(stop) = &n.stop else {
        let grace = crate::util::fmt_ms(n.spec.grace_ms);
        return Cell::from(Span::styled(if short { grace } else { format!("grace {grace}") }, t.dim));
    };
    let total = stop.kill_at.saturating_sub(stop.requested_at);
    let kill_left = stop.kill_remaining(cx.now);
    const GAUGE_MIN: usize = 6;
    let room = usize::from(width).saturating_sub(GAUGE_MIN + 1);
    // The words after the gauge: the stage's countdown, then what else fits whole.
    let mut words: Vec<Span> = Vec::new();
    match stop.stage {
        None => words.push(Span::styled("requested", t.warn)),
        Some(stage) => {
            let label = if short { stage_short(stage) } else { stage.label().trim_start_matches("SIG").to_string() };
            let label = if stage == StageAction::Message && !short { "message".to_string() } else { label };
            let left = countdown(stop.stage_remaining(cx.now).unwrap_or(kill_left));
            let last_stage = stage == StageAction::Kill || stop.deadline.is_none_or(|d| d >= stop.kill_at);
            let kill = countdown(kill_left);
            words.push(Span::styled(format!("{label} {left}"), t.warn));
            // Each only when it says something new and fits whole (a cut "kill 3" reads as
            // three seconds).
            let mut extra = Vec::new();
            if !short && !last_stage && kill != left {
                extra.push(Span::styled(format!(" · kill {kill}"), t.dim));
            }
            if !short && stop.extensions > 0 {
                // The deadline moved out while tokens drained: say so, it explains the wait.
                extra.push(Span::styled(format!(" ext ×{}", stop.extensions), t.warn));
            }
            if stop.acked_at.is_some() {
                extra.push(Span::styled(" ✓", t.good));
            }
            for span in extra {
                if span_width(&words) + span.content.chars().count() <= room {
                    words.push(span);
                }
            }
        }
    }
    // The gauge takes what the words leave, between 6 and 10 cells.
    let gauge_w =
        if short { GAUGE_MIN } else { usize::from(width).saturating_sub(span_width(&words) + 1).clamp(GAUGE_MIN, 10) };
    let mut spans = vec![Span::styled(gauge(kill_left, total, gauge_w), t.gauge), Span::raw(" ")];
    spans.extend(words);
    Cell::from(Line::from(spans))
}
