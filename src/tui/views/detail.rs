//! The detail pane of one node: everything that decides how its stop will go. On wide screens
//! two columns (the process on the left, the stop on the right), else one, scrollable.

use super::wrap::wrap;
use super::{Ctx, focused, pane};
use crate::event::{ClaimOutcome, Disposition, Signal, StageAction};
use crate::state::sentence::{self, count as counted};
use crate::state::{NodeState, Phase, State};
use crate::tui::app::{Pane, Ui};
use crate::tui::format::{HandlerMark, countdown, cpu, gauge};
use crate::tui::layout::WIDE;
use crate::util::{fmt_kib, fmt_ms, fmt_ns, fmt_t};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph, Widget};
use std::fmt::Write as _;

/// Pending tokens listed one by one.
pub(crate) const TOKENS_LISTED: usize = 8;
/// Threads listed one by one.
pub(crate) const THREADS_LISTED: usize = 32;
/// Processes listed in the tree.
pub(crate) const PROCS_LISTED: usize = 40;

/// The columns of text for `area`: one on narrow screens, two on wide ones.
fn columns(cx: Ctx, node: &NodeState, area: Rect) -> Vec<(Rect, Vec<Line<'static>>)> {
    let inner = Block::bordered().inner(area);
    if area.width >= WIDE {
        let left_w = inner.width / 2;
        let left = Rect::new(inner.x, inner.y, left_w, inner.height);
        let right = Rect::new(inner.x + left_w + 2, inner.y, inner.width.saturating_sub(left_w + 2), inner.height);
        let lw = usize::from(left.width);
        let rw = usize::from(right.width);
        let mut l = overview(cx, node, lw);
        l.extend(handlers(cx, node, lw));
        l.extend(claims(cx, node, lw));
        l.extend(threads(cx, node, lw));
        let mut r = stop(cx, node, rw);
        r.extend(hazards(cx, node, rw));
        r.extend(tokens(cx, node, rw));
        r.extend(processes(cx, node, rw));
        vec![(left, l), (right, r)]
    } else {
        let w = usize::from(inner.width);
        let mut all = overview(cx, node, w);
        all.extend(stop(cx, node, w));
        all.extend(hazards(cx, node, w));
        all.extend(handlers(cx, node, w));
        all.extend(claims(cx, node, w));
        all.extend(tokens(cx, node, w));
        all.extend(threads(cx, node, w));
        all.extend(processes(cx, node, w));
        vec![(inner, all)]
    }
}

/// How far the pane can scroll: until the longest column's end is on screen.
pub(crate) fn max_scroll(area: Rect, node: &NodeState, state: &State, now: u64, ui: &Ui) -> u16 {
    let cx = Ctx { state, ui, now, theme: &ui.theme };
    columns(cx, node, area)
        .iter()
        .map(|(r, lines)| lines.len().saturating_sub(usize::from(r.height)))
        .max()
        .unwrap_or(0) as u16
}

pub(crate) fn render(cx: Ctx, node: &NodeState, area: Rect, buf: &mut Buffer) {
    let t = cx.theme;
    let cols = columns(cx, node, area);
    let below = cols
        .iter()
        .map(|(r, lines)| {
            let max = lines.len().saturating_sub(usize::from(r.height));
            max - usize::from(cx.ui.detail.scroll).min(max)
        })
        .max()
        .unwrap_or(0);
    let more = if below > 0 { format!(" · ↓ {below} more lines") } else { String::new() };
    let title = format!(" {} · detail (Esc back){more} ", node.name);
    pane(title, focused(cx.ui, Pane::Nodes), t).render(area, buf);
    let two = cols.len() == 2;
    for (i, (rect, lines)) in cols.into_iter().enumerate() {
        let max = lines.len().saturating_sub(usize::from(rect.height)) as u16;
        let scroll = cx.ui.detail.scroll.min(max);
        let mut p = Paragraph::new(lines).scroll((scroll, 0));
        if two && i == 1 {
            // A rule between the columns.
            p = p.block(Block::new().borders(Borders::LEFT).border_style(t.border).padding(Padding::left(1)));
            let r = Rect::new(rect.x - 2, rect.y, rect.width + 2, rect.height);
            p.render(r, buf);
        } else {
            p.render(rect, buf);
        }
    }
}

fn section(cx: Ctx, title: &str) -> Line<'static> {
    Line::from(Span::styled(title.to_string(), cx.theme.title))
}

