//! The fold, fed event sequences: no processes, no clocks.

use super::*;
use crate::event::*;
use crate::manifest::NodeSpec;

fn header(nodes: &[&str]) -> Header {
    Header::synthetic("s", nodes.iter().map(|n| NodeSpec::with_defaults(n, vec!["true".into()])).collect())
}
struct Feed {
    state: Fold,
    seq: u64,
}

impl Feed {
    fn new(nodes: &[&str]) -> Self {
        let mut f = Feed { state: Fold::new(crate::hazards::lints()), seq: 0 };
        f.at(0, EventKind::SessionStarted(Box::new(header(nodes))));
        f
    }
    fn at(&mut self, t_ms: u64, ev: EventKind) -> &mut Self {
        let e = Event { seq: self.seq, t: t_ms * 1_000_000, ev };
        self.seq += 1;
        self.state.apply(&e);
        self
    }
    fn node(&self, name: &str) -> &NodeState {
        self.state.node(name).unwrap()
    }
}

fn sample(pid: u32, caught: &[Signal], ignored: &[Signal], blocked: &[&[Signal]]) -> ProcSample {
    ProcSample {
        pid,
        ppid: 1,
        name: "x".into(),
        caught: caught.iter().copied().collect(),
        ignored: ignored.iter().copied().collect(),
        threads: blocked
            .iter()
            .enumerate()
            .map(|(i, b)| ThreadSample {
                tid: pid + i as u32,
                name: format!("t{i}"),
                blocked: b.iter().copied().collect(),
            })
            .collect(),
        children: vec![],
        ..ProcSample::default()
    }
}

fn spawned(node: &str, pid: u32) -> EventKind {
    EventKind::NodeSpawned { node: node.into(), pid, pgid: pid, argv: vec!["x".into()] }
}

fn plan() -> StopPlan {
    StopPlan {
        grace_ms: 1000,
        stages: vec![
            PlanStage { at_ms: 0, action: StageAction::Signal(Signal::TERM) },
            PlanStage { at_ms: 1000, action: StageAction::Kill },
        ],
        drain_extension_ms: 0,
        group: true,
    }
}

#[test]
fn a_stop_moves_through_its_phases_and_keeps_a_timeline() {
    let mut f = Feed::new(&["a"]);
    assert_eq!(f.node("a").phase, Phase::Starting);
    f.at(1, spawned("a", 100));
    assert_eq!(f.node("a").phase, Phase::Running);
    f.at(
        10,
        EventKind::StopRequested {
            node: "a".into(),
            by: Requester::Ctl,
            mode: StopMode::Graceful,
            plan: plan(),
            kill_at: None,
        },
    );
    f.at(
        10,
        EventKind::StageEntered {
            node: "a".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(1_010_000_000),
        },
    );
    f.at(
        10,
        EventKind::SignalSent {
            node: "a".into(),
            pid: 100,
            target: SignalTarget::Group,
            signal: Signal::TERM,
            error: None,
            by: Some(Requester::Plan),
        },
    );
    let n = f.node("a");
    assert_eq!(n.phase, Phase::Stopping);
    let stop = n.stop.as_ref().unwrap();
    assert_eq!(stop.stage_remaining(510_000_000), Some(500_000_000));
    assert_eq!(stop.kill_remaining(510_000_000), 500_000_000);
    f.at(
        300,
        EventKind::NodeExited {
            node: "a".into(),
            pid: 100,
            code: None,
            signal: Some(Signal::TERM),
            cause: ExitCause::Stopped,
            pending_tokens: vec![],
        },
    );
    let n = f.node("a");
    assert_eq!(n.phase, Phase::Exited);
    assert_eq!(n.exit.as_ref().unwrap().status(), "SIGTERM");
    assert_eq!(n.stop.as_ref().unwrap().timeline.len(), 4);
    assert!(f.state.all_exited());
    let ps = PsSnapshot::from_state(&f.state, 400_000_000);
    assert_eq!(ps.nodes[0].state, "exited");
    assert_eq!(ps.nodes[0].exit.as_ref().unwrap().cause, ExitCause::Stopped);
    assert!(ps.nodes[0].stop.is_none());
}

