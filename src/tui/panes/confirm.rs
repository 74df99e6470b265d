//! The confirm line, and every request the cockpit sends: the questions `s`, `K`, `S`, `q`
//! and the picker's SIGKILL ask (their text fixed when asked), and what `y` sends. The one
//! place a key turns into a [`Request`] to the session.

use crate::control::protocol::Request;
use crate::event::{Requester, Signal, StopMode};
use crate::state::{Phase, State};
use crate::stop_engine::StopRequest;
use crate::tui::action::Action;
use crate::tui::app::{Confirm, ConfirmKind, LinkMode, Overlay, Quitting, Ui};
use crate::tui::keymap::Command;
use crate::tui::views::confirm as text;

/// A command bound in [`crate::tui::keymap::Context::Confirm`].
pub(crate) fn run(cmd: Command, ui: &mut Ui, _state: &State) -> Option<Action> {
    let overlay = std::mem::replace(&mut ui.overlay, Overlay::None);
    match (cmd, overlay) {
        (Command::Yes, Overlay::Confirm(Confirm { kind, .. })) => Some(Action::Send(send(kind, ui))),
        _ => None,
    }
}

/// What `y` on the confirm line sends; quitting remembers how hard it asked.
fn send(kind: ConfirmKind, ui: &mut Ui) -> Request {
    match kind {
        ConfirmKind::Stop(request) => Request::Stop { request, wait: false },
        ConfirmKind::Signal(node, signal) => Request::Signal { node, signal, by: Requester::Operator },
        ConfirmKind::QuitStopAll => {
            ui.link.quitting = Some(Quitting::Graceful);
            stop_all(StopMode::Graceful)
        }
        ConfirmKind::QuitForce => {
            ui.link.quitting = Some(Quitting::Forced);
            stop_all(StopMode::Force)
        }
    }
}

/// The operator's stop of one node.
fn stop_node(node: &str, mode: StopMode) -> StopRequest {
    StopRequest::nodes(vec![node.to_string()], mode, Requester::Operator)
}

/// The operator's stop of everything.
fn stop_all(mode: StopMode) -> Request {
    Request::Stop { request: StopRequest::all(mode, Requester::Operator), wait: false }
}

fn ask(ui: &mut Ui, kind: ConfirmKind, text: String) {
    ui.overlay = Overlay::Confirm(Confirm { kind, text });
}

/// `s`: asks to stop the selected node gracefully, showing its plan.
pub(crate) fn ask_stop(ui: &mut Ui, state: &State) {
    let Some(node) = ui.selected_node(state) else { return };
    match node.phase {
        Phase::Exited => ui.notify(format!("{} has already exited", node.name)),
        Phase::Stopping => ui.notify(format!("{} is already stopping (K kills it now)", node.name)),
        Phase::Starting | Phase::Running => {
            ask(ui, ConfirmKind::Stop(stop_node(&node.name, StopMode::Graceful)), text::stop_text(node));
        }
    }
}

/// `K`: asks to SIGKILL the selected node now.
pub(crate) fn ask_kill(ui: &mut Ui, state: &State) {
    let Some(node) = ui.selected_node(state) else { return };
    if node.phase == Phase::Exited {
        ui.notify(format!("{} has already exited", node.name));
    } else {
        ask(ui, ConfirmKind::Stop(stop_node(&node.name, StopMode::Force)), text::kill_text(node));
    }
}

/// `S`: asks to stop every node, in order.
pub(crate) fn ask_stop_all(ui: &mut Ui, state: &State) {
    if alive(state) == 0 {
        ui.notify("nothing to stop: every node has exited");
    } else {
        let request = StopRequest::all(StopMode::Graceful, Requester::Operator);
        ask(ui, ConfirmKind::Stop(request), text::stop_all_text(state));
    }
}

/// The picker's choice: sends `signal` to `node` now; SIGKILL, like `K`, asks first (no
/// cleanup can run).
pub(crate) fn signal(node: String, signal: Signal, ui: &mut Ui, state: &State) -> Option<Action> {
    if signal == Signal::KILL {
        let text = state
            .node(&node)
            .map_or_else(|| format!("Send SIGKILL to {node} now (no cleanup)?"), text::signal_kill_text);
        ask(ui, ConfirmKind::Signal(node, signal), text);
        return None;
    }
    Some(Action::Send(Request::Signal { node, signal, by: Requester::Operator }))
}

/// `q`: leaves at once, unless quitting an in-process session with nodes alive: then asks to
/// stop them all first, the second time to kill them, and then waits for them.
pub(crate) fn quit(ui: &mut Ui, state: &State) -> Option<Action> {
    if ui.link.mode != LinkMode::InProcess || ui.link.closed.is_some() || alive(state) == 0 {
        return Some(Action::Quit);
    }
    match ui.link.quitting {
        None => ask(ui, ConfirmKind::QuitStopAll, text::quit_text(state)),
        Some(Quitting::Graceful) => ask(ui, ConfirmKind::QuitForce, text::quit_force_text(state)),
        Some(Quitting::Forced) => {
            ui.notify(format!("waiting for {} to exit", crate::hazards::count(alive(state), "node")));
        }
    }
    None
}

/// Nodes started and not yet exited.
fn alive(state: &State) -> usize {
    state.alive_nodes().len()
}