fn kv(cx: Ctx, key: &str, value: String, width: usize) -> Vec<Line<'static>> {
    wrap(&[Span::styled(format!("{key:<9}"), cx.theme.dim), Span::raw(value)], width, 9)
}

fn overview(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    let mut head = vec![Span::styled(n.name.clone(), t.title), Span::raw("  ")];
    let phase_style = match n.phase {
        Phase::Running => t.good,
        Phase::Stopping => t.warn,
        _ => t.dim,
    };
    head.push(Span::styled(n.phase.as_str(), phase_style));
    if let Some(paused) = n.paused().filter(|_| n.exit.is_none()) {
        head.push(Span::styled(format!(" · {}", paused.describe()), t.warn));
    }
    if let Some(pid) = n.pid {
        head.push(Span::raw(format!("  pid {pid}")));
    }
    if let Some(pgid) = n.pgid {
        head.push(Span::styled(format!(" · pgid {pgid}"), t.dim));
    }
    if let Some(at) = n.spawned_at {
        head.push(Span::styled(
            format!(" · {} {}", if n.adopted { "watched since" } else { "started" }, fmt_t(at)),
            t.dim,
        ));
    }
    out.extend(wrap(&head, w, 2));
    let argv = if n.argv.is_empty() { &n.spec.cmd } else { &n.argv };
    if !argv.is_empty() {
        out.extend(kv(cx, "cmd", crate::state::shell_join(argv), w));
    }
    let client = match &n.connection {
        None => "not connected (no client library: the kernel's view only)".to_string(),
        Some(c) => {
            let listens = if n.listens_for_stop() { ", listens for the stop message" } else { "" };
            match &c.closed {
                None => format!("{} {} since {}{listens}", c.language, c.client_version, fmt_t(c.since)),
                Some((at, why)) => format!("{} {} disconnected at {}: {why}", c.language, c.client_version, fmt_t(*at)),
            }
        }
    };
    out.extend(kv(cx, "client", client, w));
    let spec = &n.spec;
    let mut plan = format!("{}, grace {}", spec.stop_signal, fmt_ms(spec.grace_ms));
    for e in &spec.escalate {
        let _ = write!(plan, ", {} after {}", e.signal, fmt_ms(e.after_ms));
    }
    if spec.drain_extension_ms > 0 {
        let _ = write!(plan, ", +up to {} while tokens drain", fmt_ms(spec.drain_extension_ms));
    }
    plan.push_str(if spec.group { ", to the process group" } else { ", to the process only" });
    out.extend(kv(cx, "stop", plan, w));
    if n.phase != Phase::Exited {
        out.extend(kv(
            cx,
            "usage",
            match n.usage_at {
                Some(_) => format!(
                    "{} CPU, {} resident, {}",
                    cpu(n.cpu_permille),
                    fmt_kib(n.rss_kib),
                    counted(usize::try_from(n.output_lines).unwrap_or(usize::MAX), "output line")
                ),
                None => format!(
                    "CPU and memory not measured yet, {}",
                    counted(usize::try_from(n.output_lines).unwrap_or(usize::MAX), "output line")
                ),
            },
            w,
        ));
    }
    if n.protocol_errors > 0 || n.client_dropped > 0 {
        out.extend(kv(
            cx,
            "problems",
            format!(
                "{}, {} dropped by the client",
                counted(n.protocol_errors as usize, "protocol error"),
                counted(usize::try_from(n.client_dropped).unwrap_or(usize::MAX), "event")
            ),
            w,
        ));
    }
    out.push(Line::default());
    out
}

