//! `gracewatch watch` over real processes it did not start.

use crate::common;
use common::*;
use gracewatch::event::{EventKind, ProbeMode};

/// Python: three threads, then on the go-file a fork. `{child}` is what the child does.
fn forker(child: &str) -> String {
    format!(
        r"
import os, signal, sys, threading, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
for i in range(3):threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
pid = os.fork()
if pid == 0:
    {child}
time.sleep(600)
"
    )
}

fn node_of(gw: &Gw, pid: u32) -> serde_json::Value {
    gw.ps()["nodes"].as_array().and_then(|a| a.iter().find(|n| n["pid"] == pid).cloned()).unwrap_or_default()
}

fn hazards_of(gw: &Gw, pid: u32) -> Vec<String> {
    node_of(gw, pid)["hazards"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn connector_on(gw: &Gw) -> bool {
    gw.journal().iter().any(|e| matches!(e.ev, EventKind::ProbeMode { mode: ProbeMode::Connector, .. }))
}

#[test]
fn a_threaded_python_fork_without_exec_is_flagged_and_watching_does_not_own() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let target = Target::python(&forker("time.sleep(600)"), &[go.to_str().unwrap()]);
    let mut gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(
        |gw| node_of(gw, target.pid())["threads"].as_u64() == Some(4),
        "the watched process sampled with its threads",
    );
    assert!(hazards_of(&gw, target.pid()).is_empty(), "clean before the fork");
    std::fs::write(&go, "").unwrap();
    gw.wait_for(
        |gw| hazards_of(gw, target.pid()).contains(&"fork-without-exec-threaded".to_string()),
        "the fork hazard",
    );
    // Ending the watch leaves the process alone.
    let pid = rustix::process::Pid::from_raw(gw.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = gw.wait_exit();
    assert_eq!(out.status.code(), Some(0));
    assert!(alive(target.pid()), "watching is not owning: the process still runs");
}

#[test]
fn a_threaded_fork_that_execs_is_not_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let target = Target::python(&forker("os.execv('/bin/sleep', ['sleep', '600'])"), &[go.to_str().unwrap()]);
    let gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(|gw| node_of(gw, target.pid())["threads"].as_u64() == Some(4), "sampled");
    std::fs::write(&go, "").unwrap();
    gw.wait_for(
        |gw| node_of(gw, target.pid())["children"].as_array().is_some_and(|c| c.iter().any(|c| c["execd"] == true)),
        "the exec'd child",
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(hazards_of(&gw, target.pid()).is_empty(), "{:?}", hazards_of(&gw, target.pid()));
}

#[test]
fn the_rust_tokio_forker_is_flagged() {
    use std::os::unix::process::CommandExt as _;
    // Its own process group: the Target's drop kills the group, and with it the copy it forks.
    let child = std::process::Command::new(BIN)
        .args(["demo-node", "forker"])
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let target = Target(child);
    let gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(
        |gw| hazards_of(gw, target.pid()).contains(&"fork-without-exec-threaded".to_string()),
        "the fork hazard on the tokio forker",
    );
}

#[test]
fn a_child_that_lives_a_few_milliseconds_is_seen_through_the_connector() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let target = Target::python(&forker("time.sleep(0.003); os._exit(0)"), &[go.to_str().unwrap()]);
    let gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(|gw| node_of(gw, target.pid())["threads"].as_u64() == Some(4), "sampled");
    if !connector_on(&gw) {
        eprintln!("skipped: the kernel connector is not available here (polling cannot see a 3 ms child)");
        return;
    }
    std::fs::write(&go, "").unwrap();
    gw.wait_for(
        |gw| gw.journal().iter().any(|e| matches!(e.ev, EventKind::ForkResolved { execd: false, threaded: true, .. })),
        "the short-lived fork, resolved",
    );
    assert!(gw.journal().iter().any(
        |e| matches!(&e.ev, EventKind::Fork { fork, .. } if fork.source == gracewatch::event::ForkSource::Connector)
    ));
}

#[test]
fn a_stop_from_watch_escalates_to_sigkill() {
    let target =
        Target::python("import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", &[]);
    let gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(|gw| node_of(gw, target.pid())["handlers"]["SIGTERM"] == "ignored", "SIGTERM ignored, as sampled");
    assert_eq!(hazards_of(&gw, target.pid()), vec!["sigterm-ignored".to_string()]);
    let node = node_of(&gw, target.pid())["name"].as_str().unwrap().to_string();
    let out = gw.run(&["stop", &node, "--grace", "500ms", "--wait", "--session", &gw.session]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{node}: killed-at-deadline")), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("SIGTERM → SIGKILL @500ms"), "{text}");
    gw.wait_for(|_| !alive(target.pid()), "the process gone");

    // A signal ends the watch; its journal then reports and replays like any session's.
    let mut gw = gw;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(gw.pid() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let _ = gw.wait_exit();
    let out = gw.run(&["report", "journal.jsonl"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "killed at its deadline: {report}");
    assert!(report.contains("killed at deadline after"), "{report}");
    assert!(report.contains("ended: "), "{report}");
    let events = gw.journal();
    let mut state = gracewatch::state::Fold::new(gracewatch::hazards::lints());
    for e in &events {
        state.apply(e);
    }
    let n = state.node(&node).expect("the watched node in the replayed state");
    assert!(n.adopted && n.exit.as_ref().is_some_and(|e| e.cause == gracewatch::event::ExitCause::KilledAtDeadline));
}

#[test]
fn name_and_children_of_adopt_new_processes_as_they_start() {
    let tag = unique("gwwatch");
    // A parent that starts a child a little later. The tag is spelled in two halves in the
    // parent's own command line, so that only the child matches `--name`.
    let (head, tail) = tag.split_at(2);
    let parent = Target::python(
        &format!(
            "import subprocess,time\ntime.sleep(1.5)\nsubprocess.Popen(['sh', '-c', 'sleep 600; : ' + '{head}' + '{tail}'])\ntime.sleep(600)"
        ),
        &[],
    );
    let gw = Gw::watch(&["--children-of", &parent.pid().to_string()]);
    gw.wait_for(
        |gw| {
            gw.ps()["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["name"].as_str().is_some_and(|s| s.starts_with("sh-"))))
        },
        "the new child adopted",
    );
    let by_name = Gw::watch(&["--name", &tag]);
    by_name.wait_for(
        |gw| {
            gw.ps()["nodes"]
                .as_array()
                .is_some_and(|n| n.len() == 1 && n[0]["name"].as_str().is_some_and(|s| s.starts_with("sh-")))
        },
        "the match by name",
    );
    for pid in pids_with_arg(&tag) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid as i32).unwrap(),
            rustix::process::Signal::KILL,
        );
    }
}

#[test]
fn json_snapshot_of_a_clean_process_has_no_hazard() {
    let target = Target::python(
        "import signal,sys,time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\ntime.sleep(600)",
        &[],
    );
    let gw = Gw::prepare("");
    let out = gw.run(&["watch", "--pid", &target.pid().to_string(), "--json", "--journal", "j.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = &snap["nodes"][0];
    assert_eq!(node["pid"], target.pid());
    assert_eq!(node["handlers"]["SIGTERM"], "caught");
    assert_eq!(node["hazards"], serde_json::json!([]));
    assert!(alive(target.pid()));
    let out = gw.run(&["watch", "--pid", "999999999", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process 999999999"));
}

/// Watching someone else's process works (its /proc is readable); stopping it says plainly
/// that the kernel would refuse, whose it is and who we are. Needs root to play two users.
#[test]
fn a_stop_of_another_users_process_says_whose_it_is() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    if !rustix::process::geteuid().is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to run gracewatch as another user");
        return;
    }
    let target = Target::python("import time; time.sleep(600)", &[]);
    let gw = Gw::prepare("");
    for d in [gw.dir.path().to_path_buf(), gw.path("run")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    // A copy nobody can run, wherever the checkout is (under /root, say, nobody cannot).
    let bin = gw.path("gracewatch");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&bin).args(args);
        c.current_dir(gw.dir.path())
            .env("XDG_RUNTIME_DIR", gw.path("run"))
            .env("XDG_STATE_HOME", gw.path("state"))
            .env("HOME", gw.dir.path());
        c
    };
    let mut watch = as_nobody(&["watch", "--pid", &target.pid().to_string(), "--journal", "j.jsonl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let session = format!("watch-{}", watch.id());
    let start = std::time::Instant::now();
    let node = loop {
        let out = as_nobody(&["ps", "--json", "--session", &session]).output().unwrap();
        let ps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(name) = ps["nodes"][0]["name"].as_str() {
            break name.to_string();
        }
        assert!(start.elapsed() < PATIENCE, "the watch did not come up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = as_nobody(&["stop", &node, "--session", &session]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("permission refused") && err.contains("belongs to root (uid 0)"), "{err}");
    assert!(err.contains("runs as nobody (uid 65534)") || err.contains("runs as uid 65534"), "{err}");
    assert!(alive(target.pid()), "the process was not touched");
    let _ = watch.kill();
    let _ = watch.wait();
}

/// A `stop --wait` still waiting when the session ends hears how far the stop got, instead of
/// a broken connection.
#[test]
fn a_waiting_stop_hears_the_session_end() {
    let target =
        Target::python("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)", &[]);
    let mut gw = Gw::watch(&["--pid", &target.pid().to_string()]);
    gw.wait_for(|gw| node_of(gw, target.pid())["handlers"]["SIGTERM"] == "ignored", "SIGTERM seen ignored");
    let name = node_of(&gw, target.pid())["name"].as_str().unwrap().to_string();
    let stop = gw
        .command(&["stop", &name, "--grace", "60s", "--wait", "--session", &gw.session])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    gw.wait_for(|gw| node_of(gw, target.pid())["stop"].is_object(), "the stop under way");
    let pid = rustix::process::Pid::from_raw(gw.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = stop.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{name}: still running when the session ended")),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "a stop that did not end is not clean");
    let _ = gw.wait_exit();
    assert!(alive(target.pid()), "ending a watch leaves the process alone");
}

#[test]
fn watch_by_name_leaves_out_the_processes_that_started_gracewatch() {
    // A shell that runs `gracewatch watch --name TAG` has TAG in its own command line; so may
    // `sudo` or `timeout` in front of it. Only the real match is watched.
    let tag = unique("gwself");
    let target = Target::python("import sys,time\ntime.sleep(600)", &[&tag]);
    let gw = Gw::prepare("");
    let script = format!("{BIN} watch --name {tag} --json --journal j.jsonl; true");
    let out = gw.command_for("sh", &["-c", &script]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pids: Vec<u64> = snap["nodes"].as_array().unwrap().iter().filter_map(|n| n["pid"].as_u64()).collect();
    assert_eq!(pids, vec![u64::from(target.pid())], "{snap}");
}

/// `python3 -m http.server` in `dir`: it stops on SIGINT (Python's own handler raises
/// `KeyboardInterrupt` and the server shuts down); SIGTERM is left at its default.
fn http_server(dir: &std::path::Path) -> std::process::Command {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = std::process::Command::new(real_python());
    cmd.args(["-m", "http.server", "0", "--bind", "127.0.0.1"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    cmd
}

#[test]
fn watch_judges_against_the_stop_signal_given_and_says_which_it_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target(http_server(dir.path()).spawn().unwrap());
    let pid = target.pid().to_string();

    // Plain `watch` assumes SIGTERM, and says so.
    let plain = Gw::watch(&["--pid", &pid]);
    plain.wait_for(
        |gw| hazards_of(gw, target.pid()).contains(&"stop-signal-default".to_string()),
        "stop-signal-default under the assumed SIGTERM",
    );
    let sentence = node_of(&plain, target.pid())["hazard_sentences"]["stop-signal-default"].clone();
    assert_eq!(
        sentence,
        "SIGTERM (the stop signal assumed; use --stop-signal if it stops with another) is at its default action though it catches SIGINT: it will die without cleanup"
    );

    // Told its real stop signal: judged against SIGINT, which it handles: nothing to say.
    let mut int = Gw::watch(&["--pid", &pid, "--stop-signal", "SIGINT"]);
    int.wait_for(|gw| node_of(gw, target.pid())["handlers"]["SIGINT"] == "caught", "SIGINT seen caught");
    assert!(hazards_of(&int, target.pid()).is_empty(), "{}", node_of(&int, target.pid()));
    // A stop from that watch sends SIGINT, and the server shuts down by itself.
    let node = node_of(&int, target.pid())["name"].as_str().unwrap().to_string();
    let out = int.run(&["stop", &node, "--wait", "--session", &int.session]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SIGINT → SIGKILL @10s"), "{text}");
    assert!(text.contains(&format!("{node}: stopped")), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    int.wait_for(|_| !alive(target.pid()), "the server gone");

    // The journal carries the assumption: folded again (replay, report), it judges the same.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(int.pid() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let _ = int.wait_exit();
    let mut state = gracewatch::state::Fold::new(gracewatch::hazards::lints());
    for e in &int.journal() {
        state.apply(e);
    }
    let n = state.node(&node).expect("the watched node in the replayed state");
    assert_eq!(n.stop_signal(), gracewatch::event::Signal::INT);
    assert!(state.hazard_feed.is_empty(), "{:?}", state.hazard_feed);
}