#[test]
fn kernel_masks_raise_signal_hazards_and_a_clean_process_raises_none() {
    let mut f = Feed::new(&["ign", "clean", "plain", "py"]);
    for (i, n) in ["ign", "clean", "plain", "py"].iter().enumerate() {
        f.at(1, spawned(n, 100 + i as u32));
    }
    f.at(2, EventKind::ProcSampled { node: "ign".into(), sample: sample(100, &[], &[Signal::TERM], &[&[]]) });
    f.at(
        2,
        EventKind::ProcSampled { node: "clean".into(), sample: sample(101, &[Signal::TERM, Signal::INT], &[], &[&[]]) },
    );
    f.at(2, EventKind::ProcSampled { node: "plain".into(), sample: sample(102, &[], &[], &[&[]]) });
    // Python: SIGINT caught by the interpreter, SIGTERM left at default.
    f.at(2, EventKind::ProcSampled { node: "py".into(), sample: sample(103, &[Signal::INT], &[], &[&[]]) });
    assert_eq!(ids(&f, "ign"), vec![HazardId::SigtermIgnored]);
    assert_eq!(ids(&f, "clean"), vec![]);
    assert_eq!(ids(&f, "plain"), vec![]);
    assert_eq!(ids(&f, "py"), vec![HazardId::StopSignalDefault]);
    assert_eq!(f.state.hazard_feed.len(), 2);
    assert_eq!(
        f.node("ign").hazards[0].sentence,
        "ignores SIGTERM (its stop signal): only SIGKILL at the end of its grace period will stop it"
    );
}

fn ids(f: &Feed, n: &str) -> Vec<HazardId> {
    f.node(n).hazards.iter().map(|h| h.id).collect()
}

/// A sample of a process with SIGTERM caught and blocked on both of its threads (the confirmed
/// masks), and these runs.
fn blocking(pid: u32, blocked_reads: u32, held_reads: u32) -> ProcSample {
    let run = |reads: u32| {
        (reads > 0).then_some(MaskRun { signals: [Signal::TERM].into_iter().collect(), reads, started: 1 })
    };
    ProcSample {
        mask_runs: MaskRuns {
            blocked: run(blocked_reads).into_iter().collect(),
            held: run(held_reads).into_iter().collect(),
        },
        ..sample(pid, &[Signal::TERM], &[], &[&[Signal::TERM], &[Signal::TERM, Signal::INT]])
    }
}

#[test]
fn a_blocked_stop_signal_is_a_hazard_only_once_it_has_persisted() {
    let mut f = Feed::new(&["blk", "brief"]);
    f.at(1, spawned("blk", 100));
    f.at(1, spawned("brief", 200));
    let sampled = |node: &str, sample: ProcSample| EventKind::ProcSampled { node: node.into(), sample };
    // Masks that say "blocked everywhere" without a run of reads behind them (a journal from
    // before the runs, or a mask seen in one read only): nothing.
    f.at(2, sampled("blk", blocking(100, 0, 0)));
    assert_eq!(ids(&f, "blk"), vec![]);
    // A run: two reads, then more, read after read; raised once it has lasted 2 s over 4 reads.
    f.at(100, sampled("blk", blocking(100, 2, 0)));
    f.at(350, sampled("blk", blocking(100, 3, 0)));
    f.at(600, sampled("blk", blocking(100, 4, 0)));
    assert_eq!(ids(&f, "blk"), vec![], "four reads, but over 0.5 s only");
    f.at(2099, sampled("blk", blocking(100, 10, 0)));
    assert_eq!(ids(&f, "blk"), vec![], "just short of 2 s");
    f.at(2100, sampled("blk", blocking(100, 10, 0)));
    assert_eq!(ids(&f, "blk"), vec![HazardId::StopSignalBlocked]);
    assert_eq!(
        f.node("blk").hazards[0].sentence,
        "blocks SIGTERM (its stop signal) on all 2 of its threads, in every read for at least 2s: a stop would leave it pending and end in SIGKILL"
    );
    // Seen open: gone.
    f.at(2400, sampled("blk", blocking(100, 0, 0)));
    assert_eq!(ids(&f, "blk"), vec![]);

    // A brief block seen in two reads in a row, again and again (a server under churn): each
    // run ends before it lasts, and a lower count starts a new one.
    for cycle in 0..20u64 {
        let t = 10 + cycle * 300;
        f.at(t, sampled("brief", blocking(200, 2, 0)));
        f.at(t + 250, sampled("brief", blocking(200, (cycle % 3) as u32 + 2, 0)));
        f.at(t + 290, sampled("brief", blocking(200, 0, 0)));
    }
    assert!(!f.state.hazard_feed.iter().any(|h| h.node == "brief"), "{:?}", f.state.hazard_feed);
}