fn handlers(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let mut out = vec![section(cx, "Signal handlers (kernel)")];
    let settling = n.settling_leader().is_some();
    let Some(leader) = n.leader().or_else(|| n.settling_leader()) else {
        out.push(Line::styled("  not sampled yet", t.dim));
        out.push(Line::default());
        return out;
    };
    if settling {
        let note = "  settling: read while it starts up; judged, and hazards checked, once the start-up is over";
        out.extend(wrap(&[Span::styled(note, t.dim)], w, 4));
    }
    let blocked = leader.blocked_everywhere();
    let mut sigs: Vec<Signal> = Signal::SHOWN.to_vec();
    for s in leader.caught.iter().chain(leader.ignored.iter()) {
        if !sigs.contains(&s) {
            sigs.push(s);
        }
    }
    let stop_sig = n.stop_signal();
    for sig in sigs {
        let mark = HandlerMark::of(n, sig, blocked);
        let disp = leader.disposition(sig);
        let mut what = match mark {
            HandlerMark::Failed => format!("{} (a claim failed)", disp.as_str()),
            HandlerMark::Blocked => format!("{}, blocked on every thread", disp.as_str()),
            _ => disp.as_str().to_string(),
        };
        if !settling && disp != Disposition::Ignored && !blocked.contains(sig) && leader.threads.len() > 1 {
            let recv = n.receiving_threads(sig).len();
            let _ = write!(what, ", {recv} of {} threads can take it", leader.threads.len());
        }
        let style = match mark {
            HandlerMark::Failed => t.bad,
            _ if settling => t.dim,
            HandlerMark::Caught => t.good,
            HandlerMark::Blocked => t.bad,
            HandlerMark::Ignored | HandlerMark::Default if sig == stop_sig => t.warn,
            _ => t.text,
        };
        let mut spans = vec![
            Span::raw(format!("  {:<8}", sig.name())),
            Span::styled(format!("{} ", mark.glyph()), style),
            Span::styled(what, style),
        ];
        if sig == stop_sig {
            spans.push(Span::styled("  ← stop signal", t.dim));
        }
        out.extend(wrap(&spans, w, 12));
    }
    out.push(Line::default());
    out
}

fn claims(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    if n.claims.is_empty() {
        return Vec::new();
    }
    let mut out = vec![section(cx, "Handler claims (client library)")];
    for c in &n.claims {
        let cl = &c.claim;
        let (word, style) = match cl.outcome {
            ClaimOutcome::Installed => ("installed", t.good),
            ClaimOutcome::Restored => ("restored", t.text),
            ClaimOutcome::Failed => ("FAILED", t.bad),
        };
        let thread = format!("thread '{}'{}", cl.thread, if cl.main_thread { " (main)" } else { " (not main)" });
        let mut spans = vec![
            Span::styled(format!("  {} ", fmt_t(c.t)), t.dim),
            Span::raw(format!("{} ", cl.signal.name())),
            Span::styled(word, style),
            Span::raw(format!(" by {} on {thread}", cl.owner)),
        ];
        if let Some(e) = &cl.error {
            spans.push(Span::styled(format!(": {e}"), t.bad));
        }
        out.extend(wrap(&spans, w, 4));
    }
    out.push(Line::default());
    out
}

fn threads(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let Some(leader) = n.leader() else { return Vec::new() };
    let sig = n.stop_signal();
    let receiving = n.receiving_threads(sig);
    let mut out =
        vec![section(cx, &format!("Threads ({}) · {} can receive {sig}", leader.threads.len(), receiving.len()))];
    for th in leader.threads.iter().take(THREADS_LISTED) {
        let can = !th.blocked.contains(sig);
        let blocked = if th.blocked.is_empty() { "-".to_string() } else { th.blocked.to_string() };
        let spans = vec![
            Span::styled(if can { "  ✓ " } else { "  ✗ " }, if can { t.good } else { t.warn }),
            Span::raw(format!("{:<7} {:<15} ", th.tid, crate::tui::format::fit(&th.name, 15))),
            Span::styled("blocks ", t.dim),
            Span::raw(blocked),
        ];
        out.extend(wrap(&spans, w, 29));
    }
    if leader.threads.len() > THREADS_LISTED {
        out.push(Line::styled(format!("  … {} more", leader.threads.len() - THREADS_LISTED), t.dim));
    }
    out.push(Line::default());
    out
}

