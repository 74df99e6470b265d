//! Keys and mouse to actions, purely: `(event, &mut Ui, &State) -> Option<Action>`. The
//! `State` is the one on screen (the frozen one while paused).

use super::action::{Action, ReplayCmd};
use super::app::{
    Confirm, ConfirmKind, Overlay, PICKER_SIGNALS, Pane, Quitting, Ui, View, rows, scrolled_offset, selected_index,
};
use super::keymap::{self, Command, Context, Key};
use super::layout::{self, areas};
use super::logview;
use super::views::{confirm, detail, hazards, help};
use crate::control::protocol::Request;
use crate::event::Requester;
use crate::state::{Phase, State};
use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};

/// Lines a mouse wheel notch scrolls.
const WHEEL: usize = 3;

/// What `s`, `K`, `S` and `x` say in replay.
pub const STOP_DISABLED: &str = "replay: stop actions are disabled — this is a recording";

pub fn on_key(ev: KeyEvent, ui: &mut Ui, state: &State) -> Option<Action> {
    let key = Key::from_event(ev)?;
    if let Overlay::Search { input } | Overlay::Goto { input } = &mut ui.overlay {
        match key {
            Key::Char(c) => {
                input.push(c);
                return None;
            }
            Key::Backspace => {
                input.pop();
                return None;
            }
            _ => {}
        }
    }
    let binding = keymap::lookup(key, &keymap::contexts(ui))?;
    run(binding.cmd, binding.ctx, ui, state)
}

pub fn on_mouse(ev: MouseEvent, ui: &mut Ui, state: &State) -> Option<Action> {
    let (col, row) = (ev.column, ev.row);
    let up = match ev.kind {
        MouseEventKind::ScrollUp => true,
        MouseEventKind::ScrollDown => false,
        MouseEventKind::Down(MouseButton::Left) => return click(col, row, ui, state),
        _ => return None,
    };
    let cmd = if up { Command::Up } else { Command::Down };
    if let Overlay::Help { .. } = ui.overlay {
        for _ in 0..WHEEL {
            run(cmd, Context::Help, ui, state);
        }
        return None;
    }
    if ui.overlay != Overlay::None {
        return None;
    }
    let a = areas(ui.screen, ui, state);
    let pos = ratatui::layout::Position { x: col, y: row };
    let pane = if a.main.contains(pos) {
        Pane::Nodes
    } else if a.log.contains(pos) {
        Pane::Log
    } else if a.hazards.contains(pos) {
        Pane::Hazards
    } else {
        return None;
    };
    ui.focus = pane;
    let ctx = pane_context(ui);
    if ctx == Context::Log {
        // One step of WHEEL lines, not WHEEL steps of one.
        scroll_log(ui, state, WHEEL, up);
        return None;
    }
    for _ in 0..WHEEL {
        run(cmd, ctx, ui, state);
    }
    None
}

fn click(col: u16, row: u16, ui: &mut Ui, state: &State) -> Option<Action> {
    if ui.overlay != Overlay::None {
        return None;
    }
    let a = areas(ui.screen, ui, state);
    let pos = ratatui::layout::Position { x: col, y: row };
    if a.main.contains(pos) {
        ui.focus = Pane::Nodes;
        if ui.view == View::Table {
            // Border, then the header row, then data rows from the shown offset.
            let first = a.main.y + 2;
            if row >= first && row < a.main.y + a.main.height.saturating_sub(1) {
                let list = rows(state, ui);
                let h = layout::table_rows(a.main);
                let off = scrolled_offset(ui.table_offset, selected_index(&list, ui), h, list.len());
                if let Some(n) = list.get(off + usize::from(row - first)) {
                    ui.selected = Some(n.name.clone());
                    ui.table_offset = off;
                }
            }
        }
    } else if a.log.contains(pos) {
        ui.focus = Pane::Log;
    } else if a.hazards.contains(pos) {
        ui.focus = Pane::Hazards;
        let mut y = a.hazards.y + 1;
        for (i, lines) in hazards::visible(state, ui, a.hazards) {
            let h = lines.len() as u16;
            if row >= y && row < y + h {
                ui.hazard_cursor = i;
                break;
            }
            y += h;
        }
    }
    None
}

fn pane_context(ui: &Ui) -> Context {
    match (ui.focus, ui.view) {
        (Pane::Nodes, View::Table) => Context::Table,
        (Pane::Nodes, View::Detail) => Context::Detail,
        (Pane::Log, _) => Context::Log,
        (Pane::Hazards, _) => Context::Hazards,
    }
}

