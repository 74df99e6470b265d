//! `gracewatch report`: golden text and JSON of journals recorded from real runs
//! (`tests/fixtures/replay/`, see its README), read with structured assertions too; the exit
//! status (0: every stop ended cleanly; 1: a node killed at its deadline or force-killed; 2: an
//! unreadable journal); and the journal a supervisor killed with SIGKILL leaves behind.
//!
//! Everything the report prints comes from the journal: the host, the pids and the wall-clock
//! start are the recording's, so the goldens are the same on every machine and at every time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use gracewatch::event::EventKind;
use gracewatch::report::Report;
use gracewatch::tui::action::ReplayCmd;
use gracewatch::tui::replay_driver::{ReplayOptions, ReplaySession};
use gracewatch::tui::theme::Theme;
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay").join(name)
}

/// `gracewatch report ARGS JOURNAL`, the environment of the test's own process.
fn report_cmd(journal: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("report").args(args).arg(journal).stdin(Stdio::null());
    c
}

fn run(journal: &Path, args: &[&str]) -> Output {
    report_cmd(journal, args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The text report of a journal that must be readable, and its exit status.
fn text(journal: &Path) -> (String, Option<i32>) {
    let out = run(journal, &[]);
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (stdout(&out), out.status.code())
}

/// The JSON report of a journal that must be readable, and its exit status.
fn json(journal: &Path) -> (Value, Option<i32>) {
    let out = run(journal, &["--json"]);
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), out.status.code())
}

fn node<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no node {name}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect()
}