fn stop(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    if let Some(s) = &n.stop {
        out.push(section(cx, "Stop"));
        let kind = if s.mode == crate::event::StopMode::Force { "forced" } else { "graceful" };
        out.extend(kv(cx, "asked", format!("{kind}, by {} at {}", s.by.as_str(), fmt_t(s.requested_at)), w));
        out.extend(kv(cx, "plan", s.plan.describe(), w));
        if n.exit.is_none() {
            let total = s.kill_at.saturating_sub(s.requested_at);
            let kill_left = s.kill_remaining(cx.now);
            let stage = s.stage.map_or_else(
                || "requested".to_string(),
                |a| if a == StageAction::Message { "stop message".to_string() } else { a.label() },
            );
            let stage_left = s.stage_remaining(cx.now).map(|l| format!(", {} left", countdown(l))).unwrap_or_default();
            out.extend(wrap(
                &[
                    Span::styled(format!("{:<9}", "now"), t.dim),
                    Span::styled(format!("{stage}{stage_left}"), t.warn),
                    Span::raw(format!(" · kill in {} ", countdown(kill_left))),
                    Span::styled(gauge(kill_left, total, 12), t.gauge),
                ],
                w,
                9,
            ));
            if s.extensions > 0 {
                out.extend(kv(cx, "extended", sentence::grace_extensions(s.extensions), w));
            }
        }
        let ack = match (s.acked_at, s.message_sent_at) {
            (Some(_), _) => format!("acknowledged after {}", s.ack_latency().map(fmt_ns).unwrap_or_default()),
            (None, Some(_)) => "stop message sent, not acknowledged".to_string(),
            (None, None) => "no stop message (node not listening)".to_string(),
        };
        out.extend(kv(cx, "ack", ack, w));
        out.push(Line::styled("Timeline", t.dim));
        for step in &s.timeline {
            let spans = vec![
                Span::styled(format!("  {} ", fmt_t(step.t)), t.dim),
                Span::styled(format!("{:>7}  ", format!("+{}", fmt_ns(step.t.saturating_sub(s.requested_at)))), t.dim),
                Span::raw(step.describe(s.requested_at)),
            ];
            out.extend(wrap(&spans, w, 22));
        }
    }
    if let Some(e) = &n.exit {
        let style = if e.cause.is_clean() { t.good } else { t.bad };
        out.push(section(cx, "Exit"));
        let mut spans = vec![
            Span::styled(format!("{:<9}", "cause"), t.dim),
            Span::styled(e.cause.with_status(&e.status()), style),
            Span::raw(format!(" at {}", fmt_t(e.t))),
        ];
        if let Some(s) = &n.stop {
            spans.push(Span::raw(format!(", {}", sentence::after_stop_request(e.t.saturating_sub(s.requested_at)))));
        }
        out.extend(wrap(&spans, w, 9));
        if let Some(err) = &e.error {
            out.extend(wrap(&[Span::styled(format!("{:<9}", "error"), t.dim), Span::styled(err.clone(), t.bad)], w, 9));
        }
        if !e.pending_tokens.is_empty() {
            let mut holders: Vec<&str> =
                e.pending_tokens.iter().flat_map(|p| p.holders.iter().map(String::as_str)).collect();
            holders.sort_unstable();
            holders.dedup();
            out.extend(kv(
                cx,
                "tokens",
                format!("{} still lent at the end, held by {}", e.pending_tokens.len(), holders.join(", ")),
                w,
            ));
        }
    }
    if !n.survivors.is_empty() {
        out.extend(kv(cx, "survivors", sentence::survivors_detached(&n.survivors), w));
    }
    if n.stop.is_none() && n.exit.is_none() {
        out.push(section(cx, "Stop"));
        let plan = crate::stop_engine::plan::for_node(
            n,
            crate::event::StopMode::Graceful,
            crate::stop_engine::plan::Overrides::default(),
        );
        out.extend(kv(cx, "plan", format!("not asked; s would: {}", plan.describe()), w));
    }
    out.push(Line::default());
    out
}

fn hazards(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    if n.hazards.is_empty() {
        return Vec::new();
    }
    let mut out = vec![section(cx, &format!("Hazards ({})", n.hazards.len()))];
    for h in &n.hazards {
        let spans = vec![
            Span::styled("⚠ ", t.bad),
            Span::styled(format!("{} ", h.id), t.warn),
            Span::raw(h.sentence.clone()),
            Span::styled(format!(" (since {})", fmt_t(h.since)), t.dim),
        ];
        out.extend(wrap(&spans, w, 2));
    }
    out.push(Line::default());
    out
}

