//! The node wire protocol against the real supervisor: nodes that break it are cut off with a
//! visible event while they and every other node carry on.

use crate::common;
use common::*;
use gracewatch::event::{EventKind, ExitCause};

fn events(gw: &Gw) -> Vec<EventKind> {
    gw.journal().into_iter().map(|e| e.ev).collect()
}

fn has(gw: &Gw, pred: impl Fn(&EventKind) -> bool) -> bool {
    events(gw).iter().any(pred)
}

/// A well-behaved raw node that stays connected and keeps lending and returning.
const GOOD: &str = r#"
print(hello(), flush=True)
i = 0
while True:
    i += 1
    send({"type": "token_issued", "id": i, "receivers": ["sink"]})
    send({"type": "token_released", "id": i, "receiver": "sink"})
    time.sleep(0.05)
"#;

fn protocol_case(bad_body: &str, expected_error: &str) {
    let manifest = format!(
        "name = \"wire\"\n[nodes.good]\ncmd = [\"python3\", \"-c\", {}]\n[nodes.bad]\ncmd = [\"python3\", \"-c\", {}]\n",
        toml_str(&raw_node(GOOD)),
        toml_str(&raw_node(bad_body))
    );
    let gw = Gw::up(&manifest);
    // Two records (the error, then the cut connection), which may reach the journal in two
    // writes: wait for both.
    gw.wait_for(
        |gw| {
            has(gw, |e| matches!(e, EventKind::ProtocolError { node, .. } if node == "bad"))
                && has(gw, |e| matches!(e, EventKind::NodeDisconnected { node, .. } if node == "bad"))
        },
        "a protocol error from `bad` and its connection cut",
    );
    let evs = events(&gw);
    let error = evs.iter().find_map(|e| match e {
        EventKind::ProtocolError { node, error } if node == "bad" => Some(error.clone()),
        _ => None,
    });
    assert!(error.as_deref().is_some_and(|e| e.contains(expected_error)), "expected {expected_error:?}, got {error:?}");
    assert!(evs.iter().any(|e| matches!(e, EventKind::NodeDisconnected { node, reason } if node == "bad" && reason.contains("protocol error"))));
    // `bad` keeps running; `good` stays connected and keeps going.
    assert_eq!(gw.node("bad")["state"], "running");
    gw.wait_for(|gw| gw.node("good")["connected"] == true, "`good` connected");
    let issued_before =
        events(&gw).iter().filter(|e| matches!(e, EventKind::TokenIssued { node, .. } if node == "good")).count();
    gw.wait_for(
        |gw| {
            events(gw).iter().filter(|e| matches!(e, EventKind::TokenIssued { node, .. } if node == "good")).count()
                > issued_before + 3
        },
        "`good` to keep lending",
    );
    assert!(!has(&gw, |e| matches!(e, EventKind::ProtocolError { node, .. } if node == "good")));
}

#[test]
fn a_token_released_that_was_never_issued_cuts_the_connection() {
    protocol_case(
        "hello()\nsend({'type': 'token_released', 'id': 999, 'receiver': 'x'})\ntime.sleep(1000)",
        "token 999 released but never issued",
    );
}

#[test]
fn invalid_json_cuts_the_connection() {
    protocol_case("hello()\nsend_raw(b'{not json\\n')\ntime.sleep(1000)", "invalid message");
}

#[test]
fn an_unknown_message_type_cuts_the_connection() {
    protocol_case("hello()\nsend({'type': 'teleport'})\ntime.sleep(1000)", "unknown message type \"teleport\"");
}

#[test]
fn a_line_over_64_kib_cuts_the_connection() {
    protocol_case("hello()\nsend_raw(b'x' * (70 * 1024) + b'\\n')\ntime.sleep(1000)", "over the 64 KiB limit");
}

#[test]
fn a_wrong_secret_is_refused_and_recorded() {
    let body =
        "answer = hello(secret='not-the-secret')\nprint('answer', json.dumps(answer), flush=True)\ntime.sleep(1000)";
    let gw = Gw::up(&format!(
        "name = \"secret\"\n[nodes.liar]\ncmd = [\"python3\", \"-c\", {}]\n",
        toml_str(&raw_node(body))
    ));
    gw.wait_for(|gw| has(gw, |e| matches!(e, EventKind::ConnectionRefused { .. })), "a refused connection");
    assert!(has(
        &gw,
        |e| matches!(e, EventKind::ConnectionRefused { node: Some(n), reason } if n == "liar" && reason.contains("bad secret"))
    ));
    gw.wait_for(
        |gw| has(gw, |e| matches!(e, EventKind::Output { line, .. } if line.contains("\"refused\""))),
        "the node to see `refused`",
    );
    assert_eq!(gw.node("liar")["state"], "running");
    assert_eq!(gw.node("liar")["connected"], false);
}

