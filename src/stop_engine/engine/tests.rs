//! The engine's logic with explicit times (a test about the pure state machine; the real
//! deadlines are measured against real processes in `tests/stop_deadlines.rs`).

use super::*;
use crate::event::{Event, Header};
use crate::manifest::{Escalation, NodeSpec};
use crate::state::Fold;

struct World {
    state: Fold,
    engine: StopEngine,
    seq: u64,
    log: Vec<String>,
}

impl World {
    fn new(specs: &[NodeSpec]) -> World {
        let header = Header::synthetic("s", specs.to_vec());
        let mut w =
            World { state: Fold::new(crate::hazards::lints()), engine: StopEngine::new(), seq: 0, log: Vec::new() };
        w.emit(0, EventKind::SessionStarted(Box::new(header)));
        for (i, s) in specs.iter().enumerate() {
            w.emit(
                0,
                EventKind::NodeSpawned {
                    node: s.name.clone(),
                    pid: 100 + i as u32,
                    pgid: 100 + i as u32,
                    argv: vec![],
                },
            );
        }
        w
    }
    fn emit(&mut self, t: u64, ev: EventKind) {
        self.state.apply(&Event { seq: self.seq, t, ev });
        self.seq += 1;
    }
    fn run(&mut self, t: u64, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Emit(ev) => {
                    if let EventKind::StageEntered { node, stage, .. } = &ev {
                        self.log.push(format!("{}ms {node} {}", t / MS, stage.label()));
                    }
                    if let EventKind::GraceExtended { node, deadline, .. } = &ev {
                        self.log.push(format!("{}ms {node} extended to {}ms", t / MS, deadline / MS));
                    }
                    self.emit(t, ev);
                }
                Effect::SendStopMessage { .. } | Effect::Signal { .. } => {}
            }
        }
    }
    fn tick(&mut self, t: u64) {
        let effects = self.engine.tick(&self.state, t);
        self.run(t, effects);
    }
    fn exit(&mut self, t: u64, node: &str, signal: Option<Signal>) -> ExitCause {
        let cause = self.engine.on_exit(node, None, signal, None);
        self.emit(
            t,
            EventKind::NodeExited { node: node.into(), pid: 0, code: None, signal, cause, pending_tokens: vec![] },
        );
        self.tick(t);
        cause
    }
}

/// One node's stop through the engine's one entry: its effects, or why it was refused.
fn request(w: &mut World, node: &str, mode: StopMode, by: Requester, now: u64) -> Result<Vec<Effect>, RequestError> {
    let req = StopRequest::nodes(vec![node.to_string()], mode, by);
    let mut submitted = w.engine.submit(&w.state, &req, now);
    match submitted.refused.pop() {
        Some(e) => Err(e),
        None => Ok(submitted.effects),
    }
}

/// A stop of everything through the engine's one entry: its effects.
fn request_all(w: &mut World, force: bool, by: Requester, now: u64) -> Vec<Effect> {
    let mode = if force { StopMode::Force } else { StopMode::Graceful };
    w.engine.submit(&w.state, &StopRequest::all(mode, by), now).effects
}

fn spec(name: &str, grace_ms: u64, deps: &[&str]) -> NodeSpec {
    let mut s = NodeSpec::with_defaults(name, vec!["x".into()]);
    s.grace_ms = grace_ms;
    s.depends_on = deps.iter().map(|d| (*d).to_string()).collect();
    s
}

#[test]
fn stages_are_entered_on_time_and_a_kill_is_classified() {
    let mut a = spec("a", 1000, &[]);
    a.escalate = vec![Escalation { signal: Signal::INT, after_ms: 400 }];
    let mut w = World::new(&[a]);
    let effects = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    assert!(effects.contains(&Effect::Signal { node: "a".into(), signal: Signal::TERM, group: true }));
    w.run(0, effects);
    assert_eq!(w.engine.next_deadline(), Some(400 * MS));
    w.tick(399 * MS);
    w.tick(400 * MS);
    assert_eq!(w.engine.next_deadline(), Some(1000 * MS));
    w.tick(1000 * MS);
    assert_eq!(w.log, vec!["0ms a SIGTERM", "400ms a SIGINT", "1000ms a SIGKILL"]);
    assert_eq!(w.exit(1001 * MS, "a", Some(Signal::KILL)), ExitCause::KilledAtDeadline);
}

#[test]
fn exits_are_stops_crashes_or_clean_exits() {
    let mut w = World::new(&[spec("a", 1000, &[]), spec("b", 1000, &[]), spec("c", 1000, &[])]);
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    w.run(0, e);
    // Dies of the SIGTERM it was sent: a stop.
    assert_eq!(w.exit(5 * MS, "a", Some(Signal::TERM)), ExitCause::Stopped);
    assert_eq!(w.engine.on_exit("b", Some(1), None, None), ExitCause::Crashed);
    assert_eq!(w.engine.on_exit("c", Some(0), None, None), ExitCause::Exited);
}

