//! Nothing outlives gracewatch: not its nodes, not their children, not a `setsid` grandchild,
//! whether gracewatch is killed with SIGKILL or stops normally.

use crate::common;
use common::*;
use gracewatch::event::EventKind;

fn tree_manifest(tag: &str) -> String {
    // sh → (sleep, setsid sleep, sleep); python → setsid sleep.
    format!(
        "name = \"tree\"\n[nodes.shell]\ncmd = [\"sh\", \"-c\", \"sleep 1{tag}1 & setsid sleep 1{tag}2 & sleep 1{tag}3\"]\n[nodes.py]\ncmd = [\"python3\", \"-c\", \"import subprocess,time; subprocess.Popen(['setsid','sleep','1{tag}4']); print('ready', flush=True); time.sleep(1000)\"]\n"
    )
}

fn tag() -> String {
    // Digits only (it ends up in sleep's argument), of a fixed width (no tag is a prefix of
    // another test's).
    unique("")
}

#[test]
fn sigkill_to_gracewatch_leaves_no_node_and_no_grandchild() {
    let tag = tag();
    let mut gw = Gw::up(&tree_manifest(&tag));
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).len() == 4, "all four sleeps");
    let guardian_before = children_with_arg(gw.pid(), "__guardian");
    assert!(!guardian_before.is_empty(), "the guardian runs");
    let pid = gw.pid();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    let _ = gw.wait_exit();
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).is_empty(), "every descendant to be gone");
}

#[test]
fn a_normal_stop_kills_detached_grandchildren_and_records_them_as_survivors() {
    let tag = tag();
    let mut gw = Gw::up(&tree_manifest(&tag));
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).len() == 4, "all four sleeps");
    let out = gw.run(&["stop", "--all", "--wait", "--session", "tree"]);
    assert!(out.status.code().is_some(), "{out:?}");
    let _ = gw.wait_exit();
    // Killed, and then gone (dying may take a moment on a loaded machine).
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).is_empty(), "no descendant to survive a normal stop");
    let survivors: Vec<(String, Vec<gracewatch::event::Survivor>)> = gw
        .journal()
        .iter()
        .filter_map(|e| match &e.ev {
            gracewatch::event::EventKind::Survivors { node, survivors } => Some((node.clone(), survivors.clone())),
            _ => None,
        })
        .collect();
    let detached: Vec<&str> =
        survivors.iter().flat_map(|(n, s)| s.iter().filter(|s| s.detached).map(move |_| n.as_str())).collect();
    let log: Vec<String> =
        gw.journal().iter().map(|e| format!("{:?}", e.ev)).filter(|l| !l.starts_with("SessionStarted")).collect();
    assert!(
        detached.contains(&"shell") && detached.contains(&"py"),
        "setsid grandchildren recorded as detached survivors: {survivors:?}\n{}",
        log.join("\n")
    );
    let ps_hazard = gw.journal().iter().any(|e| matches!(&e.ev, gracewatch::event::EventKind::Survivors { .. }));
    assert!(ps_hazard);
}

#[test]
fn a_clean_tree_leaves_no_survivors() {
    let mut gw = Gw::up("name = \"clean\"\n[nodes.a]\ncmd = \"sleep 1000\"\n");
    gw.run(&["stop", "--all", "--wait", "--session", "clean"]);
    let _ = gw.wait_exit();
    assert!(!gw.journal().iter().any(|e| matches!(&e.ev, gracewatch::event::EventKind::Survivors { .. })));
}

/// Runs `gracewatch up --headless` as pid 1 of a new pid namespace, as in a container or a CI
/// runner: there its session's leader lives outside, so the kernel gives its session id as 0,
/// and the kernel's process-events connector ignores subscriptions.
#[test]
fn inside_a_pid_namespace_a_normal_stop_still_kills_and_records_detached_grandchildren() {
    let probe = std::process::Command::new("unshare").args(["--pid", "--fork", "--mount-proc", "true"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "this test makes a pid namespace with unshare(1), which needs root (or user namespaces): {probe:?}"
    );
    let tag = tag();
    let mut gw = Gw::prepare(&tree_manifest(&tag));
    let args =
        ["--pid", "--fork", "--mount-proc", "--kill-child", BIN, "up", "--headless", "--journal", "journal.jsonl"];
    gw.spawn(gw.command_for("unshare", &args));
    gw.wait_for(|gw| gw.try_ps().is_some(), "the control socket to answer");
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).len() == 4, "all four sleeps");
    // The probe gives the kernel a second to answer before it settles on polling.
    let probe_mode = |gw: &Gw| gw.journal().iter().any(|e| matches!(e.ev, EventKind::ProbeMode { .. }));
    gw.wait_for(probe_mode, "the probe to say how it watches");
    let out = gw.run(&["stop", "--all", "--wait", "--session", "tree"]);
    assert!(out.status.code().is_some(), "{out:?}");
    let _ = gw.wait_exit();
    gw.wait_for(|_| pids_running("sleep", &format!("1{tag}")).is_empty(), "no descendant to survive a normal stop");
    let journal = gw.journal();
    let errors: Vec<&EventKind> =
        journal.iter().map(|e| &e.ev).filter(|e| matches!(e, EventKind::SupervisorError { .. })).collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", gw.post_mortem(None));
    let detached: Vec<&str> = journal
        .iter()
        .filter_map(|e| match &e.ev {
            EventKind::Survivors { node, survivors } if survivors.iter().any(|s| s.detached) => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert!(detached.contains(&"shell") && detached.contains(&"py"), "{}", gw.post_mortem(None));
    // The probe says how it watches: polling, and why (the kernel does not answer here).
    let mode = journal.iter().find_map(|e| match &e.ev {
        EventKind::ProbeMode { mode, detail } => Some((*mode, detail.clone())),
        _ => None,
    });
    assert!(
        matches!(&mode, Some((gracewatch::event::ProbeMode::Polling, d)) if d.contains("initial user and pid namespaces")),
        "{mode:?}"
    );
}
