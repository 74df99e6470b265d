//! The top bar: session, live or paused, the clock, node counts, hazards, dropped events; in
//! replay, REPLAY, the journal, play or pause and speed, the moment shown, and how the journal
//! was read (skipped records, a torn tail, indexing progress).

use super::Ctx;
use crate::tui::app::{Quitting, ReplayView, SeekTarget};
use crate::tui::format::{utc_datetime, utc_hms};
use crate::tui::layout::WIDE;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(crate) fn render(cx: Ctx, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, cx.theme.bar);
    // The long form; without replay's session name (a long one must not cost the rest its
    // words); the compact form.
    let fits = |line: &Line| line.width() <= usize::from(area.width);
    let mut line = spans(cx, area.width >= WIDE, true);
    if !fits(&line) && cx.ui.replay.is_some() {
        line = spans(cx, area.width >= WIDE, false);
    }
    if !fits(&line) {
        line = spans(cx, false, false);
    }
    line.style(cx.theme.bar).render(area, buf);
}

/// The live cockpit's start: session, live or paused, the clock.
fn live_spans(cx: Ctx, wide: bool, spans: &mut Vec<Span<'static>>) {
    let (state, ui, t) = (cx.state, cx.ui, cx.theme);
    let sep = Span::styled(" │ ", t.bar);
    spans.push(Span::styled(" gracewatch", t.bar));
    spans.push(sep.clone());
    let session = state.session();
    spans.push(Span::styled(
        if session.is_empty() { "(no session yet)".to_string() } else { session.to_string() },
        t.bar,
    ));
    spans.push(sep.clone());

    let mode = if ui.link.closed.is_some() && ui.link.finished.is_none() {
        Span::styled("✕ CLOSED", t.bar.patch(t.bad))
    } else if ui.paused {
        let behind = if ui.behind > 0 { format!(" +{} events", ui.behind) } else { String::new() };
        Span::styled(format!("❚❚ PAUSED{behind}"), t.bar.patch(t.prompt))
    } else if state.ended.is_some() || ui.link.finished.is_some() {
        Span::styled("■ ENDED", t.bar)
    } else {
        Span::styled("● LIVE", t.bar)
    };
    spans.push(mode);

    if let Some(h) = &state.header {
        let wall = h.started_unix_ms + cx.now / 1_000_000;
        spans.push(sep);
        spans.push(Span::styled(if wide { format!("{} UTC", utc_datetime(wall)) } else { utc_hms(wall) }, t.bar));
        spans.push(Span::styled(format!("  +{}", crate::util::fmt_clock_ns(cx.now)), t.bar));
    }
}

/// Replay's start: REPLAY, the journal, play or pause at what speed, the moment shown (its
/// wall-clock time from the header, UTC, and its session time of the whole).
fn replay_spans(cx: Ctx, r: &ReplayView, wide: bool, session: bool, spans: &mut Vec<Span<'static>>) {
    let (state, t) = (cx.state, cx.theme);
    let sep = Span::styled(" │ ", t.bar);
    if wide {
        spans.push(Span::styled(" gracewatch", t.bar));
        spans.push(sep.clone());
    }
    if !wide {
        spans.push(Span::styled(" ", t.bar));
    }
    spans.push(Span::styled("REPLAY", t.bar.patch(t.prompt)));
    spans.push(Span::styled(format!(" {}", r.file), t.bar));
    let name = state.session();
    if wide && session && !name.is_empty() {
        spans.push(Span::styled(format!(" · {name}"), t.bar));
    }
    spans.push(sep.clone());
    let play = if r.playing { "▶" } else { "❚❚" };
    spans.push(Span::styled(format!("{play} {}", r.speed.label()), t.bar));
    if let Some(h) = &state.header {
        let wall = h.started_unix_ms + cx.now / 1_000_000;
        let ms = wall % 1000;
        spans.push(sep);
        let text = if wide {
            let of = if r.complete {
                format!(" / {}", crate::util::fmt_t(r.end_t).trim_start_matches('+'))
            } else {
                String::new()
            };
            format!("{}.{ms:03} UTC  {}{of}", utc_datetime(wall), crate::util::fmt_t(cx.now))
        } else {
            format!("{}.{} +{}", utc_hms(wall), ms / 100, crate::util::fmt_clock_ns(cx.now))
        };
        spans.push(Span::styled(text, t.bar));
    }
}

