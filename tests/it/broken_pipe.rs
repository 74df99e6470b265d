#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A reader that closes gracewatch's standard output early (`| head -1`, `| true`) ends the
//! command quietly with exit status 0: no panic, no "failed printing to stdout", for every
//! command that prints. Real pipes, the real binary.

use crate::common;

use common::Gw;
use gracewatch::event::{Event, EventKind, ExitCause, Header, Signal};
use gracewatch::manifest::NodeSpec;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The pipe's capacity: its smallest (one page), so that a modest output already fills it.
const PIPE: usize = 4096;
/// What the reader takes from the pipe at a time.
const CHUNK: usize = 1024;
/// Outputs at least this long are still being written when the reader goes (it can have taken
/// at most `PIPE + CHUNK` bytes of it: twice that is a margin).
const BIG: usize = 2 * (PIPE + CHUNK);

/// Runs `cmd` with standard output to a one-page pipe; reads one line of it, closes the pipe,
/// and waits. Returns the line and how the command ended (its standard error in `stderr`).
fn first_line_then_close(mut cmd: Command) -> (String, Output) {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    rustix::pipe::fcntl_setpipe_size(&write, PIPE).expect("F_SETPIPE_SZ");
    let child = cmd.stdout(Stdio::from(write)).stderr(Stdio::piped()).spawn().expect("spawn gracewatch");
    drop(cmd); // its copy of the write end: only gracewatch holds it now
    let mut line = String::new();
    {
        let mut out = BufReader::with_capacity(CHUNK, std::fs::File::from(read));
        out.read_line(&mut line).expect("read a line");
    } // the read end is closed here; gracewatch still has most of its output to write
    (line, child.wait_with_output().expect("wait"))
}

/// Runs `cmd` with standard output to a pipe whose read end is closed before gracewatch writes
/// anything (`| true`).
fn closed_at_once(mut cmd: Command) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn gracewatch");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

/// Exit status 0 and nothing on standard error about the closed pipe (nor a panic).
fn ended_quietly(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {:?}, stderr:\n{err}", out.status);
    for bad in ["panic", "failed printing", "Broken pipe", "os error 32"] {
        assert!(!err.contains(bad), "{what} said {bad:?}:\n{err}");
    }
}

/// How much a command prints when nobody closes anything.
fn full_output_len(mut cmd: Command) -> usize {
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).output().expect("run gracewatch");
    out.stdout.len()
}

/// A journal of 200 nodes, each stopped and killed at its deadline with tokens pending: its
/// report, in text or JSON, is far larger than a pipe's buffer.
fn big_journal(dir: &Path) -> std::path::PathBuf {
    let names: Vec<String> = (0..200).map(|i| format!("node-with-a-long-name-{i:04}")).collect();
    let specs = names.iter().map(|n| NodeSpec::with_defaults(n, vec!["sleep".into(), "1000".into()])).collect();
    let mut lines = Vec::new();
    let mut seq = 0u64;
    let mut push = |ev: EventKind, lines: &mut Vec<String>| {
        lines.push(serde_json::to_string(&Event { seq, t: seq * 1_000_000, ev }).unwrap());
        seq += 1;
    };
    push(EventKind::SessionStarted(Box::new(Header::synthetic("big", specs))), &mut lines);
    for (i, n) in names.iter().enumerate() {
        let pid = 10_000 + i as u32;
        push(
            EventKind::NodeSpawned { node: n.clone(), pid, pgid: pid, argv: vec!["sleep".into(), "1000".into()] },
            &mut lines,
        );
    }
    for (i, n) in names.iter().enumerate() {
        let pid = 10_000 + i as u32;
        let ev = EventKind::NodeExited {
            node: n.clone(),
            pid,
            code: None,
            signal: Some(Signal::KILL),
            cause: ExitCause::Crashed,
            pending_tokens: vec![],
        };
        push(ev, &mut lines);
    }
    push(EventKind::SessionEnded { reason: "every node exited".into() }, &mut lines);
    let path = dir.join("big.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn report_exits_0_when_its_reader_stops_after_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let journal = big_journal(dir.path());
    let report = |json: bool| {
        let mut c = Command::new(common::BIN);
        c.arg("report").arg(&journal);
        if json {
            c.arg("--json");
        }
        c
    };
    for json in [true, false] {
        let what = if json { "report --json | head -1" } else { "report | head -1" };
        let len = full_output_len(report(json));
        assert!(len > BIG, "{what}: the report is only {len} bytes, no test of a closed pipe");
        let (line, out) = first_line_then_close(report(json));
        assert!(!line.is_empty(), "{what}: no first line");
        ended_quietly(&out, what);
        ended_quietly(&closed_at_once(report(json)), &format!("{what} (closed at once)"));
    }
}

#[test]
fn ps_and_stop_exit_0_when_their_reader_is_gone() {
    // Enough nodes that `ps` and `ps --json` are larger than the pipe holds.
    let mut manifest = String::from("name = \"pipes\"\n");
    for i in 0..100 {
        let _ =
            write!(manifest, "[nodes.sleeper-with-a-long-name-{i:03}]\ncmd = [\"sleep\", \"1000\"]\ngrace = \"5s\"\n");
    }
    let gw = Gw::up(&manifest);
    let ps = |json: bool| {
        let mut args = vec!["ps", "--session", "pipes"];
        if json {
            args.push("--json");
        }
        gw.command(&args)
    };
    for json in [true, false] {
        let len = full_output_len(ps(json));
        assert!(len > BIG, "ps (json: {json}) is only {len} bytes, no test of a closed pipe");
    }
    let (line, out) = first_line_then_close(ps(true));
    assert_eq!(line.trim(), "{");
    ended_quietly(&out, "ps --json | head -1");
    ended_quietly(&closed_at_once(ps(true)), "ps --json | true");
    let (line, out) = first_line_then_close(ps(false));
    assert!(line.starts_with("session pipes"), "{line}");
    ended_quietly(&out, "ps | head -1");
    ended_quietly(&closed_at_once(ps(false)), "ps | true");
    // `stop` prints its plan: the stop is accepted, and the command ends quietly.
    let out = closed_at_once(gw.command(&["stop", "--session", "pipes", "sleeper-with-a-long-name-000"]));
    ended_quietly(&out, "stop NODE | true");
    gw.wait_for(
        |gw| gw.node("sleeper-with-a-long-name-000")["state"] == "exited",
        "the stop to go on without its reader",
    );
}

/// `gracewatch ARGS`, for commands that need no session.
fn gracewatch(args: &[&str]) -> Command {
    let mut c = Command::new(common::BIN);
    c.args(args);
    c
}

#[test]
fn python_client_exits_0_when_its_reader_is_gone() {
    assert!(full_output_len(gracewatch(&["python-client"])) > BIG);
    ended_quietly(&closed_at_once(gracewatch(&["python-client"])), "python-client | true");
    let (line, out) = first_line_then_close(gracewatch(&["python-client"]));
    assert!(!line.is_empty());
    ended_quietly(&out, "python-client | head -1");
}

/// Not about pipes: the plain run of a report still reads the whole journal (a sanity check
/// that the generated journal is one).
#[test]
fn the_generated_journal_reports_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let journal = big_journal(dir.path());
    let mut out = Command::new(common::BIN)
        .arg("report")
        .arg("--json")
        .arg(&journal)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut text = String::new();
    out.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    out.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(200));
}
