//! Hand-written sessions for the cockpit's tests: event sequences folded through
//! `Fold::apply`, exactly as the live cockpit and replay build their state.
#![allow(dead_code, clippy::too_many_lines, clippy::unwrap_used)]

use gracewatch::event::*;
use gracewatch::manifest::{Escalation, Manifest, NodeSpec};
use gracewatch::state::{Fold, State};
use gracewatch::tui::app::{LinkMode, Ui};
use gracewatch::tui::theme::Theme;
use gracewatch::tui::views::Screen;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

/// 2026-05-01 12:34:56 UTC.
pub const STARTED_UNIX_MS: u64 = 1_777_638_896_000;

pub const MS: u64 = 1_000_000;
pub const S: u64 = 1_000_000_000;

pub fn header(session: &str, nodes: Vec<NodeSpec>) -> Header {
    Header {
        format: FORMAT_VERSION,
        format_minor: gracewatch::event::FORMAT_MINOR,
        version: "0.1.0".into(),
        session: session.into(),
        mode: SessionMode::Demo,
        host: "bench".into(),
        pid: 4000,
        started_unix_ms: STARTED_UNIX_MS,
        started: "2026-05-01T12:34:56Z".into(),
        monotonic_ns: 0,
        journal: Some("/tmp/demo.journal".into()),
        manifest: Manifest {
            name: session.into(),
            path: None,
            nodes,
            hazards: std::collections::BTreeMap::default(),
            probe_interval_ms: 250,
            watch_stop_signal: None,
        },
    }
}

pub struct Feed {
    pub state: Fold,
    seq: u64,
}

impl Feed {
    pub fn new(session: &str, nodes: Vec<NodeSpec>) -> Feed {
        let mut f = Feed { state: Fold::new(gracewatch::hazards::lints()), seq: 0 };
        f.at(0, EventKind::SessionStarted(Box::new(header(session, nodes))));
        f
    }

    /// Applies `ev` at `t_ms` milliseconds of session time.
    pub fn at(&mut self, t_ms: u64, ev: EventKind) -> &mut Feed {
        let e = Event { seq: self.seq, t: t_ms * MS, ev };
        self.seq += 1;
        self.state.apply(&e);
        self
    }
}

pub fn spec(name: &str, cmd: &str) -> NodeSpec {
    NodeSpec::with_defaults(name, cmd.split(' ').map(str::to_string).collect())
}

pub fn sigs(list: &[Signal]) -> SigSet {
    list.iter().copied().collect()
}

/// A process sample: `threads` as (name, blocked signals).
pub fn sample(
    pid: u32,
    name: &str,
    caught: &[Signal],
    ignored: &[Signal],
    threads: &[(&str, &[Signal])],
    children: Vec<ChildInfo>,
) -> ProcSample {
    ProcSample {
        pid,
        ppid: 4000,
        name: name.into(),
        caught: sigs(caught),
        ignored: sigs(ignored),
        threads: threads
            .iter()
            .enumerate()
            .map(|(i, (n, b))| ThreadSample { tid: pid + i as u32, name: (*n).into(), blocked: sigs(b) })
            .collect(),
        children,
        ..ProcSample::default()
    }
}

pub fn spawned(node: &str, pid: u32, argv: &str) -> EventKind {
    EventKind::NodeSpawned { node: node.into(), pid, pgid: pid, argv: argv.split(' ').map(str::to_string).collect() }
}

pub fn out(node: &str, line: &str) -> EventKind {
    EventKind::Output { node: node.into(), stream: Stream::Stdout, line: line.into(), truncated_from: None }
}

pub fn err(node: &str, line: &str) -> EventKind {
    EventKind::Output { node: node.into(), stream: Stream::Stderr, line: line.into(), truncated_from: None }
}