#[test]
fn during_a_stop_a_blocked_stop_signal_is_judged_on_the_pending_evidence() {
    let mut f = Feed::new(&["held", "taken", "blocker"]);
    let sampled = |node: &str, sample: ProcSample| EventKind::ProcSampled { node: node.into(), sample };
    let stop = |f: &mut Feed, node: &str, pid: u32, t: u64| {
        f.at(
            t,
            EventKind::StopRequested {
                node: node.into(),
                by: Requester::Ctl,
                mode: StopMode::Graceful,
                plan: plan(),
                kill_at: None,
            },
        );
        f.at(
            t,
            EventKind::SignalSent {
                node: node.into(),
                pid,
                target: SignalTarget::Group,
                signal: Signal::TERM,
                error: None,
                by: Some(Requester::Plan),
            },
        );
    };
    f.at(1, spawned("held", 100));
    f.at(1, spawned("taken", 200));
    f.at(1, spawned("blocker", 300));
    // Briefly blocked when SIGTERM lands: pending at the first read after it, taken at the next.
    f.at(5, sampled("taken", blocking(200, 0, 0)));
    stop(&mut f, "taken", 200, 1000);
    f.at(1001, sampled("taken", blocking(200, 0, 1)));
    assert_eq!(ids(&f, "taken"), vec![], "pending at one read says nothing yet");
    f.at(1250, sampled("taken", blocking(200, 0, 0)));
    assert_eq!(ids(&f, "taken"), vec![]);

    // Still pending, read after read, with every thread blocking it.
    f.at(5, sampled("held", blocking(100, 0, 0)));
    stop(&mut f, "held", 100, 1000);
    f.at(1001, sampled("held", blocking(100, 2, 1)));
    f.at(1250, sampled("held", blocking(100, 3, 2)));
    assert_eq!(ids(&f, "held"), vec![], "pending for 249 ms");
    f.at(1501, sampled("held", blocking(100, 4, 3)));
    assert_eq!(ids(&f, "held"), vec![HazardId::StopSignalBlocked]);
    assert_eq!(
        f.node("held").hazards[0].sentence,
        "SIGTERM was sent 501ms ago and is still pending: every thread blocks it; the stop will end in SIGKILL"
    );

    // Flagged at rest (a long run), then the stop's evidence says the signal was taken (a
    // signalfd read it): cleared.
    f.at(100, sampled("blocker", blocking(300, 2, 0)));
    f.at(2500, sampled("blocker", blocking(300, 10, 0)));
    assert_eq!(ids(&f, "blocker"), vec![HazardId::StopSignalBlocked]);
    stop(&mut f, "blocker", 300, 3000);
    f.at(3001, sampled("blocker", blocking(300, 10, 1)));
    assert_eq!(ids(&f, "blocker"), vec![HazardId::StopSignalBlocked], "kept while the evidence is young");
    f.at(3250, sampled("blocker", blocking(300, 10, 0)));
    assert_eq!(ids(&f, "blocker"), vec![]);
}

#[test]
fn a_watched_process_is_judged_against_the_stop_signal_assumed_and_says_so() {
    let sentences = |assumed: Option<Signal>| {
        let mut h = Header::synthetic("watch-1", Vec::new());
        h.mode = SessionMode::Watch;
        h.manifest.watch_stop_signal = assumed;
        let mut f = Feed { state: Fold::new(crate::hazards::lints()), seq: 0 };
        f.at(0, EventKind::SessionStarted(Box::new(h)));
        f.at(1, EventKind::ProcessAdopted { node: "py-7".into(), pid: 7, argv: vec!["python3".into()], uid: 0 });
        // Python with a SIGINT handler only (`http.server`), and a program that ignores SIGINT.
        f.at(2, EventKind::ProcSampled { node: "py-7".into(), sample: sample(7, &[Signal::INT], &[], &[&[]]) });
        f.at(1, EventKind::ProcessAdopted { node: "ig-8".into(), pid: 8, argv: vec!["ig".into()], uid: 0 });
        f.at(2, EventKind::ProcSampled { node: "ig-8".into(), sample: sample(8, &[], &[Signal::INT], &[&[]]) });
        f.state.hazard_feed.iter().map(|h| (h.node.clone(), h.id, h.sentence.clone())).collect::<Vec<_>>()
    };
    let plain = sentences(None);
    assert_eq!(
        plain,
        vec![(
            "py-7".to_string(),
            HazardId::StopSignalDefault,
            "SIGTERM (the stop signal assumed; use --stop-signal if it stops with another) is at its default action though it catches SIGINT: it will die without cleanup".to_string()
        )]
    );
    let int = sentences(Some(Signal::INT));
    assert_eq!(
        int,
        vec![(
            "ig-8".to_string(),
            HazardId::SigtermIgnored,
            "ignores SIGINT (the stop signal assumed; use --stop-signal if it stops with another): only SIGKILL at the end of its grace period will stop it".to_string()
        )]
    );
}

/// A shell waiting for one command: SIGINT and SIGCHLD caught, the command its only child.
fn waiting_shell(pid: u32, command: u32, command_name: &str) -> ProcSample {
    let mut shell = sample(pid, &[Signal::INT, Signal::CHLD], &[], &[&[]]);
    shell.name = "sh".into();
    shell.children = vec![ChildInfo { pid: command, name: command_name.into(), execd: true }];
    shell
}