fn stop_request(nodes: Vec<String>, all: bool, force: bool) -> Request {
    Request::Stop { nodes, all, force, grace_ms: None, signal: None, wait: false, by: Requester::Operator }
}

/// Carries out one command in the context it was bound in.
#[allow(clippy::too_many_lines)]
fn run(cmd: Command, ctx: Context, ui: &mut Ui, state: &State) -> Option<Action> {
    match cmd {
        Command::Up | Command::Down | Command::PageUp | Command::PageDown | Command::Home | Command::End => {
            step(cmd, ctx, ui, state);
            None
        }
        Command::Open => {
            match ctx {
                Context::Table => {
                    if let Some(n) = ui.selected_node(state) {
                        ui.selected = Some(n.name.clone());
                        ui.view = View::Detail;
                        ui.detail_scroll = 0;
                    }
                }
                Context::Hazards => {
                    let notice = state
                        .hazard_feed
                        .len()
                        .checked_sub(ui.hazard_cursor + 1)
                        .and_then(|k| state.hazard_feed.get(k));
                    if let Some(h) = notice.filter(|h| state.node(&h.node).is_some()) {
                        ui.selected = Some(h.node.clone());
                        ui.view = View::Detail;
                        ui.focus = Pane::Nodes;
                        ui.detail_scroll = 0;
                    }
                }
                _ => {}
            }
            None
        }
        Command::Back => {
            if ctx == Context::Detail {
                ui.view = View::Table;
            }
            ui.overlay = Overlay::None;
            None
        }
        Command::Sort => {
            ui.pin_selection(state);
            ui.sort = ui.sort.next();
            ui.sort_desc = false;
            ui.notify(format!("sorted by {}", ui.sort.label()));
            None
        }
        Command::SortReverse => {
            ui.pin_selection(state);
            ui.sort_desc = !ui.sort_desc;
            ui.notify(format!("sorted by {}{}", ui.sort.label(), if ui.sort_desc { ", reversed" } else { "" }));
            None
        }
        Command::Stop => {
            let node = ui.selected_node(state)?;
            match node.phase {
                Phase::Exited => ui.notify(format!("{} has already exited", node.name)),
                Phase::Stopping => ui.notify(format!("{} is already stopping (K kills it now)", node.name)),
                Phase::Starting | Phase::Running => {
                    let text = confirm::stop_text(node);
                    ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::Stop(node.name.clone()), text });
                }
            }
            None
        }
        Command::Kill => {
            let node = ui.selected_node(state)?;
            if node.phase == Phase::Exited {
                ui.notify(format!("{} has already exited", node.name));
            } else {
                let text = confirm::kill_text(node);
                ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::Kill(node.name.clone()), text });
            }
            None
        }
        Command::StopAll => {
            if alive(state) == 0 {
                ui.notify("nothing to stop: every node has exited");
            } else {
                ui.overlay =
                    Overlay::Confirm(Confirm { kind: ConfirmKind::StopAll, text: confirm::stop_all_text(state) });
            }
            None
        }
        Command::Signal => {
            let node = ui.selected_node(state)?;
            if node.phase == Phase::Exited || node.pid.is_none() {
                ui.notify(format!("{} has no process to signal", node.name));
            } else {
                ui.overlay = Overlay::Picker { node: node.name.clone(), index: 0 };
            }
            None
        }
        Command::Pause => {
            ui.paused = !ui.paused;
            Some(if ui.paused { Action::Pause } else { Action::Resume })
        }
        Command::Help => {
            ui.overlay = Overlay::Help { scroll: 0 };
            None
        }
        Command::Quit => quit(ui, state),
        Command::FocusNext | Command::FocusPrev => {
            let a = areas(ui.screen, ui, state);
            let mut next = if cmd == Command::FocusNext { ui.focus.next() } else { ui.focus.prev() };
            if next == Pane::Hazards && a.hazards.height == 0 {
                next = if cmd == Command::FocusNext { next.next() } else { next.prev() };
            }
            ui.focus = next;
            None
        }
        Command::LogFilter => {
            ui.log.only_selected = !ui.log.only_selected;
            ui.log.anchor = None;
            match ui.log_filter(state) {
                Some(name) => ui.notify(format!("log: {name} only")),
                None => ui.notify("log: every node"),
            }
            None
        }
        Command::LogFollow => {
            ui.log.anchor = None;
            None
        }
        Command::Search => {
            ui.overlay = Overlay::Search { input: ui.log.search.clone().unwrap_or_default() };
            None
        }
        Command::SearchNext | Command::SearchPrev => {
            let Some(q) = ui.log.search.clone() else {
                ui.notify("no search: / to search the log");
                return None;
            };
            let filter = ui.log_filter(state);
            match logview::find(&state.log, filter, ui.log.anchor, &q, cmd == Command::SearchNext) {
                Some(abs) => ui.log.anchor = Some(abs),
                None => ui.notify(format!("no match for {q:?}")),
            }
            None
        }
        Command::Yes => yes(ui, state),
        Command::No => {
            ui.overlay = Overlay::None;
            None
        }
        Command::PlayPause => Some(Action::Replay(ReplayCmd::PlayPause)),
        Command::Faster => Some(Action::Replay(ReplayCmd::Faster)),
        Command::Slower => Some(Action::Replay(ReplayCmd::Slower)),
        Command::StepForward => Some(Action::Replay(ReplayCmd::Step { forward: true })),
        Command::StepBack => Some(Action::Replay(ReplayCmd::Step { forward: false })),
        Command::NextMark => Some(Action::Replay(ReplayCmd::Mark { forward: true })),
        Command::PrevMark => Some(Action::Replay(ReplayCmd::Mark { forward: false })),
        Command::ToStart => Some(Action::Replay(ReplayCmd::ToStart)),
        Command::ToEnd => Some(Action::Replay(ReplayCmd::ToEnd)),
        Command::Goto => {
            ui.overlay = Overlay::Goto { input: String::new() };
            None
        }
        Command::StopDisabled => {
            ui.notify(STOP_DISABLED);
            None
        }
        Command::Reconnect => {
            if ui.can_reconnect {
                Some(Action::Reconnect)
            } else {
                ui.notify("this cockpit cannot reconnect: run `gracewatch attach` again");
                None
            }
        }
    }
}

