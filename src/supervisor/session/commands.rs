//! What the session is asked: stops and signals from the control socket and the cockpits (all
//! through one [`StopRequest`]), `ps`, subscriptions, signals to gracewatch itself; and the
//! answers to `stop --wait` once its nodes have exited.

use super::{Session, Waiter};
use crate::control::protocol::StoppedNode;
use crate::event::{ExitCause, Requester, Signal, StopMode};
use crate::state::Phase;
use crate::stop_engine::{Effect, StopRequest, StopTargets};
use crate::supervisor::command::{Command, CommandError, StopReply};
use crate::supervisor::permission;

impl Session {
    pub(super) fn on_signal(&mut self, sig: i32) {
        self.signals_seen += 1;
        if !self.mode.stops_on_signal() {
            // Watching is not owning: a signal to gracewatch ends the watch, nothing else.
            self.end_requested = true;
            return;
        }
        let name = Signal::from_number(sig).map_or_else(|| sig.to_string(), Signal::name);
        let force = self.signals_seen > 1;
        tracing::info!("{name} received: {}", if force { "forcing" } else { "stopping everything" });
        self.stop_all(if force { StopMode::Force } else { StopMode::Graceful }, Requester::Signal);
        self.end_requested = true;
    }

    pub(super) fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Ps(reply) => {
                let _ = reply.send(crate::state::PsSnapshot::from_state(&self.hub.state, self.now()));
            }
            Command::Subscribe(reply) => {
                let _ = reply.send(self.hub.subscribe());
            }
            Command::Viewers(delta) => {
                self.viewers = self.viewers.saturating_add_signed(delta as isize);
            }
            Command::End => {
                self.end_requested = true;
                if self.mode.owns() && !self.hub.state.alive_nodes().is_empty() {
                    self.stop_all(StopMode::Force, Requester::Supervisor);
                }
            }
            Command::Signal { node, signal, by, reply } => {
                let group = self.hub.state.node(&node).is_some_and(|n| n.spec.group);
                let result = if self.procs.contains_key(&node) {
                    self.signal_node(&node, signal, group, by);
                    self.probe.sample_now(&node);
                    Ok(())
                } else if self.hub.state.node(&node).is_some() {
                    Err(CommandError::NotRunning(node))
                } else {
                    Err(CommandError::UnknownNode(node))
                };
                let _ = reply.send(result);
            }
            Command::Stop { request, reply, wait } => {
                let (answer, effects) = self.stop_command(&request);
                self.execute(effects);
                let accepted: Vec<String> = answer.accepted.iter().map(|(n, _)| n.clone()).collect();
                if accepted.is_empty() && answer.exited.is_empty() && answer.unknown.is_empty() {
                    let _ = reply.send(Err(CommandError::Refused(answer.refused)));
                    return;
                }
                let _ = reply.send(Ok(answer));
                if let Some(reply) = wait {
                    // Nothing accepted: the wait is over at once.
                    self.waiters.push(Waiter { nodes: accepted, reply });
                    self.answer_waiters();
                }
            }
        }
    }

    /// Takes a stop request: which nodes' stops start (and the effects that start them), which
    /// had already ended, which were refused. A name the session does not have stops nothing.
    fn stop_command(&mut self, request: &StopRequest) -> (StopReply, Vec<Effect>) {
        let now = self.now();
        let mut answer = StopReply::default();
        let state = &self.hub.state;
        let exited_line = |n: &crate::state::NodeState| {
            let how = n.exit.as_ref().map_or_else(
                || "it ended".to_string(),
                |e| {
                    e.cause.with_status(&if e.cause == ExitCause::SpawnFailed {
                        "never started".into()
                    } else {
                        e.status()
                    })
                },
            );
            format!("{} already exited ({how})", n.name)
        };
        let mut asked = request.clone();
        match &request.targets {
            StopTargets::All => {
                if state.alive_nodes().is_empty() {
                    answer.exited.push("every node has already exited".to_string());
                    return (answer, Vec::new());
                }
            }
            StopTargets::Nodes(nodes) => {
                answer.unknown = nodes.iter().filter(|n| state.node(n).is_none()).cloned().collect();
                if !answer.unknown.is_empty() {
                    answer.known = state.nodes.keys().cloned().collect();
                    return (answer, Vec::new());
                }
                let mut stoppable = Vec::new();
                for node in nodes {
                    let Some(n) = state.node(node) else { continue };
                    if n.phase == Phase::Exited {
                        answer.exited.push(exited_line(n));
                        continue;
                    }
                    // Watching: say at once when the kernel would refuse our signals.
                    let pid = Some(n).filter(|n| n.adopted && n.exit.is_none()).and_then(|n| n.pid);
                    if let Some(pid) = pid.filter(|p| !permission::may_signal(*p)) {
                        answer.refused.push(format!("cannot stop {node}: {}", permission::permission_refused(pid)));
                        continue;
                    }
                    stoppable.push(node.clone());
                }
                asked.targets = StopTargets::Nodes(stoppable);
            }
        }
        let submitted = self.engine.submit(state, &asked, now);
        answer.accepted = submitted.accepted.into_iter().map(|(node, course)| (node, course.describe())).collect();
        answer.refused.extend(submitted.refused.iter().map(ToString::to_string));
        (answer, submitted.effects)
    }

    /// Stops everything (a signal to gracewatch, the end of the session), every plan as it is.
    pub(super) fn stop_all(&mut self, mode: StopMode, by: Requester) {
        let now = self.now();
        let submitted = self.engine.submit(&self.hub.state, &StopRequest::all(mode, by), now);
        self.execute(submitted.effects);
    }

    pub(super) fn answer_waiters(&mut self) {
        let state = &self.hub.state;
        let (done, pending): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.nodes.iter().all(|n| state.node(n).is_none_or(|n| n.phase == Phase::Exited)));
        self.waiters = pending;
        self.answer(done);
    }

    /// The session is ending: every waiter gets its answer now.
    pub(super) fn answer_waiters_finally(&mut self) {
        let all = std::mem::take(&mut self.waiters);
        self.answer(all);
    }

    fn answer(&self, waiters: Vec<Waiter>) {
        let state = &self.hub.state;
        for w in waiters {
            let nodes = w
                .nodes
                .iter()
                .filter_map(|n| state.node(n))
                .map(|n| StoppedNode {
                    node: n.name.clone(),
                    cause: n.exit.as_ref().map(|e| e.cause),
                    status: n.exit.as_ref().map_or_else(|| "-".into(), crate::state::ExitRecord::status),
                    took_ms: n
                        .stop
                        .as_ref()
                        .zip(n.exit.as_ref())
                        .map(|(s, e)| e.t.saturating_sub(s.requested_at) / 1_000_000),
                })
                .collect();
            let _ = w.reply.send(nodes);
        }
    }
}