#[test]
fn a_shell_waiting_for_its_command_is_judged_by_that_command() {
    let names = ["wrapped_clean", "wrapped_py", "pipeline", "own_group", "between"];
    let mut f = Feed::new(&names);
    for (i, n) in names.iter().enumerate() {
        f.at(1, spawned(n, 100 + 10 * i as u32));
    }
    let sampled = |node: &str, sample: ProcSample| EventKind::ProcSampled { node: node.into(), sample };
    // A shell with a `trap ... HUP` (as a shell's own SIGINT says nothing, a trap on SIGHUP
    // shows whether the shell itself is what is judged).
    let trapping_hup = |pid: u32, command: u32| {
        let mut shell = waiting_shell(pid, command, "a");
        shell.caught.insert(Signal::HUP);
        shell
    };
    // `sh -c 'sleep 1000; true'`: the shell's SIGINT is job control, its sleep is clean.
    f.at(2, sampled("wrapped_clean", waiting_shell(100, 101, "sleep")));
    f.at(2, sampled("wrapped_clean", sample(101, &[], &[], &[&[]])));
    // `sh -c 'python app.py; echo done'`: Python catches SIGINT and not SIGTERM.
    f.at(2, sampled("wrapped_py", waiting_shell(110, 111, "python3")));
    let mut py = sample(111, &[Signal::INT], &[], &[&[]]);
    py.name = "python3".into();
    f.at(2, sampled("wrapped_py", py));
    // Two commands (a pipeline): the shell is what there is to judge.
    let mut pipeline = trapping_hup(120, 121);
    pipeline.children.push(ChildInfo { pid: 122, name: "b".into(), execd: true });
    f.at(2, sampled("pipeline", pipeline));
    // Only the shell gets the stop signal (`group = false`): the shell is judged.
    f.state.nodes.get_mut("own_group").unwrap().spec.group = false;
    f.at(2, sampled("own_group", trapping_hup(130, 131)));
    f.at(2, sampled("own_group", sample(131, &[], &[], &[&[]])));
    // Between two commands (dash keeps SIGINT caught): nothing to say.
    let mut between = waiting_shell(140, 141, "x");
    between.children.clear();
    f.at(2, sampled("between", between));
    let ids = |f: &Feed, n: &str| f.node(n).hazards.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&f, "wrapped_clean"), vec![]);
    assert_eq!(ids(&f, "wrapped_py"), vec![HazardId::StopSignalDefault]);
    let s = &f.node("wrapped_py").hazards[0].sentence;
    assert!(
        s.contains("its command python3 (pid 111, run by sh) has SIGTERM (its stop signal) at its default action"),
        "{s}"
    );
    assert!(s.contains("catches SIGINT"), "{s}");
    for shell_judged in ["pipeline", "own_group"] {
        assert_eq!(ids(&f, shell_judged), vec![HazardId::StopSignalDefault], "{shell_judged}");
        let s = &f.node(shell_judged).hazards[0].sentence;
        assert!(s.starts_with("SIGTERM (its stop signal) is at its default action though it catches SIGHUP:"), "{s}");
    }
    assert_eq!(ids(&f, "between"), vec![]);
    // Once the command is gone from the samples, the shell waits for nothing to judge.
    f.at(3, EventKind::ProcGone { node: "wrapped_py".into(), pid: 111 });
    assert_eq!(ids(&f, "wrapped_py"), vec![]);
}

#[test]
fn claims_raise_install_failed_off_main_and_lost() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    let claim = |outcome, main, error: Option<&str>| HandlerClaim {
        signal: Signal::TERM,
        outcome,
        owner: "lib".into(),
        thread: if main { "MainThread".into() } else { "worker".into() },
        main_thread: main,
        error: error.map(Into::into),
    };
    f.at(
        2,
        EventKind::HandlerClaimed {
            node: "a".into(),
            claim: claim(ClaimOutcome::Failed, false, Some("signal only works in main thread of the main interpreter")),
        },
    );
    let ids: Vec<_> = f.node("a").hazards.iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![HazardId::HandlerInstallFailed, HazardId::HandlerOffMainThread]);
    assert!(f.node("a").hazards[0].sentence.contains("signal only works in main thread"));
    // The library retries from the main thread and succeeds; then the probe sees it caught.
    f.at(3, EventKind::HandlerClaimed { node: "a".into(), claim: claim(ClaimOutcome::Installed, true, None) });
    f.at(4, EventKind::ProcSampled { node: "a".into(), sample: sample(100, &[Signal::TERM], &[], &[&[]]) });
    assert!(f.node("a").hazards.is_empty());
    // Later the kernel shows SIGTERM at default: someone reset it.
    f.at(5, EventKind::ProcSampled { node: "a".into(), sample: sample(100, &[], &[], &[&[]]) });
    assert_eq!(f.node("a").hazards.iter().map(|h| h.id).collect::<Vec<_>>(), vec![HazardId::HandlerLost]);
}

