//! How stops end, with real processes: killed at the deadline, stopped by a handler, stopped
//! by the default action; what `ps --json` shows before; what the journal keeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
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
    // Stopping it again is an error that says why.
    let out = gw.run(&["stop", "a", "--session", "single"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a has already exited"));
    // A node that does not exist (asked while the session still runs: it ends once b exits).
    let out = gw.run(&["stop", "ghost", "--session", "single"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node named \"ghost\""), "{out:?}");
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