pub fn claim(
    node: &str,
    signal: Signal,
    outcome: ClaimOutcome,
    owner: &str,
    thread: &str,
    main: bool,
    error: Option<&str>,
) -> EventKind {
    EventKind::HandlerClaimed {
        node: node.into(),
        claim: HandlerClaim {
            signal,
            outcome,
            owner: owner.into(),
            thread: thread.into(),
            main_thread: main,
            error: error.map(Into::into),
        },
    }
}

pub fn plan(stages: &[(u64, StageAction)], grace_ms: u64) -> StopPlan {
    StopPlan {
        grace_ms,
        stages: stages.iter().map(|(at, a)| PlanStage { at_ms: *at, action: *a }).collect(),
        drain_extension_ms: 0,
        group: true,
    }
}

/// The demo's nodes, running: one per failure gracewatch exists for, and two healthy ones.
pub fn running_system() -> Feed {
    let mut camera = spec("camera", "python3 camera.py --fps 30");
    camera.escalate = vec![Escalation { signal: Signal::INT, after_ms: 3000 }];
    camera.drain_extension_ms = 5000;
    let nodes = vec![
        camera,
        spec("detector", "./detector --model yolo.onnx"),
        spec("recorder", "./recorder --out /var/rec"),
        spec("trainer", "python3 train.py"),
        spec("uploader", "./uploader"),
        spec("webui", "node server.js"),
    ];
    let mut f = Feed::new("demo", nodes);
    f.at(1, EventKind::ProbeMode { mode: ProbeMode::Connector, detail: "proc connector".into() });
    f.at(5, spawned("camera", 4101, "python3 camera.py --fps 30"));
    f.at(6, spawned("detector", 4102, "./detector --model yolo.onnx"));
    f.at(7, spawned("recorder", 4103, "./recorder --out /var/rec"));
    f.at(8, spawned("trainer", 4104, "python3 train.py"));
    f.at(9, spawned("uploader", 4105, "./uploader"));
    f.at(10, spawned("webui", 4106, "node server.js"));

    // camera: a Python node with the client library, listening for the stop message.
    f.at(
        120,
        EventKind::NodeConnected {
            node: "camera".into(),
            pid: 4101,
            language: "python".into(),
            client_version: "0.1.0".into(),
        },
    );
    f.at(121, EventKind::StopListening { node: "camera".into() });
    f.at(122, claim("camera", Signal::INT, ClaimOutcome::Installed, "gracewatch", "MainThread", true, None));
    f.at(123, claim("camera", Signal::TERM, ClaimOutcome::Installed, "gracewatch", "MainThread", true, None));
    f.at(
        300,
        EventKind::ProcSampled {
            node: "camera".into(),
            sample: sample(
                4101,
                "python3",
                &[Signal::INT, Signal::TERM],
                &[],
                &[("python3", &[]), ("grab", &[Signal::INT, Signal::TERM]), ("encode", &[Signal::INT, Signal::TERM])],
                vec![],
            ),
        },
    );
    // detector: a Rust node; all fine.
    f.at(
        130,
        EventKind::NodeConnected {
            node: "detector".into(),
            pid: 4102,
            language: "rust".into(),
            client_version: "0.1.0".into(),
        },
    );
    f.at(131, EventKind::StopListening { node: "detector".into() });
    f.at(
        301,
        EventKind::ProcSampled {
            node: "detector".into(),
            sample: sample(
                4102,
                "detector",
                &[Signal::INT, Signal::TERM, Signal::HUP],
                &[],
                &[("detector", &[]), ("tokio-rt-0", &[]), ("tokio-rt-1", &[])],
                vec![],
            ),
        },
    );
    // recorder: spawns ffmpeg, which exec'd.
    f.at(
        302,
        EventKind::ProcSampled {
            node: "recorder".into(),
            sample: sample(
                4103,
                "recorder",
                &[Signal::TERM],
                &[],
                &[("recorder", &[])],
                vec![ChildInfo { pid: 4200, name: "ffmpeg".into(), execd: true }],
            ),
        },
    );
    f.at(
        302,
        EventKind::ProcSampled {
            node: "recorder".into(),
            sample: ProcSample {
                ppid: 4103,
                ..sample(4200, "ffmpeg", &[Signal::INT], &[], &[("ffmpeg", &[])], vec![])
            },
        },
    );
    // trainer: a framework tried to claim SIGTERM from a worker thread and failed.
    f.at(
        140,
        EventKind::NodeConnected {
            node: "trainer".into(),
            pid: 4104,
            language: "python".into(),
            client_version: "0.1.0".into(),
        },
    );
    f.at(
        141,
        claim(
            "trainer",
            Signal::TERM,
            ClaimOutcome::Failed,
            "torch.distributed.elastic",
            "worker-1",
            false,
            Some("ValueError: signal only works in main thread of the main interpreter"),
        ),
    );
    f.at(
        303,
        EventKind::ProcSampled {
            node: "trainer".into(),
            sample: sample(4104, "python3", &[Signal::INT], &[], &[("python3", &[]), ("worker-1", &[])], vec![]),
        },
    );
    // uploader: ignores SIGTERM.
    f.at(
        304,
        EventKind::ProcSampled {
            node: "uploader".into(),
            sample: sample(4105, "uploader", &[], &[Signal::TERM, Signal::HUP], &[("uploader", &[])], vec![]),
        },
    );
    // webui: a plain process, nothing caught.
    f.at(
        305,
        EventKind::ProcSampled {
            node: "webui".into(),
            sample: sample(4106, "node", &[], &[], &[("node", &[]), ("libuv-worker", &[])], vec![]),
        },
    );

    for (node, cpu, rss) in [
        ("camera", 231, 81_920),
        ("detector", 874, 1_572_864),
        ("recorder", 118, 40_960),
        ("trainer", 990, 3_145_728),
        ("uploader", 3, 9_216),
        ("webui", 12, 65_536),
    ] {
        f.at(1000, EventKind::Usage { node: node.into(), cpu_permille: cpu, rss_kib: rss });
    }
    // camera lends frames to detector and recorder.
    for i in 0..40u64 {
        f.at(
            2000 + i * 100,
            EventKind::TokenIssued {
                node: "camera".into(),
                id: i,
                receivers: vec!["detector".into(), "recorder".into()],
            },
        );
        if i < 37 {
            f.at(
                2050 + i * 100,
                EventKind::TokenReleased { node: "camera".into(), id: i, receiver: "recorder".into() },
            );
            if i < 34 {
                f.at(
                    2060 + i * 100,
                    EventKind::TokenReleased { node: "camera".into(), id: i, receiver: "detector".into() },
                );
            }
        }
    }
    f.at(2500, out("camera", "camera ready: 1920x1080 @ 30fps"));
    f.at(2600, out("detector", "loaded model yolo.onnx (opset 17) in 412ms"));
    f.at(2700, err("trainer", "WARNING: could not install SIGTERM handler, continuing"));
    f.at(2800, out("webui", "listening on http://127.0.0.1:8080"));
    f.at(5500, out("recorder", "segment rec-0001.mkv written (30.0s)"));
    f
}