#[test]
fn force_kills_now_and_a_second_graceful_request_is_refused() {
    let mut w = World::new(&[spec("a", 1000, &[])]);
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    w.run(0, e);
    assert_eq!(
        request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 1),
        Err(RequestError::AlreadyStopping("a".into()))
    );
    let e = request(&mut w, "a", StopMode::Force, Requester::Ctl, 10 * MS).unwrap();
    assert!(e.contains(&Effect::Signal { node: "a".into(), signal: Signal::KILL, group: true }));
    w.run(10 * MS, e);
    assert_eq!(w.exit(11 * MS, "a", Some(Signal::KILL)), ExitCause::ForceKilled);
    assert_eq!(
        request(&mut w, "a", StopMode::Force, Requester::Ctl, 20 * MS),
        Err(RequestError::AlreadyExited("a".into()))
    );
}

#[test]
fn stop_all_goes_in_dependency_order_and_a_second_request_forces() {
    let mut w = World::new(&[spec("db", 1000, &[]), spec("app", 1000, &["db"]), spec("web", 1000, &["app"])]);
    let e = request_all(&mut w, false, Requester::Signal, 0);
    w.run(0, e);
    assert_eq!(w.log, vec!["0ms web SIGTERM"]);
    w.exit(50 * MS, "web", Some(Signal::TERM));
    assert_eq!(w.log.last().map(String::as_str), Some("50ms app SIGTERM"));
    // Second Ctrl-C: everything left dies now.
    let e = request_all(&mut w, false, Requester::Signal, 60 * MS);
    w.run(60 * MS, e);
    assert!(w.log.contains(&"60ms app SIGKILL".to_string()));
    assert!(w.log.contains(&"60ms db SIGKILL".to_string()));
    assert_eq!(w.exit(61 * MS, "app", Some(Signal::KILL)), ExitCause::ForceKilled);
    assert_eq!(w.exit(61 * MS, "db", Some(Signal::KILL)), ExitCause::ForceKilled);
    assert!(w.engine.all_done(&w.state));
}

#[test]
fn the_kill_deadline_moves_out_while_tokens_drain_but_never_past_the_bound() {
    let mut a = spec("a", 1000, &[]);
    a.drain_extension_ms = 1500;
    let mut w = World::new(&[a]);
    w.emit(0, EventKind::TokenIssued { node: "a".into(), id: 1, receivers: vec!["r".into()] });
    w.emit(0, EventKind::TokenIssued { node: "a".into(), id: 2, receivers: vec!["r".into()] });
    w.emit(0, EventKind::TokenIssued { node: "a".into(), id: 3, receivers: vec!["r".into()] });
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    w.run(0, e);
    w.emit(900 * MS, EventKind::TokenReleased { node: "a".into(), id: 1, receiver: "r".into() });
    w.tick(1000 * MS);
    assert_eq!(w.engine.next_deadline(), Some(2000 * MS));
    w.emit(1900 * MS, EventKind::TokenReleased { node: "a".into(), id: 2, receiver: "r".into() });
    w.tick(2000 * MS);
    // Bounded: grace 1s + at most 1.5s.
    assert_eq!(w.engine.next_deadline(), Some(2500 * MS));
    w.tick(2500 * MS);
    assert_eq!(
        w.log,
        vec!["0ms a SIGTERM", "1000ms a extended to 2000ms", "2000ms a extended to 2500ms", "2500ms a SIGKILL"]
    );
}

#[test]
fn no_extension_when_tokens_are_stuck() {
    let mut a = spec("a", 1000, &[]);
    a.drain_extension_ms = 5000;
    let mut w = World::new(&[a]);
    w.emit(0, EventKind::TokenIssued { node: "a".into(), id: 1, receivers: vec!["r".into()] });
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    w.run(0, e);
    w.tick(1000 * MS);
    assert_eq!(w.log, vec!["0ms a SIGTERM", "1000ms a SIGKILL"]);
}

#[test]
fn a_listening_node_gets_the_message_first() {
    let mut w = World::new(&[spec("a", 10_000, &[])]);
    w.emit(
        0,
        EventKind::NodeConnected { node: "a".into(), pid: 100, language: "rust".into(), client_version: "1".into() },
    );
    w.emit(0, EventKind::StopListening { node: "a".into() });
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Operator, 0).unwrap();
    assert!(e.contains(&Effect::SendStopMessage { node: "a".into(), signal_in_ms: 2000, kill_in_ms: 10_000 }));
    w.run(0, e);
    w.tick(2000 * MS);
    assert_eq!(w.log, vec!["0ms a stop message", "2000ms a SIGTERM"]);
}

#[test]
fn every_signal_stage_is_followed_by_sigcont_and_the_kill_is_not() {
    let mut a = spec("a", 1000, &[]);
    a.escalate = vec![Escalation { signal: Signal::INT, after_ms: 400 }];
    let mut w = World::new(&[a]);
    let signals = |effects: &[Effect]| -> Vec<Signal> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { signal, group: true, .. } => Some(*signal),
                _ => None,
            })
            .collect()
    };
    let e = request(&mut w, "a", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    assert_eq!(signals(&e), vec![Signal::TERM, Signal::CONT]);
    w.run(0, e);
    let e = w.engine.tick(&w.state, 400 * MS);
    assert_eq!(signals(&e), vec![Signal::INT, Signal::CONT]);
    w.run(400 * MS, e);
    let e = w.engine.tick(&w.state, 1000 * MS);
    assert_eq!(signals(&e), vec![Signal::KILL]);
}

