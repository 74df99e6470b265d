//! How stops end, with real processes: killed at the deadline, stopped by a handler, stopped
//! by the default action; what `ps --json` shows before; what the journal keeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;

fn manifest() -> String {
    format!(
        "name = \"causes\"\n[nodes.stubborn]\ncmd = [\"python3\", \"-c\", {}]\ngrace = \"1s\"\n[nodes.polite]\ncmd = [\"python3\", \"-c\", {}]\n[nodes.sleeper]\ncmd = \"sleep 1000\"\n",
        toml_str(py::IGNORES_TERM),
        toml_str(py::HANDLES_TERM)
    )
}

#[test]
fn ps_shows_dispositions_then_stop_ends_each_node_with_its_cause() {
    let mut gw = Gw::up(&manifest());
    // Wait for the probe's first samples and for both python nodes to be ready.
    gw.wait_for(
        |gw| {
            let ps = gw.ps();
            ps["nodes"].as_array().unwrap().iter().all(|n| n["handlers"]["SIGTERM"].is_string())
                && gw
                    .journal()
                    .iter()
                    .filter(|e| matches!(&e.ev, gracewatch::event::EventKind::Output { line, .. } if line == "ready"))
                    .count()
                    == 2
        },
        "first samples of every node",
    );
    // Samples follow the process: wait for the one after each node installed its disposition.
    gw.wait_for(
        |gw| {
            gw.node("stubborn")["handlers"]["SIGTERM"] == "ignored"
                && gw.node("polite")["handlers"]["SIGTERM"] == "caught"
                && gw.node("sleeper")["handlers"]["SIGTERM"] == "default"
        },
        "SIGTERM ignored / caught / default in ps --json",
    );
    assert_eq!(gw.node("stubborn")["hazards"], serde_json::json!(["sigterm-ignored"]));
    assert_eq!(gw.node("polite")["hazards"], serde_json::json!([]));
    assert_eq!(gw.node("sleeper")["hazards"], serde_json::json!([]));

    let out = gw.run(&["stop", "--all", "--wait", "--session", "causes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stubborn: killed-at-deadline (SIGKILL)"), "{text}");
    assert!(text.contains("polite: stopped (status 0)"), "{text}");
    assert!(text.contains("sleeper: stopped (SIGTERM)"), "{text}");
    assert_eq!(out.status.code(), Some(1), "a kill at the deadline is not a clean stop");

    let done = gw.wait_exit();
    assert_eq!(done.status.code(), Some(1));
    let events = gw.journal();
    let causes: Vec<(String, gracewatch::event::ExitCause)> =
        exits(&gw).into_iter().map(|(node, _, cause)| (node, cause)).collect();
    use gracewatch::event::ExitCause::*;
    for (node, cause) in [("stubborn", KilledAtDeadline), ("polite", Stopped), ("sleeper", Stopped)] {
        assert!(causes.contains(&(node.to_string(), cause)), "{node}: {causes:?}");
    }
    assert!(matches!(events.last().map(|e| &e.ev), Some(gracewatch::event::EventKind::SessionEnded { .. })));
}