fn hazard_ids(n: &Value) -> Vec<&str> {
    n["hazards"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect()
}

fn stages(n: &Value) -> Vec<&str> {
    n["stop"]["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect()
}

// ---- goldens of the recorded journals ----

#[test]
fn the_demo_report_as_text_and_json() {
    let journal = fixture("demo.jsonl");
    let (t, code) = text(&journal);
    assert_eq!(code, Some(1), "slow_receiver was killed at its deadline:\n{t}");
    assert_snapshot!("demo_text", t);
    let out = run(&journal, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!("demo_json", stdout(&out));
}

#[test]
fn the_stops_report_as_text_and_json() {
    let journal = fixture("stops.jsonl");
    let (t, code) = text(&journal);
    assert_eq!(code, Some(1), "lender and stubborn were killed at their deadlines:\n{t}");
    assert_snapshot!("stops_text", t);
    let out = run(&journal, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!("stops_json", stdout(&out));
}

#[test]
fn the_crash_report_as_text_and_json() {
    let journal = fixture("crash.jsonl");
    let (t, code) = text(&journal);
    // Nothing was killed, but a stop was still running when the journal ends: not clean.
    assert_eq!(code, Some(1), "{t}");
    assert_snapshot!("crash_text", t);
    let out = run(&journal, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_snapshot!("crash_json", stdout(&out));
}

#[test]
fn the_clean_report_as_text_and_json_exits_0() {
    let journal = fixture("clean.jsonl");
    let (t, code) = text(&journal);
    assert_eq!(code, Some(0), "every stop ended cleanly:\n{t}");
    assert_snapshot!("clean_text", t);
    let out = run(&journal, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_snapshot!("clean_json", stdout(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    for n in r["nodes"].as_array().unwrap() {
        assert_eq!(n["exit"]["cause"], "stopped", "{n}");
        assert!(n["pending_tokens_at_end"].as_array().unwrap().is_empty(), "{n}");
        assert!(n["hazards"].as_array().unwrap().is_empty(), "{n}");
    }
    assert_eq!(node(&r, "polite")["exit"]["status"], json!({"code": 0, "signal": null}));
    assert_eq!(node(&r, "plain")["exit"]["status"], json!({"code": 0, "signal": null}));
    // `sleep` has no handler: SIGTERM's default action ends it. A stop, not a kill.
    assert_eq!(node(&r, "sleeper")["exit"]["status"], json!({"code": null, "signal": "SIGTERM"}));
    assert!(node(&r, "sleeper")["verdict"].as_str().unwrap().contains("by SIGTERM's default action"));
}

// ---- the same reports, read as data ----

#[test]
fn the_demo_report_says_how_each_failure_ended() {
    let (r, _) = json(&fixture("demo.jsonl"));
    assert_eq!(r["session"], "demo");
    assert_eq!(r["ended"], "every node exited");
    assert_eq!(r["torn"], false);
    assert_eq!(r["unknown_kinds"], 0);
    let names: Vec<&str> = r["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["import_time", "no_signals", "slow_receiver", "main_thread_only", "forker", "well_behaved", "steady"]
    );

    // Failures 1 and 2: the handler claims failed; stopped by the stop message alone,
    // acknowledged, no signal needed.
    for name in ["import_time", "no_signals"] {
        let n = node(&r, name);
        assert_eq!(n["exit"]["cause"], "stopped", "{n}");
        assert_eq!(n["exit"]["status"], json!({"code": 0, "signal": null}), "{n}");
        assert_eq!(stages(n), ["stop message"], "{n}");
        assert!(n["stop"]["ack_latency_ns"].as_u64().is_some(), "{n}");
        assert!(n["verdict"].as_str().unwrap().starts_with("stopped cleanly in "), "{n}");
        assert!(hazard_ids(n).contains(&"handler-install-failed"), "{n}");
        assert!(!hazard_ids(n).contains(&"stop-signal-default"), "{n}");
    }

    // Durations are rounded to the unit shown, not truncated: 1.97 ms is "2ms".
    let ns = node(&r, "no_signals");
    assert_eq!(ns["stop"]["ack_latency_ns"], 1_969_666);
    assert!(ns["verdict"].as_str().unwrap().ends_with(" (acknowledged in 2ms)"), "{ns}");

    // Failure 3: killed at the deadline after the grace was extended while tokens drained,
    // with the tokens still lent at the kill, every one held by `detector`.
    let sr = node(&r, "slow_receiver");
    assert_eq!(sr["exit"]["cause"], "killed-at-deadline");
    assert_eq!(sr["exit"]["status"], json!({"code": null, "signal": "SIGKILL"}));
    assert_eq!(stages(sr), ["stop message", "SIGTERM", "SIGKILL"]);
    assert!(sr["stop"]["extensions"].as_u64().unwrap() >= 1, "{sr}");
    let tokens = sr["pending_tokens_at_end"].as_array().unwrap();
    assert!(!tokens.is_empty());
    for t in tokens {
        assert_eq!(strs(&t["holders"]), ["detector"], "{t}");
    }
    assert_eq!(
        sr["verdict"].as_str().unwrap(),
        format!("killed at deadline after 8s, {} tokens held by `detector`", tokens.len())
    );
    assert!(hazard_ids(sr).contains(&"tokens-stuck"), "{sr}");

    // Failure 4: SIGTERM at its default action: it stopped, with no cleanup, and was flagged
    // before anyone stopped it.
    let mt = node(&r, "main_thread_only");
    assert_eq!(mt["exit"]["cause"], "stopped");
    assert_eq!(mt["exit"]["status"], json!({"code": null, "signal": "SIGTERM"}));
    assert_eq!(stages(mt), ["SIGTERM"]);
    assert!(mt["verdict"].as_str().unwrap().contains("by SIGTERM's default action: no handler ran"), "{mt}");
    let first_stop = mt["stop"]["requested_at"].as_u64().unwrap();
    for id in ["stop-signal-default", "handler-install-failed"] {
        let h = mt["hazards"].as_array().unwrap().iter().find(|h| h["id"] == id).unwrap();
        assert!(h["t"].as_u64().unwrap() < first_stop, "{id} raised before the stop");
    }

    // Failure 5: the fork without exec while threaded, and the child that outlived its parent.
    let fk = node(&r, "forker");
    assert_eq!(fk["exit"]["cause"], "stopped");
    let forks = fk["forks"].as_array().unwrap();
    let bad = forks.iter().find(|f| f["execd"] == false).expect("a fork without exec");
    assert!(bad["threads"].as_u64().unwrap() > 1, "{bad}");
    assert!(hazard_ids(fk).contains(&"fork-without-exec-threaded"), "{fk}");
    assert!(hazard_ids(fk).contains(&"survivors-after-exit"), "{fk}");
    let survivors = fk["survivors"].as_array().unwrap();
    assert_eq!(survivors.len(), 1);
    assert_eq!(survivors[0]["pid"], bad["child_pid"], "the survivor is the forked child");
    assert!(fk["verdict"].as_str().unwrap().ends_with("; 1 survivor killed after it exited"), "{fk}");

    // The well-behaved: clean, quick, acknowledged, nothing to say.
    for name in ["well_behaved", "steady"] {
        let n = node(&r, name);
        assert_eq!(n["exit"]["cause"], "stopped", "{n}");
        assert_eq!(n["exit"]["status"], json!({"code": 0, "signal": null}), "{n}");
        assert!(n["hazards"].as_array().unwrap().is_empty(), "{n}");
        assert!(n["stop"]["ack_latency_ns"].as_u64().is_some(), "{n}");
        assert!(n["verdict"].as_str().unwrap().starts_with("stopped cleanly in "), "{n}");
    }

    // Reverse dependency order: steady (well_behaved depends on it) is asked to stop only after
    // the whole first tier is gone, slow_receiver's kill included.
    let steady_asked = node(&r, "steady")["stop"]["requested_at"].as_u64().unwrap();
    assert!(steady_asked >= sr["exit"]["t"].as_u64().unwrap());
}

#[test]
fn the_stops_report_says_who_held_the_tokens() {
    let (r, _) = json(&fixture("stops.jsonl"));
    let polite = node(&r, "polite");
    assert_eq!(polite["exit"]["cause"], "stopped");
    assert_eq!(stages(polite), ["stop message"]);
    assert!(polite["stop"]["ack_latency_ns"].as_u64().is_some());

    let lender = node(&r, "lender");
    assert_eq!(lender["exit"]["cause"], "killed-at-deadline");
    assert_eq!(lender["stop"]["extensions"], 1);
    let tokens = lender["pending_tokens_at_end"].as_array().unwrap();
    assert_eq!(tokens.len(), 24);
    assert!(tokens.iter().all(|t| strs(&t["holders"]) == ["slow-receiver"]));
    assert!(lender["verdict"].as_str().unwrap().ends_with(", 24 tokens held by `slow-receiver`"));
    assert_eq!(hazard_ids(lender), ["handler-install-failed", "handler-off-main-thread", "tokens-stuck"]);

    // Killed at the deadline with no tokens: nothing about tokens is said.
    let stubborn = node(&r, "stubborn");
    assert_eq!(stubborn["exit"]["cause"], "killed-at-deadline");
    assert!(stubborn["pending_tokens_at_end"].as_array().unwrap().is_empty());
    assert_eq!(stubborn["verdict"], "killed at deadline after 1.5s");

    assert_eq!(node(&r, "forker")["exit"]["cause"], "stopped");
}

#[test]
fn the_crash_report_says_the_session_never_ended() {
    let (r, _) = json(&fixture("crash.jsonl"));
    assert_eq!(r["ended"], Value::Null);
    assert_eq!(r["torn"], false);
    let stubborn = node(&r, "stubborn");
    assert_eq!(stubborn["exit"], Value::Null);
    assert_eq!(stages(stubborn), ["SIGTERM"]);
    assert_eq!(stubborn["verdict"], "still stopping when the journal ends (stop requested at +2.500s)");
    let lender = node(&r, "lender");
    assert_eq!(lender["stop"], Value::Null);
    assert_eq!(lender["verdict"], "still running when the journal ends");
    let (t, _) = text(&fixture("crash.jsonl"));
    assert!(!t.contains("\nended: "), "{t}");
}

#[test]
fn the_json_is_the_report_the_library_builds() {
    for name in ["demo.jsonl", "stops.jsonl", "crash.jsonl", "clean.jsonl"] {
        let path = fixture(name);
        let (events, summary) = gracewatch::journal::read_all(&path).unwrap();
        let built = gracewatch::report::analyze(&events, &summary);
        let out = run(&path, &["--json"]);
        let printed: Report = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed, built, "{name}");
        assert_eq!(out.status.code(), Some(i32::from(gracewatch::report::exit_status(&built))), "{name}");
        let (t, _) = text(&path);
        assert_eq!(t, gracewatch::report::text::render(&built), "{name}");
    }
}

// ---- nothing depends on the machine or the time ----

#[test]
fn the_output_depends_on_the_journal_only() {
    let journal = fixture("demo.jsonl");
    let (plain, _) = text(&journal);
    let (plain_json, _) = json(&journal);
    let elsewhere = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("TZ", "Pacific/Chatham"),
        ("LC_ALL", "de_DE.UTF-8"),
        ("LANG", "ja_JP.UTF-8"),
        ("COLUMNS", "40"),
        ("NO_COLOR", "1"),
        ("TERM", "dumb"),
        ("HOSTNAME", "somewhere-else"),
        ("HOME", "/nonexistent"),
        ("XDG_RUNTIME_DIR", "/nonexistent"),
    ] {
        let out = report_cmd(&journal, &[]).env(key, value).current_dir(elsewhere.path()).output().unwrap();
        assert_eq!(stdout(&out), plain, "{key}={value}");
        let out = report_cmd(&journal, &["--json"]).env(key, value).current_dir(elsewhere.path()).output().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), plain_json, "{key}={value}");
    }

    // The host, the wall-clock start and the pids are the journal's, not this machine's.
    let original = std::fs::read_to_string(fixture("clean.jsonl")).unwrap();
    let (header, rest) = original.split_once('\n').unwrap();
    let mut h: Value = serde_json::from_str(header).unwrap();
    let started = &mut h["ev"]["session_started"];
    let pid = node(&json(&fixture("clean.jsonl")).0, "polite")["pid"].clone();
    started["host"] = "host-of-the-journal".into();
    started["started"] = "1999-12-31T23:59:59.250Z".into();
    started["started_unix_ms"] = 946_684_799_250_u64.into();
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("moved.jsonl");
    std::fs::write(&moved, format!("{}\n{rest}", serde_json::to_string(&h).unwrap())).unwrap();
    let (t, code) = text(&moved);
    assert_eq!(code, Some(0));
    let mut lines = t.lines();
    assert_eq!(
        lines.next().unwrap(),
        "gracewatch report · session replay-clean · host host-of-the-journal · gracewatch 0.1.0"
    );
    assert!(lines.next().unwrap().starts_with("started 1999-12-31T23:59:59.250Z · "), "{t}");
    assert!(t.contains(&format!("polite · pid {pid} · ")), "{t}");
    let (r, _) = json(&moved);
    assert_eq!(r["host"], "host-of-the-journal");
    assert_eq!(r["started_unix_ms"], 946_684_799_250_u64);
    assert_eq!(node(&r, "polite")["pid"], pid);
}

// ---- unreadable journals: exit status 2, a clear message, nothing on stdout ----

fn unreadable(journal: &Path, expect: &str) {
    for args in [&[][..], &["--json"][..]] {
        let out = run(journal, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(err.contains(expect), "{args:?}: {err:?} does not say {expect:?}");
        assert!(err.contains(&journal.display().to_string()), "{args:?}: {err:?} does not name the journal");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    }
}

#[test]
fn a_missing_journal_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    unreadable(&dir.path().join("nope.jsonl"), "No such file or directory");
}

#[test]
fn a_file_that_is_not_a_journal_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "this is not a journal\n\x00\x01\x02\n").unwrap();
    unreadable(&garbage, "not a gracewatch journal: the first line is not a session header");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    unreadable(&empty, "empty journal (no header record)");
    // Valid JSON lines, but no session header first.
    let text = std::fs::read_to_string(fixture("clean.jsonl")).unwrap();
    let headless = dir.path().join("headless.jsonl");
    std::fs::write(&headless, text.split_once('\n').unwrap().1).unwrap();
    unreadable(&headless, "not a gracewatch journal");
}

#[test]
fn a_journal_of_a_newer_format_version_exits_2_naming_both_versions() {
    let text = std::fs::read_to_string(fixture("demo.jsonl")).unwrap();
    let newer = text.replacen("\"format\":1,", "\"format\":99,", 1);
    assert_ne!(newer, text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.jsonl");
    std::fs::write(&path, newer).unwrap();
    unreadable(
        &path,
        "journal format version 99 is newer than this gracewatch reads (version 1); use a newer gracewatch",
    );
}

#[test]
fn a_directory_without_a_journal_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a journal").unwrap();
    unreadable(dir.path(), &format!("no journal in {}", dir.path().display()));
}

/// `clean.jsonl` with its 11th line replaced by `damage`.
fn damaged_clean(dir: &Path, damage: &str) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(fixture("clean.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[10] = damage;
    let path = dir.join("damaged.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, lines.len())
}

#[test]
fn a_journal_damaged_in_the_middle_is_reported_from_the_rest_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, _) = json(&fixture("clean.jsonl"));
    for damage in ["{\"seq\":10,\"t\":5,\"ev\":{broken", "\u{0}\u{0}garbage", "{\"seq\":10,\"ev\":7}"] {
        let (path, lines) = damaged_clean(dir.path(), damage);
        let out = run(&path, &[]);
        let t = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{damage}: {t}");
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut head = t.lines().skip(2);
        assert_eq!(
            head.next().unwrap(),
            "! journal damaged: 1 record skipped at line 11; the report is made of the rest",
            "{t}"
        );
        assert!(t.contains(&format!(" · {} events", lines - 1)), "{t}");
        // The rest is all there: every node's verdict, the session's end.
        assert!(t.contains("\nended: every node exited\n"), "{t}");
        for n in ["polite", "plain", "sleeper"] {
            assert!(t.lines().any(|l| l.starts_with(&format!("  {n} ")) && l.contains("stopped")), "{n}: {t}");
        }

        let out = run(&path, &["--json"]);
        assert_eq!(out.status.code(), Some(3));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err, "gracewatch: journal damaged: 1 record skipped at line 11; the report is made of the rest\n");
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["damaged_records"], 1);
        assert_eq!(r["damaged_at"], serde_json::json!([{"line": 11}]));
        assert_eq!(r["events"], lines - 1);
        assert_eq!(r["torn"], false);
        assert_eq!(r["nodes"].as_array().unwrap().len(), clean["nodes"].as_array().unwrap().len());
        for n in clean["nodes"].as_array().unwrap() {
            let name = n["name"].as_str().unwrap();
            assert_eq!(node(&r, name)["exit"], n["exit"], "{name}");
        }
    }
}