#[test]
fn tokens_pending_at_a_kill_are_kept_and_raise_tokens_stuck() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    f.at(2, EventKind::TokenIssued { node: "a".into(), id: 1, receivers: vec!["detector".into()] });
    f.at(3, EventKind::TokenIssued { node: "a".into(), id: 2, receivers: vec!["detector".into(), "logger".into()] });
    f.at(4, EventKind::TokenReleased { node: "a".into(), id: 2, receiver: "logger".into() });
    assert_eq!(f.node("a").tokens.pending(), 2);
    f.at(
        10,
        EventKind::StopRequested {
            node: "a".into(),
            by: Requester::Operator,
            mode: StopMode::Graceful,
            plan: plan(),
            kill_at: None,
        },
    );
    f.at(
        10,
        EventKind::StageEntered {
            node: "a".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(1_010_000_000),
        },
    );
    assert!(!f.node("a").has_hazard(HazardId::TokensStuck), "the first stage is the node's chance to drain");
    f.at(1010, EventKind::StageEntered { node: "a".into(), stage: StageAction::Kill, deadline: None });
    assert!(f.node("a").hazards.iter().any(|h| h.id == HazardId::TokensStuck));
    let pending = f.node("a").tokens.pending_tokens(1_010_000_000, 100);
    f.at(
        1010,
        EventKind::NodeExited {
            node: "a".into(),
            pid: 100,
            code: None,
            signal: Some(Signal::KILL),
            cause: ExitCause::KilledAtDeadline,
            pending_tokens: pending,
        },
    );
    let n = f.node("a");
    assert_eq!(n.exit.as_ref().unwrap().pending_tokens.len(), 2);
    let h = n.hazards.iter().find(|h| h.id == HazardId::TokensStuck).unwrap();
    assert!(h.sentence.contains("`detector`"), "{}", h.sentence);
}

#[test]
fn fork_records_merge_and_resolve() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    let seen = |source| ForkSeen {
        parent_pid: 100,
        child_pid: 200,
        threads: 5,
        runtime: Some(true),
        source,
        client_tids: Vec::new(),
    };
    f.at(2, EventKind::Fork { node: "a".into(), fork: seen(ForkSource::Client) });
    f.at(2, EventKind::Fork { node: "a".into(), fork: seen(ForkSource::Connector) });
    assert_eq!(f.node("a").forks.len(), 1);
    assert!(f.node("a").hazards.is_empty());
    f.at(
        3,
        EventKind::ForkResolved { node: "a".into(), child_pid: 200, execd: false, threaded: true, uncertain: false },
    );
    assert_eq!(f.node("a").hazards.iter().map(|h| h.id).collect::<Vec<_>>(), vec![HazardId::ForkWithoutExecThreaded]);
    // A fork that exec'd is harmless.
    f.at(4, EventKind::Fork { node: "a".into(), fork: ForkSeen { child_pid: 201, ..seen(ForkSource::Connector) } });
    f.at(4, EventKind::Exec { node: "a".into(), pid: 201 });
    assert_eq!(f.node("a").forks[1].execd, Some(true));
}

#[test]
fn a_fork_judged_threaded_by_sampling_says_so() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    let fork = ForkSeen {
        parent_pid: 100,
        child_pid: 200,
        threads: 2,
        runtime: None,
        source: ForkSource::Proc,
        client_tids: Vec::new(),
    };
    f.at(2, EventKind::Fork { node: "a".into(), fork });
    // A journal written before `uncertain` existed reads as it was: a verdict stated as fact.
    let old = r#"{"seq":3,"t":3,"ev":{"fork_resolved":{"node":"a","child_pid":200,"execd":false,"threaded":true}}}"#;
    let ev: Event = serde_json::from_str(old).unwrap();
    assert!(matches!(ev.ev, EventKind::ForkResolved { uncertain: false, .. }));
    let resolved = |uncertain| EventKind::ForkResolved {
        node: "a".into(),
        child_pid: 200,
        execd: false,
        threaded: true,
        uncertain,
    };
    let line = serde_json::to_string(&resolved(false)).unwrap();
    assert!(!line.contains("uncertain"), "{line}");
    f.at(3, resolved(true));
    let n = f.node("a");
    assert!(n.forks[0].uncertain);
    let h = n.hazards.iter().find(|h| h.id == HazardId::ForkWithoutExecThreaded).unwrap();
    assert_eq!(
        h.sentence,
        "pid 100 forked 200 without exec while it may have had 2 threads (seen by sampling /proc, not exact): the child can deadlock"
    );
}