/// `running_system` with camera's stop under way: the stop message went unanswered, SIGTERM
/// went out at +12s and the kill lands at +20s; frames are still lent to detector.
pub fn mid_stop() -> Feed {
    let mut f = running_system();
    let p = plan(
        &[
            (0, StageAction::Message),
            (2000, StageAction::Signal(Signal::TERM)),
            (5000, StageAction::Signal(Signal::INT)),
            (10_000, StageAction::Kill),
        ],
        10_000,
    );
    f.at(
        10_000,
        EventKind::StopRequested {
            node: "camera".into(),
            by: Requester::Operator,
            mode: StopMode::Graceful,
            plan: p,
            kill_at: None,
        },
    );
    f.at(
        10_000,
        EventKind::StageEntered { node: "camera".into(), stage: StageAction::Message, deadline: Some(12 * S) },
    );
    f.at(10_001, EventKind::StopMessageSent { node: "camera".into() });
    f.at(
        12_000,
        EventKind::StageEntered {
            node: "camera".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(15 * S),
        },
    );
    f.at(
        12_000,
        EventKind::SignalSent {
            node: "camera".into(),
            pid: 4101,
            target: SignalTarget::Group,
            signal: Signal::TERM,
            error: None,
            by: Some(Requester::Plan),
        },
    );
    f.at(12_100, out("camera", "SIGTERM: draining 6 frames before exit"));
    f
}