#[test]
fn several_damaged_records_are_counted_and_located() {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    for i in [5, 40, 41, 100] {
        lines[i] = "{\"seq\":";
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("holes.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = run(&path, &[]);
    assert_eq!(out.status.code(), Some(3));
    let t = stdout(&out);
    assert!(
        t.contains("! journal damaged: 4 records skipped (at lines 6, 41, 42, 101); the report is made of the rest"),
        "{t}"
    );
    let (events, summary) = gracewatch::journal::read_all(&path).unwrap();
    assert_eq!((events.len(), summary.damaged), (lines.len() - 4, 4));
    assert_eq!(summary.torn_tail, None);
}

// ---- live runs: a clean stop exits 0, a forced one 1 ----

/// Waits for gracewatch to end the session, then reads the report of its journal.
fn report_of_finished(gw: &mut Gw) -> (String, Value, Option<i32>) {
    let _ = gw.wait_exit();
    let (t, code) = text(&gw.path("journal.jsonl"));
    let (r, json_code) = json(&gw.path("journal.jsonl"));
    assert_eq!(code, json_code);
    (t, r, code)
}

#[test]
fn a_real_session_where_every_stop_ends_cleanly_exits_0() {
    let tag = unique("cleanrun");
    let manifest = format!(
        "name = \"{tag}\"\n[nodes.handler]\ncmd = [\"python3\", \"-c\", {}, \"{tag}\"]\ngrace = \"5s\"\n[nodes.sleeper]\ncmd = [\"sleep\", \"1000\"]\ngrace = \"5s\"\n",
        toml_str(py::HANDLES_TERM)
    );
    let mut gw = Gw::up(&manifest);
    gw.wait_for(|gw| gw.node("handler")["handlers"]["SIGTERM"] == "caught", "the SIGTERM handler");
    let out = gw.run(&["stop", "--all", "--wait", "--session", &tag]);
    assert!(out.status.success(), "{out:?}");
    let (t, r, code) = report_of_finished(&mut gw);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(r["ended"], "every node exited", "{t}");
    assert_eq!(node(&r, "handler")["exit"]["status"], json!({"code": 0, "signal": null}), "{t}");
    assert!(node(&r, "handler")["verdict"].as_str().unwrap().starts_with("stopped cleanly in "), "{t}");
    assert_eq!(node(&r, "sleeper")["exit"]["cause"], "stopped", "{t}");
    assert_eq!(node(&r, "sleeper")["exit"]["status"], json!({"code": null, "signal": "SIGTERM"}), "{t}");
}

#[test]
fn a_real_session_with_a_forced_stop_exits_1() {
    let tag = unique("forcerun");
    let manifest = format!(
        "name = \"{tag}\"\n[nodes.handler]\ncmd = [\"python3\", \"-c\", {}, \"{tag}\"]\ngrace = \"5s\"\n",
        toml_str(py::HANDLES_TERM)
    );
    let mut gw = Gw::up(&manifest);
    gw.wait_for(|gw| gw.node("handler")["handlers"]["SIGTERM"] == "caught", "the SIGTERM handler");
    let _ = gw.run(&["stop", "--all", "--force", "--wait", "--session", &tag]);
    let (t, r, code) = report_of_finished(&mut gw);
    assert_eq!(code, Some(1), "{t}");
    let h = node(&r, "handler");
    assert_eq!(h["exit"]["cause"], "force-killed", "{t}");
    assert_eq!(h["stop"]["mode"], "force", "{t}");
    assert!(h["verdict"].as_str().unwrap().starts_with("force-killed after "), "{t}");
}

#[test]
fn a_stop_that_ended_only_after_an_escalation_says_so() {
    let tag = unique("escalated");
    // SIGTERM ignored; Python's own SIGINT handler (KeyboardInterrupt) ends it.
    let manifest = format!(
        "name = \"{tag}\"\n[nodes.stubborn]\ncmd = [\"python3\", \"-c\", {}, \"{tag}\"]\ngrace = \"10s\"\nescalate = [\"SIGINT:300ms\"]\n",
        toml_str(py::IGNORES_TERM)
    );
    let mut gw = Gw::up(&manifest);
    gw.wait_for(|gw| gw.node("stubborn")["handlers"]["SIGTERM"] == "ignored", "SIGTERM to be ignored");
    let out = gw.run(&["stop", "--all", "--wait", "--session", &tag]);
    assert!(out.status.success(), "{out:?}");
    let (t, r, code) = report_of_finished(&mut gw);
    let n = node(&r, "stubborn");
    assert_eq!(n["exit"]["cause"], "stopped", "{t}");
    assert_eq!(stages(n), ["SIGTERM", "SIGINT"], "{t}");
    let verdict = n["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("stopped in ") && verdict.ends_with(" after escalation to SIGINT"), "{t}");
    assert!(!verdict.contains("cleanly"), "{t}");
    // Not killed: the stop ended, later than planned but without SIGKILL.
    assert_eq!(code, Some(0), "{t}");
}

/// The timeline is in the order things happened: by time in ns, then by sequence within one
/// time; never by the rounded time shown. Here `polite`'s acknowledgement is moved after its
/// exit in the journal (as a supervisor that reads the node's socket after reaping it would
/// write them) while keeping its earlier time.
#[test]
fn the_timeline_is_ordered_by_time_then_sequence() {
    use gracewatch::event::Event;
    let (mut events, summary) = gracewatch::journal::read_all(&fixture("clean.jsonl")).unwrap();
    let is = |e: &Event, kind: &str| e.node() == Some("polite") && e.ev.name() == kind;
    let ack_at = events.iter().position(|e| is(e, "stop_acked")).unwrap();
    let exit_at = events.iter().position(|e| is(e, "node_exited")).unwrap();
    let mut ack = events.remove(ack_at);
    let exit_at = exit_at - 1;
    ack.seq = events[exit_at].seq + 1;
    let ack_t = ack.t;
    // Within the millisecond of the exit (shown the same), a few µs before it.
    events[exit_at].t = ack_t + 300_000;
    events.insert(exit_at + 1, ack);
    let r = gracewatch::report::analyze(&events, &summary);
    let polite: Vec<&str> =
        r.timeline.iter().filter(|e| e.node.as_deref() == Some("polite")).map(|e| e.what.as_str()).collect();
    let ack = polite.iter().position(|w| w.starts_with("stop acknowledged")).unwrap();
    let exit = polite.iter().position(|w| w.starts_with("exited")).unwrap();
    assert!(ack < exit, "{polite:?}");
    for pair in r.timeline.windows(2) {
        assert!((pair[0].t, pair[0].seq) < (pair[1].t, pair[1].seq), "{pair:?}");
    }
}

// ---- a supervisor killed with SIGKILL mid-run ----

fn replay_open(path: &Path) -> ReplaySession {
    let opts = ReplayOptions { theme: Some(Theme::plain()), ..ReplayOptions::default() };
    let mut s = ReplaySession::open(path, &opts, Rect::new(0, 0, 160, 45)).unwrap();
    let start = Instant::now();
    while !s.player.index.read().unwrap().complete {
        assert!(start.elapsed() < PATIENCE, "index never completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    s.sync_index(0);
    s
}

fn replay_screen(s: &ReplaySession) -> String {
    let area = s.ui.screen;
    let mut t = Terminal::new(TestBackend::new(area.width, area.height)).unwrap();
    t.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    t.backend().to_string()
}

/// Replays `path` to its end and reports what it read: (events, torn).
fn replays_to_the_end(path: &Path, events: usize) -> bool {
    let mut s = replay_open(path);
    let r = s.ui.replay.clone().unwrap();
    assert_eq!(r.events, events as u64, "every whole record is replayed");
    s.command(ReplayCmd::ToEnd, 0);
    assert_eq!(s.player.applied, events as u64);
    let screen = replay_screen(&s);
    assert_eq!(screen.contains("torn last line"), r.torn_tail, "{screen}");
    r.torn_tail
}

#[test]
fn a_journal_left_by_a_sigkilled_supervisor_reports_and_replays() {
    let tag = unique("sigkilled");
    // A node that writes lots of output quickly (so the journal is being written all the time)
    // and one that ignores SIGTERM, so a stop with a long grace is in progress at the kill.
    let chatty = "import sys,time\ni=0\nwhile True:\n    i+=1\n    print('line %d %s' % (i, 'x'*80), flush=True)\n    if i % 10 == 0: time.sleep(0.001)";
    let manifest = format!(
        "name = \"{tag}\"\n[nodes.chatty]\ncmd = [\"python3\", \"-c\", {}, \"{tag}\"]\n[nodes.stubborn]\ncmd = [\"python3\", \"-c\", {}, \"{tag}\"]\ngrace = \"60s\"\n",
        toml_str(chatty),
        toml_str(py::IGNORES_TERM)
    );
    let mut gw = Gw::prepare(&manifest);
    // The node output goes to a file (Gw::start): a pipe nobody reads would block gracewatch.
    gw.start(&["up", "--headless", "--journal", "journal.jsonl"]);
    gw.wait_for(|gw| gw.node("stubborn")["handlers"]["SIGTERM"] == "ignored", "stubborn to ignore SIGTERM");
    let out = gw.run(&["stop", "stubborn", "--session", &tag]);
    assert!(out.status.success(), "{out:?}");

    // The stop is under way and chatty's output keeps being journaled after it.
    let stop_under_way = |gw: &Gw| {
        let events = gw.journal();
        let Some(at) =
            events.iter().position(|e| matches!(&e.ev, EventKind::SignalSent { node, .. } if node == "stubborn"))
        else {
            return false;
        };
        events[at..].iter().filter(|e| matches!(&e.ev, EventKind::Output { node, .. } if node == "chatty")).count()
            >= 500
    };
    gw.wait_for(stop_under_way, "the stop to be under way with output journaled after it");

    let pid = gw.pid();
    let guardian = children_with_arg(pid, "__guardian");
    assert_eq!(guardian.len(), 1, "gracewatch's guardian");
    let nodes = pids_with_arg(&tag);
    assert!(nodes.len() >= 2, "both nodes run: {nodes:?}");
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    let _ = gw.wait_exit();
    // The guardian kills the nodes, then goes itself: nothing outlives the test.
    gw.wait_for(|_| pids_with_arg(&tag).is_empty(), "the nodes to be killed by the guardian");
    gw.wait_for(|_| !guardian.iter().any(|p| alive(*p)), "the guardian to finish");

    // As the kill left it (a torn last line or not: whichever the kill happened to leave).
    let path = gw.path("journal.jsonl");
    let (events, summary) = gracewatch::journal::read_all(&path).unwrap();
    assert!(!events.iter().any(|e| matches!(e.ev, EventKind::SessionEnded { .. })));
    assert!(!events.iter().any(|e| matches!(&e.ev, EventKind::NodeExited { .. })));
    let torn = summary.torn_tail.is_some();
    eprintln!("the kill left {} events and {}", events.len(), if torn { "a torn last line" } else { "whole lines" });
    let (t, code) = text(&path);
    // Nothing was killed, but a stop was still running when the journal ends: not clean.
    assert_eq!(code, Some(1), "{t}");
    assert!(!t.contains("\nended: "), "{t}");
    assert_eq!(t.contains("! the journal is cut off after its last whole record"), torn, "{t}");
    assert_eq!(t.contains("! the journal ends without the session's end"), !torn, "{t}");
    assert!(t.contains("stubborn    still stopping when the journal ends (stop requested at +"), "{t}");
    assert!(t.contains("chatty      still running when the journal ends"), "{t}");
    let (r, _) = json(&path);
    assert_eq!(r["ended"], Value::Null);
    assert_eq!(r["torn"], torn);
    assert_eq!(r["events"], events.len());
    assert_eq!(stages(node(&r, "stubborn")), ["SIGTERM"]);
    assert_eq!(replays_to_the_end(&path, events.len()), torn);

    // The same journal with its last whole line cut in half, as a crash mid-write leaves it.
    let bytes = std::fs::read(&path).unwrap();
    let whole = &bytes[..=bytes.iter().rposition(|b| *b == b'\n').unwrap()];
    let last_start = whole[..whole.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let cut_at = last_start + (whole.len() - last_start) / 2;
    let cut = gw.path("cut.jsonl");
    std::fs::write(&cut, &whole[..cut_at]).unwrap();
    let whole_lines = whole.iter().filter(|b| **b == b'\n').count();
    let (cut_events, cut_summary) = gracewatch::journal::read_all(&cut).unwrap();
    assert_eq!(cut_events.len(), whole_lines - 1);
    assert_eq!(cut_summary.torn_tail, Some((cut_at - last_start) as u64));
    assert_eq!(&cut_events[..], &events[..whole_lines - 1]);
    let (t, code) = text(&cut);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("! the journal is cut off after its last whole record: the supervisor did not end cleanly"),
        "{t}"
    );
    assert!(t.contains("stubborn    still stopping when the journal ends"), "{t}");
    let (r, _) = json(&cut);
    assert_eq!(r["torn"], true);
    assert_eq!(r["events"], whole_lines - 1);
    assert!(replays_to_the_end(&cut, whole_lines - 1));
}
