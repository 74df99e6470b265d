//! What gracewatch writes for other programs, pinned so that a change of schema fails a test:
//! one serialized event of every kind (journal lines and what attached cockpits receive), the
//! output of `ps --json`, and the versions `attach` checks in its handshake. A failing snapshot
//! here is a format change: accept it only with the version it calls for
//! (`event::FORMAT_VERSION` for events, `control::protocol::PROTOCOL_VERSION` for what an
//! attached cockpit reads).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::pty_support;
use crate::tui_support;
use common::*;
use gracewatch::control::Error as AttachError;
use gracewatch::control::protocol::{Answer, PROTOCOL_VERSION};
use gracewatch::control::remote_link::check_handshake;
use gracewatch::event::*;
use gracewatch::manifest::NodeSpec;
use gracewatch::state::PsSnapshot;
use insta::assert_snapshot;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};

// ---- events ----

/// The events, one of each kind; compiles only while every kind of `EventKind` is listed, so a
/// new kind needs an instance (and a snapshot) here.
macro_rules! one_of_each {
    ($($variant:ident => $instance:expr,)*) => {{
        #[allow(dead_code)]
        fn every_kind_is_listed(kind: &EventKind) {
            match kind {
                $(EventKind::$variant { .. } => {})*
            }
        }
        vec![$({
            let instance: EventKind = $instance;
            assert!(matches!(instance, EventKind::$variant { .. }), "{} is listed as {instance:?}", stringify!($variant));
            instance
        }),*]
    }};
}

fn sample(pid: u32) -> ProcSample {
    ProcSample {
        pid,
        ppid: 4000,
        name: "camera".into(),
        caught: [Signal::TERM, Signal::INT].into_iter().collect(),
        ignored: [Signal::HUP].into_iter().collect(),
        threads: vec![ThreadSample { tid: pid, name: "camera".into(), blocked: [Signal::USR1].into_iter().collect() }],
        children: vec![ChildInfo { pid: pid + 1, name: "encoder".into(), execd: true }],
        mask_runs: MaskRuns {
            blocked: vec![MaskRun { signals: [Signal::TERM].into_iter().collect(), reads: 4, started: 2_000_000_000 }],
            held: vec![MaskRun { signals: [Signal::INT].into_iter().collect(), reads: 2, started: 0 }],
        },
        paused: Some(Paused::Stopped),
    }
}