#[test]
fn unacknowledged_cooperative_stop_is_a_hazard_and_an_ack_is_not() {
    let mut f = Feed::new(&["slow", "fast"]);
    for (i, n) in ["slow", "fast"].iter().enumerate() {
        f.at(1, spawned(n, 100 + i as u32));
        f.at(
            1,
            EventKind::NodeConnected {
                node: (*n).into(),
                pid: 100 + i as u32,
                language: "python".into(),
                client_version: "1".into(),
            },
        );
        f.at(1, EventKind::StopListening { node: (*n).into() });
        f.at(
            5,
            EventKind::StopRequested {
                node: (*n).into(),
                by: Requester::Ctl,
                mode: StopMode::Graceful,
                plan: plan(),
                kill_at: None,
            },
        );
        f.at(
            5,
            EventKind::StageEntered { node: (*n).into(), stage: StageAction::Message, deadline: Some(500_000_000) },
        );
        f.at(5, EventKind::StopMessageSent { node: (*n).into() });
    }
    f.at(25, EventKind::StopAcked { node: "fast".into() });
    f.at(
        500,
        EventKind::StageEntered {
            node: "slow".into(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(1_005_000_000),
        },
    );
    assert!(f.node("slow").has_hazard(HazardId::StopUnacknowledged));
    assert!(!f.node("fast").has_hazard(HazardId::StopUnacknowledged));
    assert_eq!(f.node("fast").stop.as_ref().unwrap().ack_latency(), Some(20_000_000));
}

#[test]
fn survivors_raise_their_hazard() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    f.at(
        2,
        EventKind::NodeExited {
            node: "a".into(),
            pid: 100,
            code: Some(0),
            signal: None,
            cause: ExitCause::Exited,
            pending_tokens: vec![],
        },
    );
    assert!(f.node("a").hazards.is_empty());
    f.at(
        3,
        EventKind::Survivors {
            node: "a".into(),
            survivors: vec![Survivor { pid: 101, name: "sleep".into(), detached: true }],
        },
    );
    assert!(f.node("a").has_hazard(HazardId::SurvivorsAfterExit));
}

#[test]
fn allowed_hazards_are_not_raised() {
    let mut h = header(&["a"]);
    h.manifest.hazards.insert("sigterm-ignored".into(), crate::manifest::HazardLevel::Allow);
    let mut s = Fold::new(crate::hazards::lints());
    s.apply(&Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(h)) });
    s.apply(&Event { seq: 1, t: 1, ev: spawned("a", 100) });
    s.apply(&Event {
        seq: 2,
        t: 2,
        ev: EventKind::ProcSampled { node: "a".into(), sample: sample(100, &[], &[Signal::TERM], &[&[]]) },
    });
    assert!(s.node("a").unwrap().hazards.is_empty());
}

#[test]
fn state_survives_a_snapshot_round_trip() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    f.at(2, EventKind::TokenIssued { node: "a".into(), id: 1, receivers: vec!["r".into()] });
    let json = serde_json::to_string(f.state.state()).unwrap();
    let mut back = Fold::resume(serde_json::from_str(&json).unwrap(), crate::hazards::lints());
    assert_eq!(back, f.state);
    back.apply(&Event {
        seq: 3,
        t: 3_000_000,
        ev: EventKind::TokenReleased { node: "a".into(), id: 1, receiver: "r".into() },
    });
    f.at(3, EventKind::TokenReleased { node: "a".into(), id: 1, receiver: "r".into() });
    assert_eq!(back.node("a").unwrap().tokens.pending(), 0);
}

#[test]
fn shell_join_quotes_and_shows_newlines() {
    assert_eq!(shell_join(&["sleep".into(), "10".into()]), "sleep 10");
    assert_eq!(shell_join(&["sh".into(), "-c".into(), "echo a b".into()]), "sh -c 'echo a b'");
    assert_eq!(
        shell_join(&["python3".into(), "-c".into(), "import x\nx.run('a')".into()]),
        "python3 -c $'import x\\nx.run(\\'a\\')'"
    );
}