/// Time of the `mid_stop` screenshots: 2.5 s into SIGTERM, 5.5 s before the kill.
pub const MID_STOP_NOW: u64 = 14_500 * MS;

/// One node per exit cause.
pub fn exited_all_causes() -> Feed {
    let names = ["done", "stopped", "killed", "forced", "crashed", "nostart"];
    let mut f = Feed::new("exits", names.iter().map(|n| spec(n, "./run")).collect());
    for (i, n) in names.iter().enumerate().take(5) {
        f.at(10, spawned(n, 5000 + i as u32, "./run"));
    }
    f.at(
        10,
        EventKind::SpawnFailed {
            node: "nostart".into(),
            error: "No such file or directory (os error 2): ./run".into(),
        },
    );
    f.at(
        1500,
        EventKind::NodeExited {
            node: "done".into(),
            pid: 5000,
            code: Some(0),
            signal: None,
            cause: ExitCause::Exited,
            pending_tokens: vec![],
        },
    );
    let graceful = plan(&[(0, StageAction::Signal(Signal::TERM)), (2000, StageAction::Kill)], 2000);
    for (n, pid) in [("stopped", 5001), ("killed", 5002)] {
        f.at(
            3000,
            EventKind::StopRequested {
                node: n.into(),
                by: Requester::Ctl,
                mode: StopMode::Graceful,
                plan: graceful.clone(),
                kill_at: None,
            },
        );
        f.at(
            3000,
            EventKind::StageEntered { node: n.into(), stage: StageAction::Signal(Signal::TERM), deadline: Some(5 * S) },
        );
        f.at(
            3000,
            EventKind::SignalSent {
                node: n.into(),
                pid,
                target: SignalTarget::Group,
                signal: Signal::TERM,
                error: None,
                by: Some(Requester::Plan),
            },
        );
    }
    f.at(3000, EventKind::TokenIssued { node: "killed".into(), id: 7, receivers: vec!["sink".into()] });
    f.at(
        3300,
        EventKind::NodeExited {
            node: "stopped".into(),
            pid: 5001,
            code: Some(1),
            signal: None,
            cause: ExitCause::Stopped,
            pending_tokens: vec![],
        },
    );
    f.at(5000, EventKind::StageEntered { node: "killed".into(), stage: StageAction::Kill, deadline: None });
    f.at(
        5000,
        EventKind::SignalSent {
            node: "killed".into(),
            pid: 5002,
            target: SignalTarget::Group,
            signal: Signal::KILL,
            error: None,
            by: Some(Requester::Plan),
        },
    );
    f.at(
        5002,
        EventKind::NodeExited {
            node: "killed".into(),
            pid: 5002,
            code: None,
            signal: Some(Signal::KILL),
            cause: ExitCause::KilledAtDeadline,
            pending_tokens: vec![PendingToken { id: 7, age_ns: 2 * S, holders: vec!["sink".into()] }],
        },
    );
    let force = plan(&[(0, StageAction::Kill)], 0);
    f.at(
        6000,
        EventKind::StopRequested {
            node: "forced".into(),
            by: Requester::Operator,
            mode: StopMode::Force,
            plan: force,
            kill_at: None,
        },
    );
    f.at(6000, EventKind::StageEntered { node: "forced".into(), stage: StageAction::Kill, deadline: None });
    f.at(
        6000,
        EventKind::SignalSent {
            node: "forced".into(),
            pid: 5003,
            target: SignalTarget::Group,
            signal: Signal::KILL,
            error: None,
            by: Some(Requester::Plan),
        },
    );
    f.at(
        6001,
        EventKind::NodeExited {
            node: "forced".into(),
            pid: 5003,
            code: None,
            signal: Some(Signal::KILL),
            cause: ExitCause::ForceKilled,
            pending_tokens: vec![],
        },
    );
    f.at(7000, err("crashed", "panicked at src/main.rs:12: index out of bounds"));
    f.at(
        7001,
        EventKind::NodeExited {
            node: "crashed".into(),
            pid: 5004,
            code: Some(101),
            signal: None,
            cause: ExitCause::Crashed,
            pending_tokens: vec![],
        },
    );
    f
}