#[test]
fn a_single_node_stop_with_overrides_and_a_forced_kill() {
    let gw = Gw::up(&format!(
        "name = \"single\"\n[nodes.a]\ncmd = [\"python3\", \"-c\", {}]\n[nodes.b]\ncmd = \"sleep 1000\"\n",
        toml_str(py::IGNORES_TERM)
    ));
    gw.wait_for(
        |gw| {
            gw.journal()
                .iter()
                .any(|e| matches!(&e.ev, gracewatch::event::EventKind::Output { line, .. } if line == "ready"))
        },
        "node a ready",
    );
    // --grace shortens the grace of this stop only.
    let out = gw.run(&["stop", "a", "--grace", "300ms", "--wait", "--session", "single"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopping a: SIGTERM → SIGKILL @300ms"), "{text}");
    assert!(text.contains("a: killed-at-deadline"), "{text}");
    // Stopping it again says it is over, and is not an error.
    let out = gw.run(&["stop", "a", "--session", "single"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("a already exited (killed-at-deadline (SIGKILL))"),
        "{out:?}"
    );
    // A node that does not exist (asked while the session still runs: it ends once b exits):
    // bad input, and the session's nodes are listed.
    let out = gw.run(&["stop", "ghost", "--session", "single"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no node named \"ghost\"") && err.contains("its nodes: a, b"), "{out:?}");
    // --force kills at once.
    let out = gw.run(&["stop", "b", "--force", "--wait", "--session", "single"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("b: force-killed (SIGKILL)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_signal_to_gracewatch_stops_everything_in_dependency_order() {
    let mut gw = Gw::up(
        "name = \"order\"\n[nodes.db]\ncmd = \"sleep 1000\"\n[nodes.app]\ncmd = \"sleep 1001\"\ndepends_on = [\"db\"]\n[nodes.web]\ncmd = \"sleep 1002\"\ndepends_on = [\"app\"]\n",
    );
    let pid = gw.pid();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::TERM)
        .unwrap();
    let out = gw.wait_exit();
    assert_eq!(out.status.code(), Some(0), "all stopped cleanly: {}", gw.printed());
    let order: Vec<String> = exits(&gw).into_iter().map(|(node, ..)| node).collect();
    assert_eq!(order, vec!["web", "app", "db"]);
}

#[test]
fn a_second_signal_to_gracewatch_forces_like_a_second_ctrl_c() {
    let mut gw = Gw::up(&format!(
        "name = \"twice\"\n[nodes.stubborn]\ncmd = [\"python3\", \"-c\", {}]\ngrace = \"60s\"\n",
        toml_str(py::IGNORES_TERM)
    ));
    gw.wait_for(
        |gw| {
            gw.journal()
                .iter()
                .any(|e| matches!(&e.ev, gracewatch::event::EventKind::Output { line, .. } if line == "ready"))
        },
        "ready",
    );
    let pid = rustix::process::Pid::from_raw(gw.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    gw.wait_for(|gw| gw.node("stubborn")["state"] == "stopping", "stopping");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = gw.wait_exit();
    assert_eq!(out.status.code(), Some(1));
    let causes: Vec<_> = exits(&gw).into_iter().map(|(.., cause)| cause).collect();
    assert_eq!(causes, vec![gracewatch::event::ExitCause::ForceKilled]);
}

/// gracewatch started with signals ignored (a shell's `&` ignores SIGINT and SIGQUIT, `nohup`
/// SIGHUP): its nodes still start with every disposition at its default, as under a service
/// manager, so that a stop signal is never silently ignored by inheritance.
#[test]
fn nodes_do_not_inherit_signals_ignored_by_whoever_started_gracewatch() {
    let mut gw = Gw::prepare("name = \"inherit\"\n[nodes.s]\ncmd = \"sleep 1000\"\n");
    // `trap ''` ignores; `exec` keeps ignored signals ignored, as any exec does.
    let child = std::process::Command::new("sh")
        .args(["-c", "trap '' INT QUIT HUP TERM; exec \"$0\" up --headless --journal journal.jsonl", BIN])
        .current_dir(gw.dir.path())
        .env("XDG_RUNTIME_DIR", gw.path("run"))
        .env("XDG_STATE_HOME", gw.path("state"))
        .env_remove("GRACEWATCH_SOCKET")
        .env_remove("GRACEWATCH_NODE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    gw.child = Some(child);
    gw.wait_for(|gw| gw.try_ps().is_some_and(|ps| ps["nodes"][0]["handlers"]["SIGQUIT"].is_string()), "a sample");
    let handlers = gw.node("s")["handlers"].clone();
    for sig in ["SIGINT", "SIGQUIT", "SIGHUP", "SIGTERM"] {
        assert_eq!(handlers[sig], "default", "{sig} in {handlers}");
    }
}

/// Starts `gracewatch up --headless` through a Python that first runs `prelude` and then execs
/// it: a parent that leaves something behind in what exec inherits.
fn up_through_python(gw: &mut Gw, prelude: &str) {
    let code = format!("import os, signal, sys\n{prelude}\nos.execv(sys.argv[1], sys.argv[1:])");
    let cmd = gw.command_for(&real_python(), &["-c", &code, BIN, "up", "--headless", "--journal", "journal.jsonl"]);
    gw.spawn(cmd);
}

fn exits(gw: &Gw) -> Vec<(String, Option<i32>, gracewatch::event::ExitCause)> {
    gw.journal()
        .into_iter()
        .filter_map(|e| match e.ev {
            gracewatch::event::EventKind::NodeExited { node, code, cause, .. } => Some((node, code, cause)),
            _ => None,
        })
        .collect()
}

/// Started by a parent that ignores SIGCHLD (inherited across exec: the kernel would then reap
/// gracewatch's children itself and no exit status would ever reach it), gracewatch still sees
/// how each node ended and the session ends.
#[test]
fn an_inherited_sigchld_ignore_does_not_hide_exit_statuses() {
    let mut gw = Gw::prepare(
        "name = \"ign-chld\"\n[nodes.three]\ncmd = [\"sh\", \"-c\", \"sleep 0.5; exit 3\"]\n[nodes.zero]\ncmd = [\"sh\", \"-c\", \"sleep 0.5\"]\n",
    );
    up_through_python(&mut gw, "signal.signal(signal.SIGCHLD, signal.SIG_IGN)");
    let exit = gw.wait_exit();
    let exits = exits(&gw);
    assert!(
        exits.contains(&("three".into(), Some(3), gracewatch::event::ExitCause::Crashed))
            && exits.contains(&("zero".into(), Some(0), gracewatch::event::ExitCause::Exited)),
        "{exits:?}\n{}",
        gw.post_mortem(Some(&exit))
    );
}

/// Started by a parent that blocked SIGTERM and SIGINT (a mask is inherited across exec),
/// gracewatch still hears the SIGTERM sent to it, and its node the SIGTERM it handles: the
/// stop is graceful, not a kill at the deadline.
#[test]
fn an_inherited_signal_mask_reaches_neither_gracewatch_nor_its_nodes() {
    let mut gw = Gw::prepare(&format!(
        "name = \"masked\"\n[nodes.polite]\ncmd = [{}, \"-c\", {}]\ngrace = \"30s\"\n",
        toml_str(&real_python()),
        toml_str(py::HANDLES_TERM)
    ));
    up_through_python(
        &mut gw,
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD})",
    );
    gw.wait_for(|gw| gw.try_ps().is_some(), "the control socket to answer");
    gw.wait_for(|gw| gw.node("polite")["handlers"]["SIGTERM"] == "caught", "polite's handler");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(gw.pid() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let exit = gw.wait_exit();
    let exits = exits(&gw);
    assert_eq!(
        exits,
        vec![("polite".to_string(), Some(0), gracewatch::event::ExitCause::Stopped)],
        "{}",
        gw.post_mortem(Some(&exit))
    );
}

/// The lines a node printed, from the journal.
fn printed_by(gw: &Gw, node: &str) -> Vec<String> {
    gw.journal()
        .into_iter()
        .filter_map(|e| match e.ev {
            gracewatch::event::EventKind::Output { node: n, line, .. } if n == node => Some(line),
            _ => None,
        })
        .collect()
}

/// A node paused by SIGSTOP (a debugger's, a job-control stop) gets SIGCONT after its stop
/// signal: its SIGTERM handler runs and it ends `stopped`, not killed at the deadline. While
/// paused at rest it shows as paused, which is no hazard.
#[test]
fn a_paused_node_is_resumed_by_its_stop_and_runs_its_handler() {
    let code = "import signal,sys,time\ndef h(s,f):\n    print('cleanup ran', flush=True); sys.exit(0)\nsignal.signal(signal.SIGTERM, h)\nprint('ready', flush=True)\nwhile True: time.sleep(1)";
    let gw = Gw::up(&format!(
        "name = \"paused\"\n[nodes.polite]\ncmd = [{}, \"-c\", {}]\ngrace = \"4s\"\n[nodes.keeper]\ncmd = \"sleep 1000\"\n",
        toml_str(&real_python()),
        toml_str(code)
    ));
    gw.wait_for(|gw| gw.node("polite")["handlers"]["SIGTERM"] == "caught", "polite's handler");
    let pid = gw.node_pid("polite");
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::STOP)
        .unwrap();
    gw.wait_for(|_| proc_state(pid) == Some('T'), "polite to be stopped");
    gw.wait_for(|gw| gw.node("polite")["paused"] == "stopped", "ps --json to say polite is paused");
    let table = String::from_utf8_lossy(&gw.run(&["ps", "--session", "paused"]).stdout).into_owned();
    assert!(table.lines().any(|l| l.starts_with("polite") && l.contains("paused")), "{table}");
    assert_eq!(gw.node("polite")["hazards"], serde_json::json!([]), "paused at rest is no hazard");

    let out = gw.run(&["stop", "polite", "--wait", "--session", "paused"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("polite: stopped (status 0)"), "{text}\n{}", gw.post_mortem(None));
    assert_eq!(out.status.code(), Some(0));
    assert!(printed_by(&gw, "polite").contains(&"cleanup ran".to_string()), "{:?}", printed_by(&gw, "polite"));
    // SIGCONT went to the same target right after SIGTERM, and is journaled as the plan's.
    let signals: Vec<(String, Option<String>)> = gw
        .journal()
        .into_iter()
        .filter_map(|e| {
            let v = serde_json::to_value(&e.ev).unwrap();
            let s = v.get("signal_sent")?;
            (s["node"] == "polite")
                .then(|| (s["signal"].as_str().unwrap().to_string(), s["by"].as_str().map(str::to_string)))
        })
        .collect();
    assert_eq!(
        signals,
        vec![("SIGTERM".to_string(), Some("plan".to_string())), ("SIGCONT".to_string(), Some("plan".to_string()))]
    );
    let mut state = gracewatch::state::Fold::new(gracewatch::hazards::lints());
    for e in gw.journal() {
        state.apply(&e);
    }
    let raised: Vec<_> = state.hazard_feed.iter().filter(|h| h.node == "polite").map(|h| h.id).collect();
    assert!(raised.is_empty(), "resumed by SIGCONT, nothing held its stop: {raised:?}");
}

/// Sends one signal through the control socket the way the cockpit's `x` does (an attached
/// cockpit's requests go through the same socket).
fn signal_by_hand(gw: &Gw, node: &str, signal: &str) {
    use std::io::{BufRead, Write};
    let socket = gw.path(&format!("run/gracewatch/{}.sock", gw.session));
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("control socket");
    writeln!(stream, "{}", serde_json::json!({"op": "signal", "node": node, "signal": signal})).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\""), "{line}");
}

/// A signal sent by hand is said to be the operator's: SIGKILL is not a crash with "no stop
/// requested" (which reads like the OOM killer), and a SIGINT its handler turns into status 0
/// is not "exited" by itself. The report and `stop` say so too.
#[test]
fn a_signal_sent_by_the_operator_is_what_the_exit_is_put_down_to() {
    let int = "import sys,time\nprint('ready', flush=True)\ntry:\n    time.sleep(1000)\nexcept KeyboardInterrupt:\n    sys.exit(0)";
    let mut gw = Gw::up(&format!(
        "name = \"byhand\"\n[nodes.victim]\ncmd = \"sleep 1000\"\n[nodes.gentle]\ncmd = [{}, \"-c\", {}]\n",
        toml_str(&real_python()),
        toml_str(int)
    ));
    gw.wait_for(|gw| printed_by(gw, "gentle").contains(&"ready".to_string()), "gentle ready");
    signal_by_hand(&gw, "victim", "SIGKILL");
    gw.wait_for(|gw| gw.node("victim")["state"] == "exited", "victim to end");
    signal_by_hand(&gw, "gentle", "SIGINT");
    let done = gw.wait_exit();
    assert_eq!(done.status.code(), Some(1), "a SIGKILL by hand is no clean end");
    let exits: Vec<(String, serde_json::Value)> = gw
        .journal()
        .into_iter()
        .filter_map(|e| match e.ev {
            gracewatch::event::EventKind::NodeExited { node, cause, .. } => {
                Some((node, serde_json::to_value(cause).unwrap()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        exits,
        vec![
            ("victim".to_string(), serde_json::json!({"signalled": {"signal": "SIGKILL", "by": "operator"}})),
            ("gentle".to_string(), serde_json::json!({"signalled": {"signal": "SIGINT", "by": "operator"}})),
        ]
    );
    let report = gw.run(&["report", "journal.jsonl"]);
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("signalled by the operator (SIGKILL)"), "{text}");
    assert!(text.contains("signalled by the operator (SIGINT), then status 0"), "{text}");
    assert!(!text.contains("crashed"), "{text}");
    assert_eq!(report.status.code(), Some(1), "{text}");
}

/// A signal sent by hand is not blamed for a death by another one: a node sent SIGHUP (which it
/// handles, as for a reload) that then dies of SIGSEGV crashed.
#[test]
fn a_crash_after_a_signal_by_hand_is_a_crash() {
    let body = "import os, signal, sys, time\n\
                def hup(*_):\n\
                \x20   print('reloading', flush=True)\n\
                \x20   signal.signal(signal.SIGSEGV, signal.SIG_DFL)\n\
                \x20   os.kill(os.getpid(), signal.SIGSEGV)\n\
                signal.signal(signal.SIGHUP, hup)\n\
                print('ready', flush=True)\n\
                while True: time.sleep(1)\n";
    let mut gw = Gw::up(&format!(
        "name = \"hupcrash\"\n[nodes.reloader]\ncmd = [{}, \"-c\", {}]\n",
        toml_str(&real_python()),
        toml_str(body)
    ));
    gw.wait_for(|gw| printed_by(gw, "reloader").contains(&"ready".to_string()), "reloader ready");
    signal_by_hand(&gw, "reloader", "SIGHUP");
    let done = gw.wait_exit();
    let cause = gw.journal().into_iter().find_map(|e| match e.ev {
        gracewatch::event::EventKind::NodeExited { cause, signal, .. } => {
            Some((serde_json::to_value(cause).unwrap(), signal))
        }
        _ => None,
    });
    assert_eq!(
        cause,
        Some((serde_json::json!("crashed"), gracewatch::event::Signal::from_number(11))),
        "{}",
        gw.post_mortem(Some(&done))
    );
    assert_eq!(done.status.code(), Some(1), "a crash is no clean end");
}

/// `stop`'s answers and exit statuses: a name the session does not have is bad input (2, and
/// the session's nodes are listed, nothing is stopped); a node that already exited is said so
/// (0); bare `stop` says to name nodes or use --all (2); `--signal` replaces the stop signal
/// without repeating it.
#[test]
fn stop_says_what_it_did_with_exit_statuses_that_fit() {
    let gw = Gw::up(
        "name = \"statuses\"\n[nodes.alpha]\ncmd = \"sleep 1000\"\n[nodes.beta]\ncmd = \"sleep 1001\"\nstop_signal = \"SIGINT\"\nescalate = [\"SIGTERM:5s\", \"SIGQUIT:2s\"]\n[nodes.keeper]\ncmd = \"sleep 1002\"\n",
    );
    let run = |args: &[&str]| {
        let mut all = vec!["stop"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--session", "statuses"]);
        let out = gw.run(&all);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = run(&[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--all"), "{text}");
    // An unknown name among good ones: nothing is stopped, the session's nodes are listed.
    let (code, text) = run(&["alpha", "ghost"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no node named \"ghost\"") && text.contains("alpha, beta, keeper"), "{text}");
    assert_eq!(gw.node("alpha")["state"], "running", "nothing stopped");
    let (code, text) = run(&["alpha", "--wait"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("alpha: stopped (SIGTERM)"), "{text}");
    // Already exited: said, not an error.
    let (code, text) = run(&["alpha"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("alpha already exited (stopped (SIGTERM))"), "{text}");
    // --signal: SIGTERM replaces SIGINT, and the escalation that would send SIGTERM again goes.
    let (code, text) = run(&["beta", "--signal", "SIGTERM", "--wait"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("stopping beta: SIGTERM → SIGQUIT @7s → SIGKILL @10s"), "{text}");
}

/// Stop-all: each node waits for the nodes that depend on it, not for a whole tier. `lone`
/// (nothing depends on it) ignores SIGTERM and is killed at its deadline; `db`, which only
/// `app` depends on, starts its stop as soon as `app` has ended, long before that kill.
#[test]
fn stop_all_waits_for_each_nodes_own_dependents_only() {
    let mut gw = Gw::up(&format!(
        "name = \"edges\"\n[nodes.db]\ncmd = \"sleep 1000\"\n[nodes.app]\ncmd = \"sleep 1001\"\ndepends_on = [\"db\"]\n[nodes.lone]\ncmd = [{}, \"-c\", {}]\ngrace = \"3s\"\n",
        toml_str(&real_python()),
        toml_str(py::IGNORES_TERM)
    ));
    gw.wait_for(|gw| printed_by(gw, "lone").contains(&"ready".to_string()), "lone ready");
    gw.wait_for(|gw| gw.node("lone")["handlers"]["SIGTERM"] == "ignored", "lone's ignore sampled");
    let out = gw.run(&["stop", "--all", "--wait", "--session", "edges"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("lone: killed-at-deadline"), "{text}");
    gw.wait_exit();
    let events = gw.journal();
    let at = |what: &str, node: &str| {
        events
            .iter()
            .position(|e| {
                let v = serde_json::to_value(&e.ev).unwrap();
                v.get(what).is_some_and(|x| x["node"] == node)
            })
            .unwrap_or_else(|| panic!("no {what} of {node}"))
    };
    assert!(at("node_exited", "app") < at("stop_requested", "db"), "db waits for app");
    assert!(
        at("stop_requested", "db") < at("node_exited", "lone"),
        "db's stop must not wait for lone's kill at its deadline\n{}",
        gw.post_mortem(None)
    );
    assert!(at("node_exited", "db") < at("node_exited", "lone"), "{}", gw.post_mortem(None));
}
