//! Nothing outlives gracewatch: not its nodes, not their children, not a `setsid` grandchild,
//! whether gracewatch is killed with SIGKILL or stops normally.

mod common;
use common::*;

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