/// What replay adds at the end: skipped records, a torn or damaged journal, indexing.
fn replay_tail(cx: Ctx, r: &ReplayView, wide: bool, spans: &mut Vec<Span<'static>>) {
    let t = cx.theme;
    let sep = Span::styled(" │ ", t.bar);
    if r.unknown_kinds > 0 {
        spans.push(sep.clone());
        let n = r.unknown_kinds;
        spans.push(Span::styled(
            if wide {
                format!("{n} unknown event{} skipped", if n == 1 { "" } else { "s" })
            } else {
                format!("{n} unknown")
            },
            t.bar.patch(t.warn),
        ));
    }
    if r.torn_tail {
        spans.push(sep.clone());
        spans.push(Span::styled(if wide { "torn last line" } else { "torn" }, t.bar.patch(t.warn)));
    }
    if r.damaged_records > 0 {
        spans.push(sep.clone());
        let n = r.damaged_records;
        spans.push(Span::styled(
            if wide {
                format!("{} skipped", crate::hazards::count(n as usize, "damaged record"))
            } else {
                format!("{n} damaged")
            },
            t.bar.patch(t.bad),
        ));
    }
    if r.damaged.is_some() {
        spans.push(sep.clone());
        spans.push(Span::styled(if wide { "unreadable: ends early" } else { "ends early" }, t.bar.patch(t.bad)));
    }
    if let Some(target) = r.seeking {
        spans.push(sep.clone());
        let to = match target {
            SeekTarget::Time(t) => crate::util::fmt_t(t),
            SeekTarget::End => "the end".to_string(),
        };
        spans.push(Span::styled(
            if wide { format!("seeking {to}…") } else { format!("→ {to}…") },
            t.bar.patch(t.prompt),
        ));
    }
    if !r.complete && r.damaged.is_none() {
        spans.push(sep);
        let p = r.progress_permille;
        spans.push(Span::styled(
            if wide { format!("indexing {}.{}%", p / 10, p % 10) } else { format!("idx {}%", p / 10) },
            t.bar.patch(t.prompt),
        ));
    }
}

/// The bar's text, long or compact; `session`: replay names the session too.
fn spans(cx: Ctx, wide: bool, session: bool) -> Line<'static> {
    let (state, ui, t) = (cx.state, cx.ui, cx.theme);
    let sep = Span::styled(" │ ", t.bar);
    let mut spans: Vec<Span> = Vec::new();
    if let Some(r) = &ui.replay {
        replay_spans(cx, r, wide, session, &mut spans);
    } else {
        live_spans(cx, wide, &mut spans);
    }

    let c = state.counts();
    spans.push(sep.clone());
    let mut counts: Vec<String> = Vec::new();
    let names: [(&str, &str, usize); 4] = [
        ("starting", "start", c.starting),
        ("running", "run", c.running),
        ("stopping", "stop", c.stopping),
        ("exited", "exit", c.exited),
    ];
    for (long, short, n) in names {
        if n > 0 || long == "running" {
            counts.push(format!("{n} {}", if wide { long } else { short }));
        }
    }
    spans.push(Span::styled(counts.join(if wide { " · " } else { " " }), t.bar));

    let hazards: usize = state.nodes.values().map(|n| n.hazards.len()).sum();
    if hazards > 0 {
        spans.push(sep.clone());
        spans.push(Span::styled(
            if wide {
                format!("⚠ {hazards} hazard{}", if hazards == 1 { "" } else { "s" })
            } else {
                format!("⚠{hazards}")
            },
            t.bar.patch(t.bad),
        ));
    }

    if wide && ui.replay.is_none() {
        // How forks, execs and exits are seen: exactly (kernel connector) or by sampling.
        if let Some((mode, _)) = &state.probe_mode {
            spans.push(sep.clone());
            let text = match mode {
                crate::event::ProbeMode::Connector => "forks: exact",
                crate::event::ProbeMode::Polling => "forks: polled",
            };
            spans.push(Span::styled(text, t.bar));
        }
    }

    let client: u64 = state.nodes.values().map(|n| n.client_dropped).sum();
    let dropped = ui.link.dropped + client;
    if dropped > 0 {
        spans.push(sep.clone());
        let text = if wide {
            format!("{dropped} events dropped (link {}, clients {client})", ui.link.dropped)
        } else {
            format!("drop {dropped}")
        };
        spans.push(Span::styled(text, t.bar.patch(t.warn)));
    }

    if let Some(r) = &ui.replay {
        replay_tail(cx, r, wide, &mut spans);
    }
    match ui.link.quitting {
        Some(Quitting::Graceful) => {
            spans.push(sep);
            spans.push(Span::styled(
                if wide { "quitting: stopping everything" } else { "quitting" },
                t.bar.patch(t.prompt),
            ));
        }
        Some(Quitting::Forced) => {
            spans.push(sep);
            spans.push(Span::styled(
                if wide { "quitting: killing everything" } else { "quitting" },
                t.bar.patch(t.prompt),
            ));
        }
        None => {}
    }
    Line::from(spans)
}