/// Nodes not yet exited.
fn alive(state: &State) -> usize {
    state.nodes.values().filter(|n| n.phase != Phase::Exited).count()
}

fn quit(ui: &mut Ui, state: &State) -> Option<Action> {
    if ui.mode != super::app::LinkMode::InProcess || ui.closed.is_some() || alive(state) == 0 {
        return Some(Action::Quit);
    }
    match ui.quitting {
        None => {
            let text = confirm::quit_text(state);
            ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::QuitStopAll, text });
        }
        Some(Quitting::Graceful) => {
            let text = confirm::quit_force_text(state);
            ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::QuitForce, text });
        }
        Some(Quitting::Forced) => {
            ui.notify(format!("waiting for {} to exit", crate::hazards::count(alive(state), "node")));
        }
    }
    None
}

fn yes(ui: &mut Ui, state: &State) -> Option<Action> {
    let overlay = std::mem::replace(&mut ui.overlay, Overlay::None);
    match overlay {
        Overlay::Confirm(Confirm { kind, .. }) => Some(Action::Send(match kind {
            ConfirmKind::Stop(node) => stop_request(vec![node], false, false),
            ConfirmKind::Kill(node) => stop_request(vec![node], false, true),
            ConfirmKind::Signal(node, signal) => Request::Signal { node, signal, by: Requester::Operator },
            ConfirmKind::StopAll => stop_request(Vec::new(), true, false),
            ConfirmKind::QuitStopAll => {
                ui.quitting = Some(Quitting::Graceful);
                stop_request(Vec::new(), true, false)
            }
            ConfirmKind::QuitForce => {
                ui.quitting = Some(Quitting::Forced);
                stop_request(Vec::new(), true, true)
            }
        })),
        Overlay::Picker { node, index } => {
            let signal = PICKER_SIGNALS[index.min(PICKER_SIGNALS.len() - 1)];
            if signal == crate::event::Signal::KILL {
                // Like `K`: no cleanup can run, so ask first.
                let text = state
                    .node(&node)
                    .map_or_else(|| format!("Send SIGKILL to {node} now (no cleanup)?"), confirm::signal_kill_text);
                ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::Signal(node, signal), text });
                return None;
            }
            Some(Action::Send(Request::Signal { node, signal, by: Requester::Operator }))
        }
        Overlay::Search { input } => {
            if input.is_empty() {
                ui.log.search = None;
                return None;
            }
            let filter = ui.log_filter(state);
            match logview::newest(&state.log, filter, &input) {
                Some(abs) => ui.log.anchor = Some(abs),
                None => ui.notify(format!("no match for {input:?}")),
            }
            ui.log.search = Some(input);
            None
        }
        Overlay::Goto { input } => {
            let started = state.header.as_ref().map_or(0, |h| h.started_unix_ms);
            match crate::replay::clock::parse_target(&input, started) {
                Ok(t) => Some(Action::Replay(ReplayCmd::Seek(t))),
                Err(e) => {
                    ui.notify(e.to_string());
                    None
                }
            }
        }
        other => {
            ui.overlay = other;
            None
        }
    }
}

