//! The confirm line (stop, kill, stop all, quit), the search line and replay's go-to line, and the questions they
//! ask. A question's text is fixed when it is asked: the operator confirms what they read.

use super::Ctx;
use super::wrap::wrap;
use crate::event::StopMode;
use crate::state::{NodeState, State};
use crate::stop_engine::plan::{self, Overrides};
use crate::tui::app::Overlay;
use crate::util::fmt_ms;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use std::fmt::Write as _;

/// `Stop camera: stop message → SIGTERM @2s → SIGKILL @10s (grace 10s, to its process group)?`
pub fn stop_text(node: &NodeState) -> String {
    let p = plan::for_node(node, StopMode::Graceful, Overrides::default());
    let mut extra = format!("grace {}", fmt_ms(p.grace_ms));
    if p.drain_extension_ms > 0 {
        let _ = write!(extra, ", +up to {} while tokens drain", fmt_ms(p.drain_extension_ms));
    }
    extra.push_str(if p.group { ", to its process group" } else { ", to its process only" });
    let tokens = node.tokens.pending();
    if tokens > 0 {
        let _ = write!(extra, ", {tokens} drop tokens lent");
    }
    format!("Stop {}: {} ({extra})?", node.name, p.describe())
}

/// `Kill camera now with SIGKILL (its process group, no cleanup)?`
pub(crate) fn kill_text(node: &NodeState) -> String {
    let to = if node.spec.group { "its process group" } else { "its process" };
    let tokens = node.tokens.pending();
    let lost = if tokens > 0 { format!(", {tokens} drop tokens still lent") } else { String::new() };
    format!("Kill {} now with SIGKILL ({to}, no cleanup{lost})?", node.name)
}

/// `Send SIGKILL to camera now (its process group, no cleanup, outside any stop plan)?`
pub(crate) fn signal_kill_text(node: &NodeState) -> String {
    let to = if node.spec.group { "its process group" } else { "its process" };
    let tokens = node.tokens.pending();
    let lost = if tokens > 0 { format!(", {tokens} drop tokens still lent") } else { String::new() };
    format!("Send SIGKILL to {} now ({to}, no cleanup{lost})?", node.name)
}

/// `Stop all 3 nodes, each after those that depend on it: app now; cache after app; db after cache?`
pub(crate) fn stop_all_text(state: &State) -> String {
    let order = plan::stop_all(state, false);
    format!("Stop {}, each after those that depend on it: {}?", all_nodes(order.nodes.len()), order.describe())
}

/// The in-process quit question.
pub(crate) fn quit_text(state: &State) -> String {
    let order = plan::stop_all(state, false);
    let n = order.nodes.len();
    format!(
        "Quit: stop {} first ({}) and leave once {} exited?",
        all_nodes(n),
        order.describe(),
        if n == 1 { "it has" } else { "they have" }
    )
}

/// Quitting again while the stop of everything runs.
pub(crate) fn quit_force_text(state: &State) -> String {
    let names = state.alive_nodes();
    format!(
        "Still waiting for {} to exit ({}). Kill {} now with SIGKILL?",
        crate::hazards::count(names.len(), "node"),
        names.join(", "),
        if names.len() == 1 { "it" } else { "them" }
    )
}

pub(crate) fn render(cx: Ctx, area: Rect, buf: &mut Buffer) {
    let t = cx.theme;
    buf.set_style(area, t.prompt);
    let line = match &cx.ui.overlay {
        Overlay::Confirm(c) => {
            // The keys are on the footer right below.
            let lines = wrap(&[Span::styled(format!(" {}", c.text), t.prompt)], usize::from(area.width), 1);
            Paragraph::new(lines).render(area, buf);
            return;
        }
        Overlay::Search { input } => Line::from(vec![
            Span::styled(" search log: /", t.prompt),
            Span::styled(format!("{input}█"), t.prompt),
            Span::styled("   Enter search · Esc cancel", t.prompt),
        ]),
        Overlay::Goto { input } => Line::from(vec![
            Span::styled(" go to: ", t.prompt),
            Span::styled(format!("{input}█"), t.prompt),
            Span::styled("   session time (12.5s, 1m3s) or UTC (14:02:33)", t.prompt),
        ]),
        _ => Line::default(),
    };
    line.render(area, buf);
}

/// `all 3 nodes`, `1 node`.
fn all_nodes(n: usize) -> String {
    if n == 1 { "1 node".to_string() } else { format!("all {n} nodes") }
}
