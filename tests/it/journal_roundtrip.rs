//! The journal is lossless and readable after a crash.

use crate::common;
use common::*;
use gracewatch::event::EventKind;
use std::fmt::Write as _;

#[test]
fn every_line_parses_back_into_the_same_events() {
    let mut gw = Gw::up(
        "name = \"jr\"\n[nodes.talk]\ncmd = [\"sh\", \"-c\", \"for i in 1 2 3 4 5; do echo line $i; echo err $i >&2; done; sleep 1000\"]\n",
    );
    gw.wait_for(
        |gw| gw.journal().iter().filter(|e| matches!(e.ev, EventKind::Output { .. })).count() == 10,
        "ten output lines",
    );
    gw.run(&["stop", "--all", "--wait", "--session", "jr"]);
    let _ = gw.wait_exit();
    let text = std::fs::read_to_string(gw.path("journal.jsonl")).unwrap();
    let events = gw.journal();
    assert_eq!(text.lines().count(), events.len());
    for (line, event) in text.lines().zip(&events) {
        let reparsed: gracewatch::event::Event = serde_json::from_str(line).unwrap();
        assert_eq!(&reparsed, event);
        assert_eq!(serde_json::to_string(event).unwrap(), line, "re-serializes to the same line");
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "seq is gap-free");
    }
    assert!(events.windows(2).all(|w| w[0].t <= w[1].t), "t is monotonic");
    assert!(matches!(events[0].ev, EventKind::SessionStarted(_)));
}

#[test]
fn a_journal_cut_mid_line_reads_back_to_its_last_whole_line() {
    let mut gw = Gw::up("name = \"torn\"\n[nodes.a]\ncmd = [\"sh\", \"-c\", \"echo hello; sleep 1000\"]\n");
    gw.wait_for(|gw| gw.journal().iter().any(|e| matches!(e.ev, EventKind::Output { .. })), "output");
    gw.run(&["stop", "--all", "--wait", "--session", "torn"]);
    let _ = gw.wait_exit();
    let full = std::fs::read(gw.path("journal.jsonl")).unwrap();
    let whole_lines = full.iter().filter(|b| **b == b'\n').count();
    // Cut in the middle of the last line.
    let last_start = full[..full.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let cut = last_start + (full.len() - last_start) / 2;
    let torn = gw.path("torn.jsonl");
    std::fs::write(&torn, &full[..cut]).unwrap();
    let (events, summary) = gracewatch::journal::read_all(&torn).unwrap();
    assert_eq!(events.len(), whole_lines - 1);
    assert!(summary.torn_tail.is_some());
    // Cut right after a newline: nothing torn.
    std::fs::write(&torn, &full[..last_start]).unwrap();
    let (events, summary) = gracewatch::journal::read_all(&torn).unwrap();
    assert_eq!(events.len(), whole_lines - 1);
    assert_eq!(summary.torn_tail, None);
}

#[test]
fn newer_versions_are_refused_and_unknown_kinds_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.jsonl");
    let header = r#"{"seq":0,"t":0,"ev":{"session_started":{"format":99,"version":"9","session":"s","mode":"up","host":"h","pid":1,"started_unix_ms":0,"started":"","monotonic_ns":0,"manifest":{"name":"s","nodes":[],"probe_interval_ms":250},"future_field":1}}}"#;
    std::fs::write(&p, format!("{header}\n")).unwrap();
    let err = gracewatch::journal::read_all(&p).unwrap_err().to_string();
    assert!(err.contains("format version 99") && err.contains("version 1"), "{err}");
    let header = header.replace("\"format\":99", "\"format\":1");
    std::fs::write(&p, format!("{header}\n{{\"seq\":1,\"t\":5,\"ev\":{{\"teleported\":{{\"node\":\"a\"}}}}}}\n{{\"seq\":2,\"t\":6,\"ev\":{{\"session_ended\":{{\"reason\":\"x\"}}}}}}\n")).unwrap();
    let (events, summary) = gracewatch::journal::read_all(&p).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(summary.unknown_kinds, 1);
}