/// Moves or scrolls in the context's pane.
fn step(cmd: Command, ctx: Context, ui: &mut Ui, state: &State) {
    let a = areas(ui.screen, ui, state);
    match ctx {
        Context::Table => {
            let list = rows(state, ui);
            if list.is_empty() {
                return;
            }
            let h = layout::table_rows(a.main).max(1);
            let cur = selected_index(&list, ui);
            let end = list.len() - 1;
            let next = match cmd {
                Command::Up => cur.saturating_sub(1),
                Command::Down => (cur + 1).min(end),
                Command::PageUp => cur.saturating_sub(h),
                Command::PageDown => (cur + h).min(end),
                Command::Home => 0,
                _ => end,
            };
            ui.selected = Some(list[next].name.clone());
            ui.table_offset = scrolled_offset(ui.table_offset, next, h, list.len());
        }
        Context::Detail => {
            let page = layout::inner_rows(a.main).max(1) as u16;
            let max = ui.selected_node(state).map_or(0, |n| detail::max_scroll(a.main, n, state, state.now, ui));
            ui.detail_scroll = moved(ui.detail_scroll, cmd, page, max);
        }
        Context::Help => {
            if let Overlay::Help { scroll } = &mut ui.overlay {
                let page = ui.screen.height.saturating_sub(4).max(1);
                *scroll = moved(*scroll, cmd, page, help::max_scroll(ui.screen, ui.replay.is_some()));
            }
        }
        Context::Picker => {
            if let Overlay::Picker { index, .. } = &mut ui.overlay {
                *index = match cmd {
                    Command::Up => index.saturating_sub(1),
                    _ => (*index + 1).min(PICKER_SIGNALS.len() - 1),
                };
            }
        }
        Context::Hazards => {
            let last = state.hazard_feed.len().saturating_sub(1);
            let page = layout::inner_rows(a.hazards).max(1);
            ui.hazard_cursor = match cmd {
                Command::Up => ui.hazard_cursor.saturating_sub(1),
                Command::Down => ui.hazard_cursor + 1,
                Command::PageUp => ui.hazard_cursor.saturating_sub(page),
                Command::PageDown => ui.hazard_cursor + page,
                Command::Home => 0,
                _ => last,
            }
            .min(last);
        }
        Context::Log => {
            let page = layout::inner_rows(a.log).max(1);
            match cmd {
                Command::Up => scroll_log(ui, state, 1, true),
                Command::Down => scroll_log(ui, state, 1, false),
                Command::PageUp => scroll_log(ui, state, page, true),
                Command::PageDown => scroll_log(ui, state, page, false),
                Command::Home => {
                    // The oldest line at the top: the bottom is a page further on.
                    let filter = ui.log_filter(state);
                    let top = logview::top(&state.log, filter);
                    ui.log.anchor = top;
                    scroll_log(ui, state, page.saturating_sub(1), false);
                }
                _ => ui.log.anchor = None,
            }
        }
        _ => {}
    }
}

fn scroll_log(ui: &mut Ui, state: &State, by: usize, up: bool) {
    let filter = ui.log_filter(state);
    let a = areas(ui.screen, ui, state);
    let page = layout::inner_rows(a.log);
    let mut anchor = logview::scroll(&state.log, filter, ui.log.anchor, by, up);
    // Scrolling up from the end: do not leave fewer lines than a page above the bottom.
    if up {
        let shown = logview::window(&state.log, filter, anchor, page).len();
        if shown < page {
            anchor = logview::top(&state.log, filter)
                .and_then(|t| logview::scroll(&state.log, filter, Some(t), page.saturating_sub(1), false));
            if anchor.is_none() {
                // The whole log fits: keep following.
                ui.log.anchor = None;
                return;
            }
        }
    }
    ui.log.anchor = anchor;
}

fn moved(cur: u16, cmd: Command, page: u16, max: u16) -> u16 {
    match cmd {
        Command::Up => cur.saturating_sub(1),
        Command::Down => cur.saturating_add(1),
        Command::PageUp => cur.saturating_sub(page),
        Command::PageDown => cur.saturating_add(page),
        Command::Home => 0,
        _ => max,
    }
    .min(max)
}

#[cfg(test)]
mod tests;