/// Every hazard gracewatch knows, each raised by one node.
pub fn all_hazards() -> Feed {
    let names = ["ign", "pyterm", "blocked", "claims", "lost", "forker", "stuck", "mute", "leaky"];
    let mut f = Feed::new("hazards", names.iter().map(|n| spec(n, "./run")).collect());
    for (i, n) in names.iter().enumerate() {
        f.at(10, spawned(n, 6000 + i as u32, "./run"));
    }
    f.at(
        100,
        EventKind::ProcSampled {
            node: "ign".into(),
            sample: sample(6000, "ign", &[], &[Signal::TERM], &[("ign", &[])], vec![]),
        },
    );
    f.at(
        110,
        EventKind::ProcSampled {
            node: "pyterm".into(),
            sample: sample(6001, "python3", &[Signal::INT], &[], &[("python3", &[])], vec![]),
        },
    );
    // SIGTERM blocked on both threads, read after read from 120 ms on: a hazard once the run has
    // lasted (at 2.25 s, below).
    let blocked = |reads: u32| EventKind::ProcSampled {
        node: "blocked".into(),
        sample: ProcSample {
            mask_runs: MaskRuns {
                blocked: vec![MaskRun { signals: sigs(&[Signal::TERM]), reads, started: 1 }],
                held: vec![],
            },
            ..sample(
                6002,
                "blocked",
                &[Signal::TERM],
                &[],
                &[("main", &[Signal::TERM]), ("io", &[Signal::TERM, Signal::INT])],
                vec![],
            )
        },
    };
    f.at(120, blocked(2));
    f.at(
        130,
        claim(
            "claims",
            Signal::INT,
            ClaimOutcome::Failed,
            "uvicorn",
            "asyncio-worker",
            false,
            Some("signal only works in main thread of the main interpreter"),
        ),
    );
    f.at(140, claim("lost", Signal::TERM, ClaimOutcome::Installed, "app", "MainThread", true, None));
    f.at(
        150,
        EventKind::ProcSampled {
            node: "lost".into(),
            sample: sample(6004, "lost", &[], &[], &[("lost", &[])], vec![]),
        },
    );
    f.at(
        160,
        EventKind::Fork {
            node: "forker".into(),
            fork: ForkSeen {
                parent_pid: 6005,
                child_pid: 6100,
                threads: 9,
                runtime: Some(true),
                source: ForkSource::Client,
                client_tids: Vec::new(),
            },
        },
    );
    f.at(
        170,
        EventKind::ForkResolved {
            node: "forker".into(),
            child_pid: 6100,
            execd: false,
            threaded: true,
            uncertain: false,
        },
    );
    let p =
        plan(&[(0, StageAction::Message), (1000, StageAction::Signal(Signal::TERM)), (3000, StageAction::Kill)], 3000);
    f.at(200, EventKind::TokenIssued { node: "stuck".into(), id: 1, receivers: vec!["slow-python".into()] });
    f.at(
        900,
        EventKind::NodeConnected {
            node: "mute".into(),
            pid: 6007,
            language: "python".into(),
            client_version: "0.1.0".into(),
        },
    );
    f.at(901, EventKind::StopListening { node: "mute".into() });
    for n in ["stuck", "mute"] {
        f.at(
            1000,
            EventKind::StopRequested {
                node: n.into(),
                by: Requester::Operator,
                mode: StopMode::Graceful,
                plan: p.clone(),
                kill_at: None,
            },
        );
        f.at(1000, EventKind::StageEntered { node: n.into(), stage: StageAction::Message, deadline: Some(2 * S) });
    }
    f.at(1000, EventKind::StopMessageSent { node: "mute".into() });
    f.at(
        2000,
        EventKind::StageEntered {
            node: "stuck".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(4 * S),
        },
    );
    f.at(
        2000,
        EventKind::StageEntered {
            node: "mute".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(4 * S),
        },
    );
    f.at(
        2100,
        EventKind::NodeExited {
            node: "leaky".into(),
            pid: 6008,
            code: Some(0),
            signal: None,
            cause: ExitCause::Exited,
            pending_tokens: vec![],
        },
    );
    f.at(
        2200,
        EventKind::Survivors {
            node: "leaky".into(),
            survivors: vec![Survivor { pid: 6300, name: "sleep".into(), detached: true }],
        },
    );
    f.at(2250, blocked(9));
    f
}

