//! `gracewatch demo --headless`, stopped as a whole: every failure of DESIGN.md shows up as its
//! hazard (in `ps --json` while it runs, and in the journal), and the well-behaved nodes raise
//! none, ever.

use crate::common;
use common::*;
use gracewatch::event::EventKind;
use gracewatch::hazards::HazardId;
use std::collections::{BTreeMap, BTreeSet};

fn hazards(node: &serde_json::Value) -> BTreeSet<String> {
    node["hazards"].as_array().into_iter().flatten().filter_map(|h| h.as_str().map(str::to_string)).collect()
}

fn has(node: &serde_json::Value, ids: &[&str]) -> bool {
    let found = hazards(node);
    ids.iter().all(|id| found.contains(*id))
}

#[test]
fn every_failure_shows_as_its_hazard_and_the_well_behaved_nodes_raise_none() {
    let mut gw = Gw::demo();
    // Before anyone stops anything (the slow receiver's backlog is full about 3.5 s in: a stop
    // then cannot drain it within its grace and extensions).
    gw.wait_for(
        |gw| {
            let ps = gw.ps();
            let node = |n: &str| ps["nodes"].as_array().and_then(|a| a.iter().find(|x| x["name"] == n).cloned());
            let (Some(it), Some(ns), Some(sr), Some(mt), Some(fk), Some(wb), Some(st)) = (
                node("import_time"),
                node("no_signals"),
                node("slow_receiver"),
                node("main_thread_only"),
                node("forker"),
                node("well_behaved"),
                node("steady"),
            ) else {
                return false;
            };
            has(&it, &["handler-install-failed", "handler-off-main-thread"])
                && has(&ns, &["handler-install-failed"])
                && has(&mt, &["stop-signal-default", "handler-install-failed"])
                && mt["handlers"]["SIGTERM"] == "default"
                && has(&fk, &["fork-without-exec-threaded"])
                && sr["pending_tokens"].as_u64().is_some_and(|n| n >= 25)
                && sr["token_holders"]["detector"].as_u64().is_some_and(|n| n >= 25)
                && wb["handlers"]["SIGTERM"] == "caught"
                && st["handlers"]["SIGTERM"] == "caught"
        },
        "every failure visible in ps --json",
    );
    let ps = gw.ps();
    for clean in ["well_behaved", "steady", "slow_receiver"] {
        let node = ps["nodes"].as_array().unwrap().iter().find(|x| x["name"] == clean).unwrap();
        assert!(hazards(node).is_empty(), "{clean} raised {:?} before the stop", hazards(node));
    }
    // The failures that are about handlers and the stop message do not raise a false
    // stop-signal-default on nodes that listen for the stop message.
    for listens in ["import_time", "no_signals"] {
        let node = ps["nodes"].as_array().unwrap().iter().find(|x| x["name"] == listens).unwrap();
        assert!(!hazards(node).contains("stop-signal-default"), "{listens}: {:?}", hazards(node));
    }

    let out = gw.run(&["stop", "--all", "--wait", "--session", "demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "import_time: stopped (status 0)",
        "no_signals: stopped (status 0)",
        "slow_receiver: killed-at-deadline",
        "main_thread_only: stopped (SIGTERM)",
        "well_behaved: stopped (status 0)",
        "steady: stopped (status 0)",
    ] {
        assert!(
            text.contains(line),
            "no {line:?} in:\n{text}\n{}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            gw.post_mortem(None)
        );
    }
    let _ = gw.wait_exit();

    // The journal, folded: the same answer afterwards.
    let events = gw.journal();
    let mut state = gracewatch::state::Fold::new(gracewatch::hazards::lints());
    for e in &events {
        state.apply(e);
    }
    let mut raised: BTreeMap<String, BTreeSet<HazardId>> = BTreeMap::new();
    for h in &state.hazard_feed {
        raised.entry(h.node.clone()).or_default().insert(h.id);
    }
    let of = |n: &str| raised.get(n).cloned().unwrap_or_default();
    assert!(of("import_time").contains(&HazardId::HandlerInstallFailed));
    assert!(of("no_signals").contains(&HazardId::HandlerInstallFailed));
    assert!(of("slow_receiver").contains(&HazardId::TokensStuck), "{:?}", of("slow_receiver"));
    assert!(of("main_thread_only").contains(&HazardId::StopSignalDefault));
    assert!(of("forker").contains(&HazardId::ForkWithoutExecThreaded));
    assert!(of("well_behaved").is_empty(), "well_behaved raised {:?}", of("well_behaved"));
    assert!(of("steady").is_empty(), "steady raised {:?}", of("steady"));

    // Failure 1 and 2: stopped by the message alone, acknowledged, no signal sent.
    for node in ["import_time", "no_signals"] {
        assert!(events.iter().any(|e| matches!(&e.ev, EventKind::StopAcked { node: n } if n == node)), "{node} acked");
        assert!(
            !events.iter().any(|e| matches!(&e.ev, EventKind::SignalSent { node: n, .. } if n == node)),
            "{node} needed no signal"
        );
    }
    // Failure 3: grace extended while tokens drained, killed with tokens held by `detector`.
    assert!(events.iter().any(|e| matches!(&e.ev, EventKind::GraceExtended { node, .. } if node == "slow_receiver")));
    let at_kill = events.iter().find_map(|e| match &e.ev {
        EventKind::NodeExited { node, pending_tokens, .. } if node == "slow_receiver" => Some(pending_tokens.clone()),
        _ => None,
    });
    let at_kill = at_kill.expect("slow_receiver exited");
    let story: Vec<String> = events
        .iter()
        .filter(|e| {
            e.ev.node() == Some("slow_receiver")
                && !matches!(e.ev, EventKind::TokenIssued { .. } | EventKind::TokenReleased { .. })
        })
        .map(|e| format!("{:?}", e.ev))
        .collect();
    assert!(
        !at_kill.is_empty() && at_kill.iter().all(|t| t.holders == ["detector"]),
        "tokens at the kill: {at_kill:?}\n{}",
        story.join("\n")
    );
}