#[test]
fn ps_says_null_until_sampled_and_shows_start_up_reads_as_settling_without_judging_them() {
    let mut f = Feed::new(&["py"]);
    f.at(1, spawned("py", 100));
    let ps = PsNode::from_node(f.node("py"), 2_000_000);
    assert_eq!(
        (ps.handlers.as_ref(), ps.threads, ps.blocked, ps.children.as_ref(), ps.cpu_permille, ps.rss_kib),
        (None, None, None, None, None, None),
        "nothing measured yet looks measured"
    );
    let json = serde_json::to_value(&ps).unwrap();
    for key in ["handlers", "settling_handlers", "threads", "blocked", "children", "cpu_permille", "rss_kib"] {
        assert!(json[key].is_null(), "{key}: {json}");
    }
    // The interpreter's SIGINT handler is there, the script's SIGTERM one not yet: the shape of
    // stop-signal-default, read during the start-up. Shown as settling, never judged.
    let python_starting = sample(100, &[Signal::INT], &[], &[&[]]);
    f.at(20, EventKind::ProcSettling { node: "py".into(), sample: python_starting });
    let n = f.node("py");
    assert!(n.leader().is_none() && n.settling_leader().is_some());
    assert!(n.hazards.is_empty(), "{:?}", n.hazards);
    let ps = PsNode::from_node(n, 30_000_000);
    assert_eq!(ps.handlers, None);
    let settling = ps.settling_handlers.expect("settling dispositions");
    assert_eq!((settling["SIGINT"], settling["SIGTERM"]), (Disposition::Caught, Disposition::Default));
    assert_eq!(ps.threads, None, "threads wait for the sample too");
    // The start-up is over: the sample counts, the settling read is gone.
    f.at(
        2_100,
        EventKind::ProcSampled { node: "py".into(), sample: sample(100, &[Signal::INT, Signal::TERM], &[], &[&[]]) },
    );
    f.at(2_200, EventKind::Usage { node: "py".into(), cpu_permille: 0, rss_kib: 9_000 });
    let n = f.node("py");
    assert!(n.settling_leader().is_none() && n.hazards.is_empty());
    let ps = PsNode::from_node(n, 2_300_000_000);
    assert_eq!(ps.settling_handlers, None);
    assert_eq!(ps.handlers.as_ref().map(|h| h["SIGTERM"]), Some(Disposition::Caught));
    assert_eq!((ps.threads, ps.cpu_permille, ps.rss_kib), (Some(1), Some(0), Some(9_000)), "a measured 0 is 0");
    // A late settling read (an exec: the probe keeps the last sample instead) changes nothing.
    f.at(2_400, EventKind::ProcSettling { node: "py".into(), sample: sample(100, &[], &[], &[&[]]) });
    assert!(f.node("py").settling_leader().is_none());
}

#[test]
fn a_settling_read_that_looks_like_a_hazard_raises_none_but_the_sample_does() {
    let mut f = Feed::new(&["dies"]);
    f.at(1, spawned("dies", 100));
    f.at(20, EventKind::ProcSettling { node: "dies".into(), sample: sample(100, &[Signal::INT], &[], &[&[]]) });
    assert!(f.node("dies").hazards.is_empty());
    f.at(2_100, EventKind::ProcSampled { node: "dies".into(), sample: sample(100, &[Signal::INT], &[], &[&[]]) });
    let ids: Vec<_> = f.node("dies").hazards.iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![crate::hazards::HazardId::StopSignalDefault]);
}

fn paused_sample(pid: u32, paused: Option<Paused>) -> ProcSample {
    ProcSample { paused, ..sample(pid, &[Signal::TERM], &[], &[&[]]) }
}

fn signal_sent(signal: Signal, by: Requester) -> EventKind {
    EventKind::SignalSent { node: "a".into(), pid: 100, target: SignalTarget::Group, signal, error: None, by: Some(by) }
}