/// Each node waits for the nodes that depend on it, not for a whole tier: `cache` (which only
/// `app` depends on) starts once `app` has ended, while the unrelated `lone` is still in its
/// long stop.
#[test]
fn stop_all_starts_each_node_once_its_own_dependents_have_ended() {
    let mut w = World::new(&[
        spec("db", 1000, &[]),
        spec("cache", 1000, &["db"]),
        spec("app", 1000, &["db", "cache"]),
        spec("lone", 8000, &[]),
    ]);
    let e = request_all(&mut w, false, Requester::Operator, 0);
    let Some(Effect::Emit(EventKind::StopAllRequested { waits, tiers, .. })) = e.first() else { panic!("{e:?}") };
    assert_eq!(tiers, &vec![vec!["app".to_string(), "lone".to_string()], vec!["cache".into()], vec!["db".into()]]);
    assert_eq!(waits.get("cache"), Some(&vec!["app".to_string()]));
    assert_eq!(waits.get("db"), Some(&vec!["app".to_string(), "cache".to_string()]));
    assert_eq!(waits.get("lone"), None);
    w.run(0, e);
    assert_eq!(w.log, vec!["0ms app SIGTERM", "0ms lone SIGTERM"]);
    w.exit(50 * MS, "app", Some(Signal::TERM));
    assert_eq!(w.log.last().map(String::as_str), Some("50ms cache SIGTERM"), "{:?}", w.log);
    w.exit(60 * MS, "cache", Some(Signal::TERM));
    assert_eq!(w.log.last().map(String::as_str), Some("60ms db SIGTERM"), "{:?}", w.log);
    w.exit(70 * MS, "db", Some(Signal::TERM));
    assert!(!w.engine.all_done(&w.state), "lone still stopping");
    w.tick(8000 * MS);
    assert_eq!(w.log.last().map(String::as_str), Some("8000ms lone SIGKILL"));
    assert_eq!(w.exit(8001 * MS, "lone", Some(Signal::KILL)), ExitCause::KilledAtDeadline);
    assert!(w.engine.all_done(&w.state));
}

/// A signal someone sent by hand is what an exit is put down to; during a stop only a SIGKILL
/// by hand (the stop would have ended it otherwise).
#[test]
fn an_exit_after_a_signal_sent_by_hand_is_put_down_to_it() {
    let mut w = World::new(&[spec("a", 1000, &[]), spec("b", 1000, &[]), spec("c", 1000, &[])]);
    let kill = Some((Signal::KILL, Requester::Operator));
    assert_eq!(
        w.engine.on_exit("a", None, Some(Signal::KILL), kill),
        ExitCause::Signalled { signal: Signal::KILL, by: Requester::Operator }
    );
    let int = Some((Signal::INT, Requester::Operator));
    assert_eq!(
        w.engine.on_exit("b", Some(0), None, int),
        ExitCause::Signalled { signal: Signal::INT, by: Requester::Operator }
    );
    let e = request(&mut w, "c", StopMode::Graceful, Requester::Ctl, 0).unwrap();
    w.run(0, e);
    assert_eq!(w.engine.on_exit("c", Some(0), None, int), ExitCause::Stopped);
}

/// The engine says how it took each node (nobody reads plans back out of its effects), and the
/// kill time it set travels in the event: the fold keeps it even when the event is stamped
/// later than the engine's `now`.
#[test]
fn a_request_returns_its_plans_and_the_event_carries_the_kill_time() {
    let mut w = World::new(&[spec("db", 1000, &[]), spec("app", 2000, &["db"])]);
    let submitted = w.engine.submit(&w.state, &StopRequest::all(StopMode::Graceful, Requester::Operator), 5 * MS);
    let said: Vec<(String, String)> = submitted.accepted.iter().map(|(n, c)| (n.clone(), c.describe())).collect();
    assert_eq!(
        said,
        vec![("db".to_string(), "once app ended".to_string()), ("app".into(), "SIGTERM → SIGKILL @2s".into())]
    );
    assert!(matches!(&submitted.accepted[1].1, Course::Plan(p) if p.grace_ms == 2000));
    let kill_at = submitted.effects.iter().find_map(|e| match e {
        Effect::Emit(EventKind::StopRequested { kill_at, .. }) => *kill_at,
        _ => None,
    });
    assert_eq!(kill_at, Some(2005 * MS));
    // Stamped 2 ms after the engine's clock read: the fold still says the engine's kill time.
    w.run(7 * MS, submitted.effects);
    assert_eq!(w.state.node("app").and_then(|n| n.stop.as_ref()).map(|s| s.kill_at), Some(2005 * MS));
    assert_eq!(w.engine.next_deadline(), Some(2005 * MS));
}