/// A session that wrote a large journal leaves its replay index in the cache: the first replay
/// of it has every checkpoint at once, and they are right (the same as reading the journal).
#[test]
fn a_large_journal_is_indexed_as_it_is_written() {
    let lines = gracewatch::replay::recorder::RECORD_FROM_EVENTS + 10_000;
    let mut gw = Gw::prepare(&format!(
        "name = \"big\"\n[nodes.chatty]\ncmd = [{}, \"-c\", \"import sys\\nfor i in range({lines}): sys.stdout.write('%d\\\\n' % i)\"]\n",
        toml_str(&real_python())
    ));
    // The node prints and exits; the headless session ends when it has (maybe before its
    // control socket was ever asked anything: not waited for).
    gw.spawn(gw.command(&["up", "--headless", "--journal", "journal.jsonl"]));
    // 210,000 lines through a debug build: a few seconds here, more on a loaded machine.
    let exit = gw.wait_exit_within(std::time::Duration::from_secs(120));
    let cache = gw.path("cache/gracewatch/replay");
    let journal = gw.path("journal.jsonl");
    let recorded = gracewatch::replay::open_index(&journal, Some(cache)).unwrap().0;
    let recorded = recorded.read().unwrap();
    assert!(recorded.from_cache && recorded.complete, "no index left by the session\n{}", gw.post_mortem(Some(&exit)));
    let read = gracewatch::replay::open_index(&journal, None).unwrap().0;
    while !read.read().unwrap().complete {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let read = read.read().unwrap();
    let shape = |i: &gracewatch::replay::Index| {
        (i.events, i.marks.clone(), i.checkpoints.iter().map(|c| (c.applied, c.t, c.pos)).collect::<Vec<_>>())
    };
    assert!(recorded.events > lines);
    assert_eq!(shape(&recorded), shape(&read));
}

#[test]
fn sessions_of_one_name_started_in_the_same_second_each_get_a_journal() {
    // Default journal names go down to the second: a quick restart must not be refused.
    let gw = Gw::prepare("name = \"quick\"\n[nodes.once]\ncmd = \"true\"\n");
    let runs: Vec<std::process::Output> = (0..3).map(|_| gw.run(&["up", "--headless"])).collect();
    for out in &runs {
        assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    }
    let dir = gw.path("state/gracewatch/journals");
    let mut journals: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|n| n.starts_with("quick-"))
        .collect();
    journals.sort();
    assert_eq!(journals.len(), 3, "{journals:?}\n{runs:?}");
}

#[test]
fn a_session_that_cannot_start_leaves_no_socket_behind() {
    let gw = Gw::prepare("name = \"nostart\"\n[nodes.a]\ncmd = \"sleep 1000\"\n");
    // An explicit journal is never overwritten: the session refuses to start.
    std::fs::write(gw.path("taken.jsonl"), b"precious\n").unwrap();
    let out = gw.run(&["up", "--headless", "--journal", "taken.jsonl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(err.contains("cannot create journal"), "{err}");
    assert_eq!(std::fs::read(gw.path("taken.jsonl")).unwrap(), b"precious\n");
    // `ps` finds no session, rather than a dead socket that refuses connections.
    let ps = gw.run(&["ps", "--session", "nostart"]);
    let said = String::from_utf8_lossy(&ps.stderr);
    assert!(said.contains("no session") && !said.contains("refused"), "{said}");
    assert!(!gw.path("run/gracewatch/nostart.sock").exists());
}

/// A node's exit is journaled after everything it said before it: its acknowledgement of the
/// stop message and its last output lines, though they reach gracewatch through other paths
/// (its socket and pipes) than its exit (the reaper) and either could come first.
#[test]
fn a_nodes_last_words_are_journaled_before_its_exit() {
    const NODES: usize = 6;
    // The acknowledgement goes out just before the callback; the lines just before the exit,
    // which is immediate (no interpreter shutdown to give the readers time).
    let body = "import os, sys, time, gracewatch_node as gw\n\
                def bye(reason):\n\
                \x20   for i in range(200): sys.stdout.write('bye %d\\n' % i)\n\
                \x20   sys.stdout.flush()\n\
                \x20   sys.stderr.write('last words\\n')\n\
                \x20   sys.stderr.flush()\n\
                \x20   os._exit(0)\n\
                gw.on_stop(bye)\n\
                while True: time.sleep(1)\n";
    let mut manifest = String::from("name = \"words\"\n");
    for i in 0..NODES {
        let _ = writeln!(
            manifest,
            "[nodes.n{i}]\ncmd = [{}, \"-c\", {}]\ngrace = \"20s\"",
            toml_str(&real_python()),
            toml_str(body)
        );
    }
    let mut gw = Gw::up(&manifest);
    gw.wait_for(
        |gw| gw.journal().iter().filter(|e| matches!(e.ev, EventKind::StopListening { .. })).count() == NODES,
        "every node to listen for the stop message",
    );
    gw.run(&["stop", "--all", "--wait", "--session", "words"]);
    let _ = gw.wait_exit();
    let events = gw.journal();
    for i in 0..NODES {
        let node = format!("n{i}");
        let at = |what: fn(&EventKind) -> bool| -> Vec<usize> {
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.node() == Some(node.as_str()) && what(&e.ev))
                .map(|(i, _)| i)
                .collect()
        };
        let exit = at(|e| matches!(e, EventKind::NodeExited { .. }))[0];
        let acked = at(|e| matches!(e, EventKind::StopAcked { .. }))[0];
        let said = at(|e| matches!(e, EventKind::Output { .. }));
        assert!(acked < exit, "{node}: acknowledged at #{acked}, exited at #{exit}");
        assert_eq!(said.len(), 201, "{node}: every line kept\n{}", gw.post_mortem(None));
        assert!(said.iter().all(|s| *s < exit), "{node}: a line after the exit (#{exit}): {said:?}");
    }
}