pub fn ui(w: u16, h: u16) -> Ui {
    Ui::new(LinkMode::InProcess, Theme::plain(), Rect::new(0, 0, w, h))
}

/// The screen as text, the way a person would read it.
pub fn render(state: &State, ui: &Ui, now: u64, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(&Screen::new(state, ui, now), f.area())).unwrap();
    t.backend().to_string()
}

/// Paused nodes: `napper` stopped by SIGSTOP at rest (no hazard), `held` held by a debugger
/// while its stop runs (paused-during-stop), `victim` killed by hand from the `x` picker.
pub fn paused_and_signalled() -> Feed {
    let mut f = Feed::new(
        "paused",
        vec![spec("napper", "sleep 1000"), spec("held", "python3 app.py"), spec("victim", "./victim")],
    );
    for (i, n) in ["napper", "held", "victim"].iter().enumerate() {
        f.at(10, spawned(n, 7001 + i as u32, &format!("./{n}")));
    }
    let stopped = |pid, name: &str, paused| ProcSample {
        paused: Some(paused),
        ..sample(pid, name, &[], &[], &[(name, &[])], vec![])
    };
    f.at(500, EventKind::ProcSampled { node: "napper".into(), sample: stopped(7001, "sleep", Paused::Stopped) });
    f.at(500, EventKind::ProcSampled { node: "held".into(), sample: stopped(7002, "python3", Paused::Traced) });
    f.at(
        1000,
        EventKind::SignalSent {
            node: "victim".into(),
            pid: 7003,
            target: SignalTarget::Group,
            signal: Signal::KILL,
            error: None,
            by: Some(Requester::Operator),
        },
    );
    f.at(
        1001,
        EventKind::NodeExited {
            node: "victim".into(),
            pid: 7003,
            code: None,
            signal: Some(Signal::KILL),
            cause: ExitCause::Signalled { signal: Signal::KILL, by: Requester::Operator },
            pending_tokens: vec![],
        },
    );
    let p = plan(&[(0, StageAction::Signal(Signal::TERM)), (10_000, StageAction::Kill)], 10_000);
    f.at(
        2000,
        EventKind::StopRequested {
            node: "held".into(),
            by: Requester::Operator,
            mode: StopMode::Graceful,
            plan: p,
            kill_at: None,
        },
    );
    f.at(
        2000,
        EventKind::StageEntered {
            node: "held".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(12 * S),
        },
    );
    for signal in [Signal::TERM, Signal::CONT] {
        f.at(
            2000,
            EventKind::SignalSent {
                node: "held".into(),
                pid: 7002,
                target: SignalTarget::Group,
                signal,
                error: None,
                by: Some(Requester::Plan),
            },
        );
    }
    f
}