/// A paused node at rest is no hazard; during its stop, a process stopped with SIGSTOP is one
/// only while no SIGCONT has been sent (the stop message waits for it) or when a read taken
/// after the SIGCONT still finds it stopped; a stale read from before the SIGCONT is not.
#[test]
fn paused_during_stop_needs_a_pause_the_sigcont_did_not_end() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    f.at(10, EventKind::ProcSampled { node: "a".into(), sample: paused_sample(100, Some(Paused::Stopped)) });
    assert_eq!(f.node("a").paused(), Some(Paused::Stopped));
    assert!(!f.node("a").has_hazard(HazardId::PausedDuringStop), "at rest");
    // A listening node's stop begins with the message: it cannot read it while paused.
    let listening = StopPlan {
        grace_ms: 1000,
        stages: vec![
            PlanStage { at_ms: 0, action: StageAction::Message },
            PlanStage { at_ms: 500, action: StageAction::Signal(Signal::TERM) },
            PlanStage { at_ms: 1000, action: StageAction::Kill },
        ],
        drain_extension_ms: 0,
        group: true,
    };
    let requested = EventKind::StopRequested {
        node: "a".into(),
        by: Requester::Operator,
        mode: StopMode::Graceful,
        plan: listening,
        kill_at: None,
    };
    f.at(20, requested);
    assert!(!f.node("a").has_hazard(HazardId::PausedDuringStop), "no stage yet");
    f.at(20, EventKind::StageEntered { node: "a".into(), stage: StageAction::Message, deadline: Some(520_000_000) });
    assert!(f.node("a").has_hazard(HazardId::PausedDuringStop), "the message waits for a paused node");
    f.at(520, EventKind::StageEntered { node: "a".into(), stage: StageAction::Signal(Signal::TERM), deadline: None });
    f.at(520, signal_sent(Signal::TERM, Requester::Plan));
    f.at(520, signal_sent(Signal::CONT, Requester::Plan));
    // The only read says paused, but it is from before the SIGCONT.
    assert!(!f.node("a").has_hazard(HazardId::PausedDuringStop), "{:?}", f.node("a").hazards);
    f.at(530, EventKind::ProcSampled { node: "a".into(), sample: paused_sample(100, None) });
    assert_eq!(f.node("a").paused(), None);
    // Stopped again after the SIGCONT: a fresh read says so.
    f.at(600, EventKind::ProcSampled { node: "a".into(), sample: paused_sample(100, Some(Paused::Stopped)) });
    assert!(f.node("a").has_hazard(HazardId::PausedDuringStop));
    let raised: Vec<&HazardNotice> = f.state.hazard_feed.iter().collect();
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert!(raised[1].sentence.contains("still paused after SIGCONT"), "{}", raised[1].sentence);
}

/// A signal sent by hand is remembered (with who sent it); the plan's are not.
#[test]
fn signals_sent_by_hand_are_remembered_with_who_sent_them() {
    let mut f = Feed::new(&["a"]);
    f.at(1, spawned("a", 100));
    f.at(5, signal_sent(Signal::TERM, Requester::Plan));
    assert_eq!(f.node("a").signalled, None);
    f.at(6, signal_sent(Signal::STOP, Requester::Operator));
    assert_eq!(f.node("a").signalled, None, "a pause cannot end it");
    f.at(7, signal_sent(Signal::KILL, Requester::Operator));
    assert_eq!(
        f.node("a").signalled,
        Some(SignalRecord { t: 7_000_000, signal: Signal::KILL, by: Requester::Operator })
    );
    let line = &f.state.log.lines.iter().last().unwrap().text;
    assert_eq!(line, "SIGKILL → process group 100 (sent by the operator)");
}

/// Journals written before `by`, `waits` and `paused` existed still read.
#[test]
fn old_journal_records_still_read() {
    let old = [
        r#"{"seq":3,"t":5,"ev":{"signal_sent":{"node":"a","pid":100,"target":"group","signal":"SIGTERM"}}}"#,
        r#"{"seq":4,"t":6,"ev":{"stop_all_requested":{"by":"signal","force":false,"tiers":[["web"],["db"]]}}}"#,
        r#"{"seq":5,"t":7,"ev":{"proc_sampled":{"node":"a","sample":{"pid":100,"ppid":1,"name":"x","caught":[],"ignored":[],"threads":[],"children":[]}}}}"#,
        r#"{"seq":6,"t":8,"ev":{"node_exited":{"node":"a","pid":100,"signal":"SIGKILL","cause":"killed-at-deadline"}}}"#,
    ];
    let mut state = Fold::new(crate::hazards::lints());
    for line in old {
        let e: Event = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        state.apply(&e);
    }
    let all = state.stop_all.as_ref().unwrap();
    assert!(all.waits.is_empty());
    assert!(state.log.lines.iter().any(|l| l.text == "stop all requested by signal: web → db"));
    assert_eq!(state.node("a").unwrap().exit.as_ref().unwrap().cause, ExitCause::KilledAtDeadline);
    // And the new cause reads back.
    let cause = ExitCause::Signalled { signal: Signal::KILL, by: Requester::Operator };
    let json = serde_json::to_string(&cause).unwrap();
    assert_eq!(json, r#"{"signalled":{"signal":"SIGKILL","by":"operator"}}"#);
    assert_eq!(serde_json::from_str::<ExitCause>(&json).unwrap(), cause);
}

/// The module cycle hazards → state → manifest → hazards stays broken: the fold is given its
/// lints and names hazards by their leaf ids, and the manifest needs only those ids and signals.
#[test]
fn neither_the_fold_nor_the_manifest_depends_on_the_lints() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (module, forbidden) in
        [("state", &["crate::hazards"][..]), ("manifest", &["crate::hazards", "crate::state", "crate::event"][..])]
    {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        assert!(!files.is_empty(), "{module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in forbidden {
                assert!(!text.contains(name), "{} names {name}", file.display());
            }
        }
    }
}