fn every_event_kind() -> Vec<EventKind> {
    let node = || "camera".to_string();
    let mut spec = NodeSpec::with_defaults("camera", vec!["python3".into(), "camera.py".into()]);
    spec.depends_on = vec!["bus".into()];
    let mut header = Header::synthetic("robot", vec![spec, NodeSpec::with_defaults("bus", vec!["bus".into()])]);
    header.journal = Some("journal.jsonl".into());
    let plan = StopPlan {
        grace_ms: 2000,
        stages: vec![
            PlanStage { at_ms: 0, action: StageAction::Message },
            PlanStage { at_ms: 500, action: StageAction::Signal(Signal::TERM) },
            PlanStage { at_ms: 2000, action: StageAction::Kill },
        ],
        drain_extension_ms: 1000,
        group: true,
    };
    one_of_each! {
        SessionStarted => EventKind::SessionStarted(Box::new(header)),
        SessionEnded => EventKind::SessionEnded { reason: "every node exited".into() },
        NodeSpawned => EventKind::NodeSpawned { node: node(), pid: 4242, pgid: 4242, argv: vec!["python3".into(), "camera.py".into()] },
        SpawnFailed => EventKind::SpawnFailed { node: node(), error: "No such file or directory (os error 2)".into() },
        ProcessAdopted => EventKind::ProcessAdopted { node: node(), pid: 4242, argv: vec!["camera".into()], uid: 1000 },
        Output => EventKind::Output { node: node(), stream: Stream::Stderr, line: "frame 7 dropped".into(), truncated_from: Some(70_000) },
        NodeExited => EventKind::NodeExited {
            node: node(),
            pid: 4242,
            code: Some(3),
            signal: Some(Signal::TERM),
            cause: ExitCause::KilledAtDeadline,
            pending_tokens: vec![PendingToken { id: 7, age_ns: 1_500_000_000, holders: vec!["detector".into()] }],
        },
        Survivors => EventKind::Survivors { node: node(), survivors: vec![Survivor { pid: 4250, name: "orphan".into(), detached: true }] },
        ProcSampled => EventKind::ProcSampled { node: node(), sample: sample(4242) },
        ProcSettling => EventKind::ProcSettling { node: node(), sample: sample(4242) },
        ProcGone => EventKind::ProcGone { node: node(), pid: 4243 },
        Usage => EventKind::Usage { node: node(), cpu_permille: 125, rss_kib: 20_480 },
        Fork => EventKind::Fork {
            node: node(),
            fork: ForkSeen { parent_pid: 4242, child_pid: 4244, threads: 3, runtime: Some(false), source: ForkSource::Client, client_tids: vec![4243] },
        },
        ForkResolved => EventKind::ForkResolved { node: node(), child_pid: 4244, execd: false, threaded: true, uncertain: true },
        Exec => EventKind::Exec { node: node(), pid: 4244 },
        ProbeMode => EventKind::ProbeMode { mode: ProbeMode::Polling, detail: "the kernel connector needs CAP_NET_ADMIN".into() },
        StopRequested => EventKind::StopRequested { node: node(), by: Requester::Operator, mode: StopMode::Graceful, plan, kill_at: Some(12_000_000_000) },
        StopAllRequested => EventKind::StopAllRequested {
            by: Requester::Ctl,
            force: false,
            tiers: vec![vec!["camera".into()], vec!["bus".into()]],
            waits: BTreeMap::from([("bus".to_string(), vec!["camera".to_string()])]),
        },
        StageEntered => EventKind::StageEntered { node: node(), stage: StageAction::Signal(Signal::TERM), deadline: Some(2_000_000_000) },
        SignalSent => EventKind::SignalSent {
            node: node(),
            pid: 4242,
            target: SignalTarget::Group,
            signal: Signal::TERM,
            error: Some("No such process (os error 3)".into()),
            by: Some(Requester::Plan),
        },
        GraceExtended => EventKind::GraceExtended { node: node(), deadline: 3_000_000_000, pending_tokens: 2 },
        NodeConnected => EventKind::NodeConnected { node: node(), pid: 4242, language: "python".into(), client_version: "0.1.0".into() },
        NodeDisconnected => EventKind::NodeDisconnected { node: node(), reason: "end of stream".into() },
        StopListening => EventKind::StopListening { node: node() },
        ConnectionRefused => EventKind::ConnectionRefused { node: Some("camera".into()), reason: "bad secret for node \"camera\"".into() },
        ProtocolError => EventKind::ProtocolError { node: node(), error: "line over 64 KiB".into() },
        HandlerClaimed => EventKind::HandlerClaimed {
            node: node(),
            claim: HandlerClaim {
                signal: Signal::TERM,
                outcome: ClaimOutcome::Failed,
                owner: "servicekit".into(),
                thread: "worker".into(),
                main_thread: false,
                error: Some("signal only works in main thread".into()),
            },
        },
        TokenIssued => EventKind::TokenIssued { node: node(), id: 7, receivers: vec!["detector".into(), "recorder".into()] },
        TokenReleased => EventKind::TokenReleased { node: node(), id: 7, receiver: "detector".into() },
        StopMessageSent => EventKind::StopMessageSent { node: node() },
        StopAcked => EventKind::StopAcked { node: node() },
        ClientDropped => EventKind::ClientDropped { node: node(), count: 12 },
        SupervisorError => EventKind::SupervisorError { context: "journal".into(), message: "No space left on device (os error 28)".into() },
    }
}

#[test]
fn every_event_kind_serializes_as_its_snapshot_and_reads_back() {
    let kinds = every_event_kind();
    let names: std::collections::BTreeSet<&str> = kinds.iter().map(EventKind::name).collect();
    assert_eq!(names.len(), kinds.len(), "two instances of one kind");
    for ev in kinds {
        // The same envelope for every kind, so that a kind added to the list changes no other
        // snapshot.
        let event = Event { seq: 7, t: 1_520_331, ev };
        let line = serde_json::to_string(&event).unwrap();
        // What a journal line or an attached cockpit's event reads back as.
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event, "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
        assert_snapshot!(format!("event_{}", event.ev.name()), serde_json::to_string_pretty(&event).unwrap());
    }
}

// ---- ps --json ----

/// `ps --json` prints the supervisor's snapshot this way (`cli/ps.rs`).
fn ps_json(snapshot: &PsSnapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap()
}

/// Sessions written by hand (the cockpit's test sessions) at fixed times: every field of
/// `ps --json` in running, stopping, paused and exited nodes, with nothing volatile.
#[test]
fn ps_json_of_hand_written_sessions() {
    let stopping = tui_support::mid_stop();
    assert_snapshot!("ps_json_mid_stop", ps_json(&PsSnapshot::from_state(&stopping.state, tui_support::MID_STOP_NOW)));
    let exited = tui_support::exited_all_causes();
    assert_snapshot!("ps_json_exited", ps_json(&PsSnapshot::from_state(&exited.state, 60 * tui_support::S)));
    let hazards = tui_support::all_hazards();
    assert_snapshot!("ps_json_hazards", ps_json(&PsSnapshot::from_state(&hazards.state, 30 * tui_support::S)));
    let paused = tui_support::paused_and_signalled();
    assert_snapshot!("ps_json_paused", ps_json(&PsSnapshot::from_state(&paused.state, 30 * tui_support::S)));
}