#[test]
fn a_listening_node_stops_on_the_message_alone_and_ack_latency_is_recorded() {
    let mut gw = Gw::up("name = \"coop\"\n[nodes.steady]\ncmd = [\"{gracewatch}\", \"demo-node\", \"steady\"]\n");
    gw.wait_for(|gw| has(gw, |e| matches!(e, EventKind::StopListening { .. })), "the node to listen for stops");
    let out = gw.run(&["stop", "steady", "--wait", "--session", "coop"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stop message → SIGTERM @2s → SIGKILL @10s"), "{text}");
    assert!(text.contains("steady: stopped (status 0)"), "{text}");
    let _ = gw.wait_exit();
    let evs = events(&gw);
    assert!(evs.iter().any(|e| matches!(e, EventKind::StopMessageSent { .. })));
    assert!(evs.iter().any(|e| matches!(e, EventKind::StopAcked { .. })));
    assert!(!evs.iter().any(|e| matches!(e, EventKind::SignalSent { .. })), "no signal was needed");
    let state = replay_state(&gw);
    let n = state.node("steady").unwrap();
    assert!(n.stop.as_ref().unwrap().ack_latency().is_some());
    assert!(n.hazards.is_empty(), "{:?}", n.hazards);
}

#[test]
fn a_node_that_listens_but_never_acknowledges_raises_stop_unacknowledged() {
    let body =
        "hello(listens_stop=True)\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nwhile True: time.sleep(1)";
    let mut gw = Gw::up(&format!(
        "name = \"deaf\"\n[nodes.deaf]\ncmd = [\"python3\", \"-c\", {}]\ncooperative = \"300ms\"\n",
        toml_str(&raw_node(body))
    ));
    gw.wait_for(|gw| has(gw, |e| matches!(e, EventKind::StopListening { .. })), "listening");
    let out = gw.run(&["stop", "deaf", "--wait", "--session", "deaf"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("deaf: stopped"), "{}", String::from_utf8_lossy(&out.stdout));
    let _ = gw.wait_exit();
    let state = replay_state(&gw);
    assert!(state.node("deaf").unwrap().has_hazard(gracewatch::hazards::HazardId::StopUnacknowledged));
}

#[test]
fn tokens_pending_at_a_kill_are_journaled_with_their_holders_and_grace_extends_while_they_drain() {
    // Lends 20 tokens to `detector`; on SIGTERM keeps running, returning one token every 300ms.
    let body = r#"
hello()
for i in range(1, 21):
    send({"type": "token_issued", "id": i, "receivers": ["detector"]})
stopping = []
signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
print("lent", flush=True)
nxt = 1
while True:
    time.sleep(0.3)
    if stopping and nxt <= 20:
        send({"type": "token_released", "id": nxt, "receiver": "detector"})
        nxt += 1
"#;
    let manifest = format!(
        "name = \"drain\"\n[nodes.slow]\ncmd = [\"python3\", \"-c\", {}]\ngrace = \"1s\"\ndrain_extension = \"1500ms\"\n",
        toml_str(&raw_node(body))
    );
    let mut gw = Gw::up(&manifest);
    gw.wait_for(|gw| has(gw, |e| matches!(e, EventKind::Output { line, .. } if line == "lent")), "tokens lent");
    gw.wait_for(|gw| gw.node("slow")["pending_tokens"] == 20, "20 pending tokens in ps");
    assert_eq!(gw.node("slow")["token_holders"]["detector"], 20);
    let out = gw.run(&["stop", "slow", "--wait", "--session", "drain"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("slow: killed-at-deadline"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = gw.wait_exit();
    let evs = events(&gw);
    let extensions = evs.iter().filter(|e| matches!(e, EventKind::GraceExtended { .. })).count();
    assert!(extensions >= 1, "grace was extended while tokens drained");
    let exit = evs.iter().find_map(|e| match e {
        EventKind::NodeExited { cause, pending_tokens, .. } => Some((*cause, pending_tokens.clone())),
        _ => None,
    });
    let (cause, pending) = exit.unwrap();
    assert_eq!(cause, ExitCause::KilledAtDeadline);
    assert!(!pending.is_empty() && pending.len() < 20, "some tokens drained, some did not: {}", pending.len());
    assert!(pending.iter().all(|t| t.holders == vec!["detector".to_string()]));
    let state = replay_state(&gw);
    let n = state.node("slow").unwrap();
    assert!(n.has_hazard(gracewatch::hazards::HazardId::TokensStuck));
    // Bounded: no extension moved the deadline past grace + drain_extension after the request
    // (when the kill then lands is the engine's precision, measured in the benches, not here).
    let stop = n.stop.as_ref().unwrap();
    let bound = stop.requested_at + 2_500_000_000;
    let deadlines: Vec<u64> = evs
        .iter()
        .filter_map(|e| match e {
            EventKind::GraceExtended { deadline, .. } => Some(*deadline),
            _ => None,
        })
        .collect();
    assert!(!deadlines.is_empty(), "the deadline was extended");
    assert!(deadlines.iter().all(|d| *d <= bound), "bounded by grace + drain_extension: {deadlines:?} vs {bound}");
    let exit_t = n.exit.as_ref().unwrap().t;
    assert!(exit_t >= *deadlines.last().unwrap(), "killed at the last deadline, not before");
    // A sanity bound only (deadline precision is measured, not asserted): not seconds late.
    assert!(exit_t < bound + 5_000_000_000, "killed near the bound: {exit_t} vs {bound}");
}

/// The folded state of a finished session's journal.
fn replay_state(gw: &Gw) -> gracewatch::state::State {
    let mut s = gracewatch::state::Fold::new(gracewatch::hazards::lints());
    for e in gw.journal() {
        s.apply(&e);
    }
    s.into_state()
}