fn tokens(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let l = &n.tokens;
    if l.issued_total == 0 {
        return Vec::new();
    }
    let pending = l.pending();
    let mut out = vec![section(cx, &format!("Drop tokens · {pending} pending"))];
    let oldest =
        l.oldest_issued_at().map(|at| format!(", oldest {}", fmt_ns(cx.now.saturating_sub(at)))).unwrap_or_default();
    let last = l
        .last_release_at
        .map(|at| format!(", last release {} ago", fmt_ns(cx.now.saturating_sub(at))))
        .unwrap_or_default();
    out.extend(wrap(
        &[Span::styled(format!("  issued {}, released {}{oldest}{last}", l.issued_total, l.released_total), t.text)],
        w,
        4,
    ));
    let holders: Vec<String> = l.holders().map(|(h, c)| format!("{h} ({c})")).collect();
    if !holders.is_empty() {
        out.extend(wrap(
            &[
                Span::styled("  held by ", t.dim),
                Span::styled(holders.join(", "), if n.phase == Phase::Stopping { t.warn } else { t.text }),
            ],
            w,
            4,
        ));
    }
    // The ledger walks issue order from the oldest: cheap for a handful, whatever is pending.
    for p in l.pending_tokens(cx.now, TOKENS_LISTED) {
        out.extend(wrap(
            &[
                Span::styled(format!("  #{:<8} {:>7}  ", p.id, fmt_ns(p.age_ns)), t.dim),
                Span::raw(p.holders.join(", ")),
            ],
            w,
            21,
        ));
    }
    if pending > TOKENS_LISTED {
        out.push(Line::styled(format!("  … {} more", pending - TOKENS_LISTED), t.dim));
    }
    out.push(Line::default());
    out
}

fn processes(cx: Ctx, n: &NodeState, w: usize) -> Vec<Line<'static>> {
    let t = cx.theme;
    let mut out = Vec::new();
    if let Some(leader) = n.leader() {
        out.push(section(cx, &format!("Processes ({})", n.procs.len())));
        out.push(Line::from(vec![
            Span::raw(format!("  {} {}", leader.pid, leader.name)),
            Span::styled(format!("  leader, {}", counted(leader.threads.len(), "thread")), t.dim),
        ]));
        let mut budget = PROCS_LISTED;
        tree(cx, n, leader.pid, "  ", 0, &mut budget, &mut out);
        if budget == 0 {
            out.push(Line::styled("  … more", t.dim));
        }
    }
    if !n.forks.is_empty() {
        out.push(Line::styled("Forks", t.dim));
        for f in n.forks.iter().rev().take(8) {
            let fate = match (f.execd, f.threaded) {
                (Some(true), _) => ("exec'd", t.good),
                (Some(false), Some(true)) if f.uncertain => {
                    ("no exec, may have been threaded (sampled /proc, not exact) ✗", t.bad)
                }
                (Some(false), Some(true)) => ("no exec, threads outlived the fork ✗", t.bad),
                (Some(false), _) => ("no exec", t.text),
                (None, _) => ("…", t.dim),
            };
            let runtime = if f.runtime == Some(true) { ", async runtime running" } else { "" };
            let source = match f.source {
                crate::event::ForkSource::Client => "client",
                crate::event::ForkSource::Connector => "kernel",
                crate::event::ForkSource::Proc => "/proc",
            };
            let spans = vec![
                Span::styled(format!("  {} ", fmt_t(f.t)), t.dim),
                Span::raw(format!("{} → {} with {} threads{runtime}: ", f.parent_pid, f.child_pid, f.threads)),
                Span::styled(fate.0, fate.1),
                Span::styled(format!(" [{source}]"), t.dim),
            ];
            out.extend(wrap(&spans, w, 12));
        }
    }
    if !out.is_empty() {
        out.push(Line::default());
    }
    out
}

fn tree(
    cx: Ctx,
    n: &NodeState,
    pid: u32,
    prefix: &str,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<Line<'static>>,
) {
    let t = cx.theme;
    let Some(p) = n.procs.get(&pid) else { return };
    let count = p.children.len();
    for (i, child) in p.children.iter().enumerate() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let last = i + 1 == count;
        let branch = if last { "└ " } else { "├ " };
        let (fate, style) = if child.execd { ("exec'd", t.good) } else { ("forked, no exec", t.warn) };
        let threads =
            n.procs.get(&child.pid).map(|s| format!(", {}", counted(s.threads.len(), "thread"))).unwrap_or_default();
        out.push(Line::from(vec![
            Span::styled(format!("{prefix}{branch}"), t.dim),
            Span::raw(format!("{} {} ", child.pid, child.name)),
            Span::styled(fate, style),
            Span::styled(threads, t.dim),
        ]));
        if depth < 3 {
            let next = format!("{prefix}{}", if last { "  " } else { "│ " });
            tree(cx, n, child.pid, &next, depth + 1, budget, out);
        }
    }
}