/// Replaces what differs from run to run (pids, times, measured figures, paths) by its name,
/// line by line in the pretty output, so that the text keeps its order and every key, and `null`
/// stays `null`.
fn redact(pretty: &str) -> String {
    // `threads`: an exited node keeps its last sample's count, 1 or 0 depending on whether the
    // probe read it before or after its threads were gone.
    const VOLATILE: [&str; 9] =
        ["pid", "t", "threads", "cpu_permille", "rss_kib", "journal", "remaining_ms", "oldest_token_ms", "took_ms"];
    let mut out = String::new();
    for line in pretty.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let redacted = VOLATILE.iter().find_map(|key| {
            let value = line.trim_start().strip_prefix(&format!("\"{key}\": "))?;
            let comma = if value.ends_with(',') { "," } else { "" };
            (value.trim_end_matches(',') != "null").then(|| format!("{indent}\"{key}\": \"[{key}]\"{comma}"))
        });
        out.push_str(redacted.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The real `gracewatch ps --json` on a real session: one node running (its dispositions
/// judged), one stopped, with the volatile values redacted.
#[test]
fn ps_json_of_a_real_session_redacted() {
    let gw =
        Gw::up("name = \"formats\"\n[nodes.sleeper]\ncmd = \"sleep 1000\"\n[nodes.stopped]\ncmd = \"sleep 1001\"\n");
    gw.wait_for(
        |gw| {
            gw.ps()["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["handlers"].is_object() && n["threads"].is_number() && n["cpu_permille"].is_number())
        },
        "both nodes sampled, judged and measured",
    );
    let out = gw.run(&["stop", "stopped", "--wait", "--session", "formats"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = gw.run(&["ps", "--json", "--session", "formats"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str::<Value>(&text).unwrap();
    assert_snapshot!("ps_json_real_session", redact(&text));
}

// ---- the attach handshake ----

#[test]
fn the_attach_handshake_carries_the_supervisors_versions() {
    let line = serde_json::to_string(&Answer::attached()).unwrap();
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["answer"], "attached");
    assert_eq!(value["protocol"], PROTOCOL_VERSION);
    assert_eq!(value["format"], FORMAT_VERSION);
    assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
    assert!(check_handshake(&line).is_ok());
}

#[test]
fn a_supervisor_of_another_version_is_refused_before_its_state_is_read() {
    let newer =
        json!({"answer": "attached", "protocol": PROTOCOL_VERSION + 1, "format": FORMAT_VERSION, "version": "9.9.9"});
    let Err(AttachError::Incompatible(message)) = check_handshake(&newer.to_string()) else { panic!("{newer}") };
    assert!(message.contains("gracewatch 9.9.9"), "{message}");
    assert!(message.contains(&format!("control protocol {}", PROTOCOL_VERSION + 1)), "{message}");
    assert!(message.contains(&format!("this is gracewatch {}", env!("CARGO_PKG_VERSION"))), "{message}");
    // Another event format alone is as incompatible, whatever shape its version has.
    for format in [json!(FORMAT_VERSION + 1), json!({"major": 2, "minor": 0}), Value::Null] {
        let other = json!({"answer": "attached", "protocol": PROTOCOL_VERSION, "format": format, "version": "0.2.0"});
        assert!(matches!(check_handshake(&other.to_string()), Err(AttachError::Incompatible(_))), "{other}");
    }
    // A supervisor from before the handshake answers with its state at once.
    let older = json!({"answer": "state", "state": {"nodes": 3}, "dropped": 0});
    let Err(AttachError::Incompatible(message)) = check_handshake(&older.to_string()) else { panic!("{older}") };
    assert!(message.contains("does not say which protocol it speaks"), "{message}");
    // A refusal is said as the supervisor said it.
    let refused = json!({"answer": "error", "message": "the session is ending"});
    assert!(
        matches!(check_handshake(&refused.to_string()), Err(AttachError::Refused(m)) if m == "the session is ending")
    );
}

/// A control socket that answers `attach` with `first` (and nothing else): a supervisor of
/// another version, as far as the cockpit can tell.
fn fake_supervisor(dir: &std::path::Path, session: &str, first: Value) {
    let runtime = dir.join("run/gracewatch");
    std::fs::create_dir_all(&runtime).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(runtime.join(format!("{session}.sock"))).unwrap();
    std::thread::spawn(move || {
        // `attach` connects once to find the session, then again to attach.
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() && line.contains("attach") {
                let _ = writeln!(&stream, "{first}");
            }
        }
    });
}

/// The cockpit, in a real terminal, on a supervisor that speaks another protocol: it says so,
/// draws nothing, and exits with status 2.
#[test]
fn attach_to_a_supervisor_of_another_version_says_so_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    fake_supervisor(
        dir.path(),
        "future",
        json!({"answer": "attached", "protocol": PROTOCOL_VERSION + 1, "format": FORMAT_VERSION + 1, "version": "9.9.9"}),
    );
    let mut tui = pty_support::Pty::gracewatch(&["attach", "--session", "future"], dir.path(), 30, 120);
    assert_eq!(tui.wait_exit(), 2, "{}", tui.contents());
    // The process may have exited before the reader thread got its last bytes: wait for them.
    let said = "cannot attach: the session's supervisor is gracewatch 9.9.9";
    tui.wait_for("the refusal naming the supervisor's version", |s| s.contents().contains(said));
    tui.assert_terminal_restored();
}
