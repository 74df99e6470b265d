//! Every hazard, with real processes: for each of the eleven lints, one process that raises it and
//! one clean process that does not. "Raised" is read from `ps --json` while it is live and from
//! the folded journal's hazard feed afterwards; "clean" is asserted only once the state the
//! lint looks at has been sampled (and, where the hazard is about a stop, after the stop).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use gracewatch::event::{ClaimOutcome, EventKind, ExitCause, Signal, StageAction};
use gracewatch::hazards::HazardId;
use gracewatch::state::{Fold, State};
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A TOML `cmd`: the argument vector, as is.
fn argv(args: &[&str]) -> String {
    format!("[{}]", args.iter().map(|a| toml_str(a)).collect::<Vec<_>>().join(", "))
}

/// A TOML `cmd` running `code` with the real Python interpreter (not a shim that goes through
/// a shell first: the shell's own dispositions would be sampled too), with `args` after it.
fn py(code: &str, args: &[&str]) -> String {
    let python = real_python();
    let mut all = vec![python.as_str(), "-c", code];
    all.extend_from_slice(args);
    argv(&all)
}

/// A `[nodes.NAME]` table: its `cmd` (TOML), then `keys` (one `key = value` each); the grace
/// is 5 s unless `keys` set one: time enough for a clean node to exit with its own status on
/// a loaded machine. A node meant to be killed at its deadline sets [`SHORT_GRACE`].
fn node(name: &str, cmd: &str, keys: &[&str]) -> String {
    let grace = if keys.iter().any(|k| k.starts_with("grace")) { "" } else { "grace = \"5s\"\n" };
    format!("[nodes.{name}]\ncmd = {cmd}\n{grace}{}\n", keys.join("\n"))
}

/// For a node that only SIGKILL stops: its stop ends at this deadline.
const SHORT_GRACE: &[&str] = &["grace = \"1s\""];

/// A node that keeps a headless session alive (it ends once every node has exited) while a
/// test stops another node and then reads `ps --json`.
fn keeper() -> String {
    node("keeper", "\"sleep 1000\"", &[])
}

/// `gracewatch up --headless` of a session with these nodes.
fn up(session: &str, nodes: &[String]) -> Gw {
    Gw::up(&format!("name = \"{session}\"\n{}", nodes.concat()))
}

/// The hazard ids `ps --json` shows for a node.
fn ps_hazards(node: &serde_json::Value) -> BTreeSet<String> {
    node["hazards"].as_array().into_iter().flatten().filter_map(|h| h.as_str().map(str::to_string)).collect()
}

fn ps_has(gw: &Gw, node: &str, id: HazardId) -> bool {
    ps_hazards(&gw.node(node)).contains(id.as_str())
}

/// The journal so far, folded.
fn folded(gw: &Gw) -> State {
    let mut state = Fold::new(gracewatch::hazards::lints());
    for e in gw.journal() {
        state.apply(&e);
    }
    state.into_state()
}

/// The hazards raised for `node` over the whole session (the feed keeps every raise).
fn raised(state: &State, node: &str) -> BTreeSet<HazardId> {
    state.hazard_feed.iter().filter(|h| h.node == node).map(|h| h.id).collect()
}

/// The sentence of the first raise of `id` for `node`.
fn sentence(state: &State, node: &str, id: HazardId) -> String {
    match state.hazard_feed.iter().find(|h| h.node == node && h.id == id) {
        Some(h) => h.sentence.clone(),
        None => panic!("{node} never raised {id}"),
    }
}

/// The lines `node` printed so far.
fn lines(gw: &Gw, node: &str) -> Vec<String> {
    gw.journal()
        .into_iter()
        .filter_map(|e| match e.ev {
            EventKind::Output { node: n, line, .. } if n == node => Some(line),
            _ => None,
        })
        .collect()
}

/// When the first sample of `node`'s main process that satisfies `pred` was journaled.
fn first_sample_where(gw: &Gw, node: &str, pred: impl Fn(&gracewatch::event::ProcSample) -> bool) -> Option<u64> {
    let mut leader = None;
    gw.journal().iter().find_map(|e| match &e.ev {
        EventKind::NodeSpawned { node: n, pid, .. } if n == node => {
            leader = Some(*pid);
            None
        }
        EventKind::ProcSampled { node: n, sample } if n == node && Some(sample.pid) == leader && pred(sample) => {
            Some(e.t)
        }
        _ => None,
    })
}

/// Did `node` print `line` (a whole line)?
fn said(gw: &Gw, node: &str, line: &str) -> bool {
    lines(gw, node).iter().any(|l| l == line)
}

fn any_event(gw: &Gw, pred: impl Fn(&EventKind) -> bool) -> bool {
    gw.journal().iter().any(|e| pred(&e.ev))
}

fn handler(gw: &Gw, node: &str, sig: &str) -> serde_json::Value {
    gw.node(node)["handlers"][sig].clone()
}

/// `gracewatch stop ARGS --wait`: how it ended.
fn stop_run(gw: &Gw, args: &[&str]) -> std::process::Output {
    let mut all = vec!["stop"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--wait", "--session", &gw.session]);
    gw.run(&all)
}

/// `gracewatch stop ARGS --wait`: its standard output.
fn stop(gw: &Gw, args: &[&str]) -> String {
    String::from_utf8_lossy(&stop_run(gw, args).stdout).into_owned()
}

/// Stops every node, waits for gracewatch to end, and folds the complete journal.
fn stop_all_and_fold(gw: &mut Gw) -> (String, State) {
    let stopped = stop_run(gw, &["--all"]);
    let text = String::from_utf8_lossy(&stopped.stdout).into_owned();
    let exit = gw.wait_exit();
    let state = folded(gw);
    assert!(
        state.ended.is_some(),
        "the session ended and its journal is complete\n--- stop --all --wait: {} ---\n{text}\n{}\n{}",
        stopped.status,
        String::from_utf8_lossy(&stopped.stderr),
        gw.post_mortem(Some(&exit))
    );
    (text, state)
}

/// Waits until the `FROM_MAIN` node's claim is reported and its SIGTERM sampled caught.
fn wait_main_claimed(gw: &Gw) {
    gw.wait_for(
        |gw| {
            handler(gw, "main", "SIGTERM") == "caught"
                && claim_reported(gw, "main", "main-lib", ClaimOutcome::Installed)
        },
        "the installed claim and SIGTERM caught",
    );
}

/// The end of a clean-process test: `id` is not in `ps --json` for `node`, a stop of everything
/// stops it with status 0, and the complete journal never raised `id` for it.
fn stops_cleanly_without(gw: &mut Gw, node: &str, id: HazardId) -> State {
    assert!(!ps_has(gw, node, id), "{}", gw.node(node));
    let (text, state) = stop_all_and_fold(gw);
    assert!(text.contains(&format!("{node}: stopped (status 0)")), "{text}");
    assert!(!raised(&state, node).contains(&id), "{:?}", raised(&state, node));
    state
}

/// Waits until `ps --json` shows `node` catching both SIGTERM and SIGINT.
fn wait_term_and_int_caught(gw: &Gw, node: &str) {
    gw.wait_for(
        |gw| handler(gw, node, "SIGTERM") == "caught" && handler(gw, node, "SIGINT") == "caught",
        "SIGTERM and SIGINT caught in ps --json",
    );
}

/// A Python script with the interpreter's own SIGINT handler and SIGTERM at its default.
const PLAIN_PY: &str = "import time\nprint('ready', flush=True)\nwhile True: time.sleep(1)";

/// Waits for `node` to show SIGINT caught, SIGTERM at its default and `stop-signal-default`,
/// stops everything and checks that SIGTERM killed it on the spot; returns the folded journal.
fn dies_of_stop_signal_default(gw: &mut Gw, node: &str) -> State {
    gw.wait_for(
        |gw| {
            handler(gw, node, "SIGINT") == "caught"
                && handler(gw, node, "SIGTERM") == "default"
                && ps_has(gw, node, HazardId::StopSignalDefault)
        },
        "SIGINT caught, SIGTERM default and stop-signal-default in ps --json",
    );
    let (text, state) = stop_all_and_fold(gw);
    assert!(text.contains(&format!("{node}: stopped (SIGTERM)")), "died on the spot:\n{text}");
    assert!(raised(&state, node).contains(&HazardId::StopSignalDefault));
    state
}

/// Creates the file a node waits for before its next move.
fn trigger(gw: &Gw, name: &str) {
    std::fs::write(gw.path(name), b"go").expect("trigger file");
}

/// A `sleep` duration no other test uses (`1000.<pid><n>` seconds), to find that process.
fn unique_sleep() -> String {
    format!("1000.{}", unique(""))
}

// ---------------------------------------------------------------------------------------------
// sigterm-ignored

#[test]
fn sigterm_ignored_is_raised_by_a_process_that_ignores_sigterm() {
    let mut gw = up("ign", &[node("deaf", &py(py::IGNORES_TERM, &[]), SHORT_GRACE)]);
    gw.wait_for(
        |gw| handler(gw, "deaf", "SIGTERM") == "ignored" && ps_has(gw, "deaf", HazardId::SigtermIgnored),
        "SIGTERM ignored and sigterm-ignored in ps --json",
    );
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("deaf: killed-at-deadline"), "only SIGKILL stopped it:\n{text}");
    assert!(raised(&state, "deaf").contains(&HazardId::SigtermIgnored));
    let s = sentence(&state, "deaf", HazardId::SigtermIgnored);
    assert!(s.contains("ignores SIGTERM"), "{s}");
}

#[test]
fn sigterm_ignored_is_not_raised_by_a_clean_process() {
    let mut gw = up("ign", &[node("polite", &py(py::HANDLES_TERM, &[]), &[])]);
    gw.wait_for(|gw| handler(gw, "polite", "SIGTERM") == "caught", "SIGTERM caught in ps --json");
    stops_cleanly_without(&mut gw, "polite", HazardId::SigtermIgnored);
}

// ---------------------------------------------------------------------------------------------
// stop-signal-default

#[test]
fn stop_signal_default_is_raised_by_a_process_that_catches_sigint_but_not_sigterm() {
    // A plain Python script: the interpreter catches SIGINT (KeyboardInterrupt), SIGTERM stays
    // at its default, and nothing listens for the stop message.
    let mut gw = up("dfl", &[node("plain", &py(PLAIN_PY, &[]), &[])]);
    let state = dies_of_stop_signal_default(&mut gw, "plain");
    let s = sentence(&state, "plain", HazardId::StopSignalDefault);
    assert!(s.contains("catches SIGINT"), "{s}");
}

#[test]
fn stop_signal_default_is_not_raised_by_a_clean_process() {
    let mut gw = up("dfl", &[node("polite", &py(py::HANDLES_TERM, &[]), &[])]);
    wait_term_and_int_caught(&gw, "polite");
    assert!(!ps_has(&gw, "polite", HazardId::StopSignalDefault));
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("polite: stopped (status 0)"), "{text}");
    // From the first sample that shows its handler on, through the stop. (Not before: on a
    // loaded machine the probe can confirm the moment of the interpreter's start-up where
    // SIGINT is caught and the script has not set its SIGTERM handler yet, from two reads a
    // fraction of a millisecond apart; see the report of tests/hazards.rs.)
    let since = first_sample_where(&gw, "polite", |s| s.caught.contains(Signal::TERM)).expect("a sample");
    let late: Vec<_> = state.hazard_feed.iter().filter(|h| h.node == "polite" && h.t >= since).collect();
    assert!(!late.iter().any(|h| h.id == HazardId::StopSignalDefault), "{late:?}");
}

#[test]
fn stop_signal_default_is_not_raised_by_a_process_whose_start_up_is_long() {
    // An import that computes for 3 s (as a starved or heavy one does) before the script sets
    // its SIGTERM handler: the interpreter's SIGINT handler alone is on show past the 2 s a
    // start-up normally gets, but the process is still running, so it is not judged yet.
    let code = "import signal,sys,time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nprint('ready', flush=True)\nwhile True: time.sleep(1)";
    let mut gw = up("dfl", &[node("slow", &py(code, &[]), &[])]);
    // Meanwhile `ps --json` shows what was read, as settling: nothing sampled (null, not 0 or
    // {}), the dispositions so far under `settling_handlers`, and no hazard.
    gw.wait_for(
        |gw| {
            let n = gw.node("slow");
            n["settling_handlers"]["SIGINT"] == "caught" && n["settling_handlers"]["SIGTERM"] == "default"
        },
        "the start-up's dispositions shown as settling",
    );
    let n = gw.node("slow");
    if n["handlers"].is_null() {
        assert!(n["threads"].is_null() && n["blocked"].is_null() && n["children"].is_null(), "{n}");
        assert!(ps_hazards(&n).is_empty(), "{n}");
    } // else the start-up ended between the two looks (a loaded machine): the journal says the rest
    wait_term_and_int_caught(&gw, "slow");
    assert!(gw.node("slow")["settling_handlers"].is_null());
    let state = stops_cleanly_without(&mut gw, "slow", HazardId::StopSignalDefault);
    assert!(state.hazard_feed.iter().all(|h| h.node != "slow"), "{:?}", state.hazard_feed);
    // The journal keeps the settling reads: SIGTERM still at its default there.
    let settling_default = gw.journal().iter().any(|e| {
        matches!(&e.ev, EventKind::ProcSettling { node, sample }
            if node == "slow" && sample.caught.contains(Signal::INT) && !sample.caught.contains(Signal::TERM))
    });
    assert!(settling_default, "no settling read with SIGTERM at its default");
}

#[test]
fn stop_signal_default_is_raised_by_a_shell_s_command_that_catches_sigint_but_not_sigterm() {
    // `sh -c 'python3 -c CODE; echo done'`: the shell waits for Python, and the group's SIGTERM
    // reaches Python, which catches SIGINT and will die without its cleanup.
    let python = real_python();
    let cmd = argv(&["sh", "-c", "\"$0\" -c \"$1\"; echo done", &python, PLAIN_PY]);
    let mut gw = up("dfl", &[node("wrapped", &cmd, &[])]);
    gw.wait_for(|gw| ps_has(gw, "wrapped", HazardId::StopSignalDefault), "stop-signal-default in ps --json");
    // `ps --json` carries the sentence too.
    let said = gw.node("wrapped")["hazard_sentences"]["stop-signal-default"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("its command python") && said.contains("run by sh"), "{said}");
    let (_, state) = stop_all_and_fold(&mut gw);
    let s = sentence(&state, "wrapped", HazardId::StopSignalDefault);
    assert!(s.contains("its command python") && s.contains("run by sh") && s.contains("catches SIGINT"), "{s}");
}

#[test]
fn stop_signal_default_is_not_raised_by_a_shell_waiting_for_a_clean_command() {
    // `sh -c 'sleep N; true'`: the shell catches SIGINT (to hand Ctrl-C on to its command) and
    // not SIGTERM, but its sleep gets the group's SIGTERM too and has nothing to clean up.
    let tag = unique_sleep();
    let cmd = argv(&["sh", "-c", &format!("sleep {tag}; true")]);
    let mut gw = up("dfl", &[node("wrapper", &cmd, &[])]);
    gw.wait_for(
        |gw| {
            let state = folded(gw);
            let Some(n) = state.node("wrapper") else { return false };
            let shell_sampled = n.leader().is_some_and(|l| l.caught.contains(Signal::INT) && l.children.len() == 1);
            let command_sampled = n.procs.values().any(|p| p.name == "sleep");
            shell_sampled && command_sampled
        },
        "the shell (catching SIGINT) and its sleep to be sampled",
    );
    assert!(!ps_has(&gw, "wrapper", HazardId::StopSignalDefault), "{}", gw.node("wrapper"));
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("wrapper: stopped"), "{text}");
    assert!(!raised(&state, "wrapper").contains(&HazardId::StopSignalDefault), "{:?}", state.hazard_feed);
}

/// `sh -c 'sleep 2.5; exec PYTHON -c CODE'`: the interpreter starts 2.5 s into the process's
/// life, when a start-up counted from the process start would be over already.
fn late_exec_py(code: &str) -> String {
    let python = real_python();
    argv(&["sh", "-c", "sleep 2.5; exec \"$0\" -c \"$1\"", &python, code])
}

#[test]
fn stop_signal_default_is_not_raised_by_an_interpreter_exec_d_late_that_waits_before_its_handler() {
    // Python waits a second (a connection, a lock) before the script sets its SIGTERM handler,
    // as a freshly started one may; it was exec'd by a shell that had run for 2.5 s. Its
    // start-up counts from the exec: judged from the process start, the SIGINT-only moment
    // would be taken for how it stays.
    let code = "import signal,sys,time\ntime.sleep(1)\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nprint('ready', flush=True)\nwhile True: time.sleep(1)";
    let mut gw = up("dfl", &[node("late", &late_exec_py(code), &[])]);
    gw.wait_for(|gw| said(gw, "late", "ready"), "the exec'd interpreter to be ready");
    wait_term_and_int_caught(&gw, "late");
    stops_cleanly_without(&mut gw, "late", HazardId::StopSignalDefault);
}

#[test]
fn stop_signal_default_is_raised_by_an_interpreter_exec_d_late_that_never_sets_a_handler() {
    // The same late exec, and the script never handles SIGTERM: the exec restarts the clock,
    // it does not hide the hazard.
    let mut gw = up("dfl", &[node("late", &late_exec_py(PLAIN_PY), &[])]);
    dies_of_stop_signal_default(&mut gw, "late");
}

// ---------------------------------------------------------------------------------------------
// stop-signal-blocked

/// When the first sample of `node`'s main process showing SIGTERM blocked on every thread was
/// journaled.
fn first_blocked_everywhere(gw: &Gw, node: &str) -> Option<u64> {
    first_sample_where(gw, node, |s| s.blocked_everywhere().contains(Signal::TERM))
}

/// The hazard notice of the first raise of `id` for `node`.
fn notice(state: &State, node: &str, id: HazardId) -> gracewatch::state::HazardNotice {
    match state.hazard_feed.iter().find(|h| h.node == node && h.id == id) {
        Some(h) => h.clone(),
        None => panic!("{node} never raised {id}"),
    }
}

#[test]
fn stop_signal_blocked_is_raised_by_a_process_that_blocks_sigterm_on_every_thread() {
    // Blocked in the main thread before any other thread starts: the threads inherit the mask.
    // Its SIGTERM handler would exit at once, but the signal stays pending.
    let code = r"
import signal, sys, threading, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
for _ in range(2):
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
print('ready', flush=True)
while True: time.sleep(1)
";
    let mut gw = up("blk", &[node("masked", &py(code, &[]), SHORT_GRACE)]);
    gw.wait_for(
        |gw| {
            let n = gw.node("masked");
            n["threads"] == 3
                && n["blocked"].as_array().is_some_and(|b| b.iter().any(|s| s == "SIGTERM"))
                && ps_hazards(&n).contains(HazardId::StopSignalBlocked.as_str())
        },
        "SIGTERM blocked on all 3 threads and stop-signal-blocked in ps --json",
    );
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("masked: killed-at-deadline"), "the handler never ran:\n{text}");
    let raise = notice(&state, "masked", HazardId::StopSignalBlocked);
    assert!(
        raise.sentence.contains("blocks SIGTERM (its stop signal) on all 3 of its threads, in every read for at least"),
        "{}",
        raise.sentence
    );
    // Judged on persistence: not at the first sample that showed the block, but once it had
    // been seen read after read for two seconds.
    let first = first_blocked_everywhere(&gw, "masked").expect("a sample with SIGTERM blocked everywhere");
    assert!(raise.t >= first + 2_000_000_000, "raised at {} though first seen blocked at {first}", raise.t);
}

#[test]
fn stop_signal_blocked_is_raised_during_a_stop_on_the_pending_signal() {
    // Clean at rest; on the go-file it blocks SIGTERM (single-threaded: on every thread) and
    // says so, and the test stops it at once: too soon for the block to count as lasting, so
    // what raises the hazard is the stop's evidence: SIGTERM sent, and still pending.
    let code = r"
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print('ready', flush=True)
while not os.path.exists('go'):
    time.sleep(0.02)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
print('blocked', flush=True)
while True: time.sleep(1)
";
    let gw = up("held", &[node("late", &py(code, &[]), &["grace = \"2s\""]), keeper()]);
    gw.wait_for(|gw| handler(gw, "late", "SIGTERM") == "caught", "SIGTERM caught in ps --json");
    trigger(&gw, "go");
    gw.wait_for(|gw| said(gw, "late", "blocked"), "the node blocking SIGTERM");
    let text = stop(&gw, &["late"]);
    assert!(text.contains("late: killed-at-deadline"), "SIGTERM stayed pending:\n{text}");
    let state = folded(&gw);
    let raise = notice(&state, "late", HazardId::StopSignalBlocked);
    let sent = state.node("late").and_then(|n| n.stop.as_ref()).map(|s| s.requested_at).unwrap();
    assert!(raise.t > sent, "raised during the stop, not before it: {raise:?}");
    assert!(
        raise.sentence.starts_with("SIGTERM was sent ")
            && raise
                .sentence
                .ends_with(" ago and is still pending: every thread blocks it; the stop will end in SIGKILL"),
        "{}",
        raise.sentence
    );
}

/// A single-threaded Python that, under CPU load (it burns its core between its blocks), blocks
/// SIGTERM for 50 ms every `argv[1]` ms: the mask a server shows around a connection hand-off.
const BRIEF_BLOCKS: &str = r"
import signal, sys, time
period = int(sys.argv[1]) / 1000
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print('ready', flush=True)
blocks = 0
while True:
    start = time.monotonic()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    time.sleep(0.05)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    blocks += 1
    if blocks % 20 == 0:
        print('blocked', blocks, 'times', flush=True)
    while time.monotonic() < start + period:
        pass
";

#[test]
fn stop_signal_blocked_is_not_raised_by_a_mask_that_blocks_for_a_moment_again_and_again() {
    // Every 300 ms; and every 250 ms, in step with the probe's own fast interval (a 50 ms
    // critical section on a 250 ms timer): reads at even intervals would find it blocked read
    // after read. A third process burns a core (the machine is loaded, as real servers' are)
    // and ignores SIGTERM: its stop, under way for 20 s, has the probe read every process in
    // full at its fast interval, as when a cockpit is attached.
    let burn = py(
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: pass",
        &[],
    );
    let gw = up(
        "brief",
        &[
            node("handoff", &py(BRIEF_BLOCKS, &["300"]), &[]),
            node("aligned", &py(BRIEF_BLOCKS, &["250"]), &[]),
            node("burner", &burn, &["grace = \"20s\""]),
        ],
    );
    for n in ["handoff", "aligned"] {
        gw.wait_for(|gw| handler(gw, n, "SIGTERM") == "caught", "SIGTERM caught in ps --json");
    }
    let out = gw.run(&["stop", "burner", "--session", &gw.session]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Some forty blocks each, read closely: never flagged.
    let blocks = |gw: &Gw, n: &str| lines(gw, n).iter().filter(|l| l.starts_with("blocked ")).count();
    gw.wait_for(|gw| blocks(gw, "handoff") >= 2 && blocks(gw, "aligned") >= 2, "forty blocks each");
    for n in ["handoff", "aligned"] {
        assert!(!ps_has(&gw, n, HazardId::StopSignalBlocked), "{}", gw.node(n));
    }
    // Their stops end cleanly (the handler runs as soon as the mask opens), without the hazard.
    let text = stop(&gw, &["handoff", "aligned"]);
    assert!(text.contains("handoff: stopped (status 0)") && text.contains("aligned: stopped (status 0)"), "{text}");
    let state = folded(&gw);
    for n in ["handoff", "aligned"] {
        assert!(!raised(&state, n).contains(&HazardId::StopSignalBlocked), "{:?}", state.hazard_feed);
    }
}

/// A program that takes SIGTERM from a signalfd (as many C daemons do): blocked on every thread
/// by design, read from the descriptor, then a clean exit.
const SIGNALFD_SERVER: &str = r"
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
mask = ctypes.create_string_buffer(128)
mask[1] = b'\x40'  # SIGTERM (15): bit 14 of the kernel's sigset
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
fd = libc.signalfd(-1, mask, 0)
assert fd >= 0, ctypes.get_errno()
print('ready', flush=True)
info = os.read(fd, 128)
print('took signal', int.from_bytes(info[:4], 'little'), flush=True)
sys.exit(0)
";

#[test]
fn stop_signal_blocked_is_not_raised_by_a_program_that_reads_it_from_a_signalfd() {
    // Beside it, a process that blocks SIGTERM for good and never takes it: once that one is
    // flagged, the signalfd program has been read as long, and is not.
    let forever = "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\nprint('ready', flush=True)\nwhile True: time.sleep(1)";
    let gw = up("sfd", &[node("sfd", &py(SIGNALFD_SERVER, &[]), &[]), node("forever", &py(forever, &[]), SHORT_GRACE)]);
    gw.wait_for(
        |gw| {
            gw.node("sfd")["blocked"].as_array().is_some_and(|b| b.iter().any(|s| s == "SIGTERM"))
                && ps_has(gw, "forever", HazardId::StopSignalBlocked)
        },
        "SIGTERM blocked in both, and the one that never takes it flagged",
    );
    assert!(!ps_has(&gw, "sfd", HazardId::StopSignalBlocked), "{}", gw.node("sfd"));
    let text = stop(&gw, &["sfd"]);
    assert!(text.contains("sfd: stopped (status 0)"), "{text}");
    assert!(said(&gw, "sfd", "took signal 15"));
    let state = folded(&gw);
    assert!(!raised(&state, "sfd").contains(&HazardId::StopSignalBlocked), "{:?}", state.hazard_feed);
}

// ---------------------------------------------------------------------------------------------
// handler-install-failed

/// A library that installs its SIGTERM handler from its own loader thread, through the client.
const FROM_WORKER: &str = r"
import signal, sys, threading, time
import gracewatch_node as gw
t = threading.Thread(target=lambda: gw.install_handler(signal.SIGTERM, lambda *a: sys.exit(0), owner='worker-lib'),
                     name='lib-loader')
t.start()
t.join()
print('ready', flush=True)
while True: time.sleep(1)
";

/// The same library, installing from the main thread.
const FROM_MAIN: &str = r"
import signal, sys, time
import gracewatch_node as gw
gw.install_handler(signal.SIGTERM, lambda *a: sys.exit(0), owner='main-lib')
print('ready', flush=True)
while True: time.sleep(1)
";

fn claim_reported(gw: &Gw, node: &str, owner: &str, outcome: ClaimOutcome) -> bool {
    any_event(gw, |e| match e {
        EventKind::HandlerClaimed { node: n, claim } => n == node && claim.owner == owner && claim.outcome == outcome,
        _ => false,
    })
}

#[test]
fn handler_install_failed_is_raised_by_a_process_whose_handler_install_fails() {
    // From a worker thread (Python refuses: ValueError), and on the main thread for a signal
    // that cannot be caught at all (OSError).
    let uncatchable = r"
import signal, time
import gracewatch_node as gw
gw.install_handler(signal.SIGKILL, lambda *a: None, owner='overreach')
print('ready', flush=True)
while True: time.sleep(1)
";
    let mut gw =
        up("fail", &[node("worker", &py(FROM_WORKER, &[]), &[]), node("uncatchable", &py(uncatchable, &[]), &[])]);
    gw.wait_for(
        |gw| {
            ps_has(gw, "worker", HazardId::HandlerInstallFailed)
                && ps_has(gw, "uncatchable", HazardId::HandlerInstallFailed)
        },
        "handler-install-failed on both nodes in ps --json",
    );
    // A failure on the main thread is not an off-main-thread claim.
    assert!(!ps_has(&gw, "uncatchable", HazardId::HandlerOffMainThread));
    let (_, state) = stop_all_and_fold(&mut gw);
    for node in ["worker", "uncatchable"] {
        assert!(raised(&state, node).contains(&HazardId::HandlerInstallFailed), "{node}");
    }
    let s = sentence(&state, "worker", HazardId::HandlerInstallFailed);
    assert!(
        s.contains("worker-lib failed to install its SIGTERM handler from thread 'lib-loader'")
            && s.contains("ValueError: signal only works in main thread"),
        "{s}"
    );
    let s = sentence(&state, "uncatchable", HazardId::HandlerInstallFailed);
    assert!(s.contains("overreach failed to install its SIGKILL handler") && s.contains("OSError"), "{s}");
}

#[test]
fn handler_install_failed_is_not_raised_by_a_clean_process() {
    let mut gw = up("fail", &[node("main", &py(FROM_MAIN, &[]), &[])]);
    wait_main_claimed(&gw);
    stops_cleanly_without(&mut gw, "main", HazardId::HandlerInstallFailed);
}

// ---------------------------------------------------------------------------------------------
// handler-off-main-thread

#[test]
fn handler_off_main_thread_is_raised_by_a_process_that_claims_a_handler_from_a_worker_thread() {
    let mut gw = up("off", &[node("worker", &py(FROM_WORKER, &[]), &[])]);
    gw.wait_for(|gw| ps_has(gw, "worker", HazardId::HandlerOffMainThread), "handler-off-main-thread in ps --json");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(raised(&state, "worker").contains(&HazardId::HandlerOffMainThread));
    let s = sentence(&state, "worker", HazardId::HandlerOffMainThread);
    assert!(s.contains("worker-lib claimed SIGTERM from thread 'lib-loader', not the main thread"), "{s}");
}

#[test]
fn handler_off_main_thread_is_not_raised_by_a_clean_process() {
    let mut gw = up("off", &[node("main", &py(FROM_MAIN, &[]), &[])]);
    wait_main_claimed(&gw);
    stops_cleanly_without(&mut gw, "main", HazardId::HandlerOffMainThread);
}

// ---------------------------------------------------------------------------------------------
// handler-lost

/// Claims a SIGTERM handler through the client, waits for the file named by argv[1], then runs
/// `then` (at the main thread's top level). The handler ends the process at once: the
/// interpreter's own shutdown resets every handler before the process is gone, which gracewatch
/// takes for a lost handler (see
/// `handler_lost_is_not_raised_by_a_python_process_whose_shutdown_takes_a_moment`).
fn claim_then(then: &str) -> String {
    format!(
        r"
import os, signal, sys, time
import gracewatch_node as gw
gw.install_handler(signal.SIGTERM, lambda *a: os._exit(0), owner='app')
print('claimed', flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
{then}
print('done', flush=True)
while True: time.sleep(1)
"
    )
}

/// The claim is journaled and the kernel shows SIGTERM caught (confirmed and published).
fn wait_claimed(gw: &Gw, node: &str) {
    gw.wait_for(
        |gw| handler(gw, node, "SIGTERM") == "caught" && claim_reported(gw, node, "app", ClaimOutcome::Installed),
        "the installed claim and SIGTERM caught",
    );
}

#[test]
fn handler_lost_is_raised_by_a_process_that_resets_a_claimed_handler() {
    // Reset behind the client's back: the claim still says "installed".
    let code = claim_then("signal.signal(signal.SIGTERM, signal.SIG_DFL)");
    let mut gw = up("lost", &[node("reset", &py(&code, &["go"]), &[])]);
    wait_claimed(&gw, "reset");
    assert!(!ps_has(&gw, "reset", HazardId::HandlerLost), "not before it is lost");
    trigger(&gw, "go");
    gw.wait_for(
        |gw| handler(gw, "reset", "SIGTERM") == "default" && ps_has(gw, "reset", HazardId::HandlerLost),
        "SIGTERM default again and handler-lost in ps --json",
    );
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("reset: stopped (SIGTERM)"), "died by the default action:\n{text}");
    assert!(raised(&state, "reset").contains(&HazardId::HandlerLost));
    let s = sentence(&state, "reset", HazardId::HandlerLost);
    assert!(s.contains("app installed a SIGTERM handler but the kernel now shows SIGTERM as default"), "{s}");
}

#[test]
fn handler_lost_is_not_raised_by_a_clean_process() {
    // After its claim it changes something else (a SIGHUP handler), so that a sample taken
    // after the claim is published: SIGTERM is still caught in it.
    let code = claim_then("signal.signal(signal.SIGHUP, lambda *a: None)");
    let mut gw = up("lost", &[node("kept", &py(&code, &["go"]), &[])]);
    wait_claimed(&gw, "kept");
    trigger(&gw, "go");
    gw.wait_for(
        |gw| handler(gw, "kept", "SIGHUP") == "caught" && handler(gw, "kept", "SIGTERM") == "caught",
        "a later sample: SIGHUP caught, SIGTERM still caught",
    );
    gw.wait_for(
        |gw| {
            let state = folded(gw);
            state.node("kept").is_some_and(|n| {
                let claimed_at = n.claims.iter().map(|c| c.t).max();
                claimed_at.is_some() && n.leader_sampled_at > claimed_at
            })
        },
        "a sample of the process taken after its claim, in the journal",
    );
    stops_cleanly_without(&mut gw, "kept", HazardId::HandlerLost);
}

#[test]
fn handler_lost_is_not_raised_by_a_python_process_whose_shutdown_takes_a_moment() {
    // A clean node: its SIGTERM handler exits with status 0 through the interpreter's normal
    // shutdown, in which a resource takes a moment to close (a finalizer that runs after
    // Python has put every signal back to its default action).
    let code = r"
import signal, sys, time
import gracewatch_node as gw
class Connection:
    def __del__(self, sleep=time.sleep):
        sleep(1.5)  # closing: runs after the interpreter reset its signal handlers
conn = Connection()
gw.install_handler(signal.SIGTERM, lambda *a: sys.exit(0), owner='app')
print('ready', flush=True)
while True: time.sleep(1)
";
    let mut gw = up("lost", &[node("closing", &py(code, &[]), &["grace = \"5s\""]), keeper()]);
    wait_claimed(&gw, "closing");
    let text = stop(&gw, &["closing"]);
    assert!(text.contains("closing: stopped (status 0)"), "{text}");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(!raised(&state, "closing").contains(&HazardId::HandlerLost), "{:?}", state.hazard_feed);
}

// ---------------------------------------------------------------------------------------------
// fork-without-exec-threaded

#[test]
fn fork_without_exec_threaded_is_raised_by_a_threaded_process_that_forks_without_exec() {
    // A Python process with worker threads (no client library: seen from the OS alone), and
    // the Rust demo node that forks while its tokio runtime runs.
    let code = r"
import os, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
pid = os.fork()
if pid == 0:
    while True: time.sleep(1)  # a copy of a threaded process that never exec'd
print('forked', pid, flush=True)
while True: time.sleep(1)
";
    let mut gw =
        up("fork", &[node("threaded", &py(code, &[]), &[]), node("tokio", "\"{gracewatch} demo-node forker\"", &[])]);
    gw.wait_for(
        |gw| {
            ps_has(gw, "threaded", HazardId::ForkWithoutExecThreaded)
                && ps_has(gw, "tokio", HazardId::ForkWithoutExecThreaded)
        },
        "fork-without-exec-threaded on both nodes in ps --json",
    );
    let (_, state) = stop_all_and_fold(&mut gw);
    let child: u32 = lines(&gw, "threaded")
        .iter()
        .find_map(|l| l.strip_prefix("forked ")?.parse().ok())
        .expect("the python node said which child it forked");
    let forks = &state.node("threaded").expect("threaded").forks;
    let fork = forks.iter().find(|f| f.child_pid == child);
    let fork = fork.unwrap_or_else(|| panic!("fork of {child} recorded: {forks:?}"));
    assert_eq!((fork.execd, fork.threaded), (Some(false), Some(true)), "{fork:?}");
    for node in ["threaded", "tokio"] {
        assert!(raised(&state, node).contains(&HazardId::ForkWithoutExecThreaded), "{node}");
    }
    let s = sentence(&state, "threaded", HazardId::ForkWithoutExecThreaded);
    assert!(s.contains(&format!("forked {child} without exec")), "{s}");
}

/// The start time (clock ticks since boot) of a process or thread, from its `stat` file.
fn start_tick(stat_path: &str) -> u64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_else(|e| panic!("{stat_path}: {e}"));
    let after_name = &stat[stat.rfind(')').expect("stat line") + 2..];
    after_name.split(' ').nth(19).and_then(|w| w.parse().ok()).expect("starttime")
}

#[test]
fn fork_without_exec_threaded_is_raised_as_uncertain_where_sampling_cannot_order_threads_and_fork() {
    // Starts three threads and forks at once, just after a clock tick began: /proc shows the
    // threads and the child starting in the same 10 ms tick. Only the kernel connector orders
    // them for sure; sampling still raises the hazard, and says it is not exact.
    let code = r"
import os, threading, time
tick = 1_000_000_000 // os.sysconf('SC_CLK_TCK')
time.sleep(0.3)
while time.clock_gettime_ns(time.CLOCK_BOOTTIME) % tick > tick // 5:
    pass
workers = [threading.Thread(target=time.sleep, args=(1000,), daemon=True) for _ in range(3)]
for w in workers:
    w.start()
pid = os.fork()
if pid == 0:
    while True: time.sleep(1)
print('forked', pid, *[w.native_id for w in workers], flush=True)
while True: time.sleep(1)
";
    let mut gw = up("fork", &[node("threaded", &py(code, &[]), &[])]);
    let mode = probe_mode(&gw);
    gw.wait_for(|gw| ps_has(gw, "threaded", HazardId::ForkWithoutExecThreaded), "the hazard in ps --json");
    let said: Vec<u32> = lines(&gw, "threaded")
        .iter()
        .find_map(|l| l.strip_prefix("forked ").map(|r| r.split(' ').filter_map(|w| w.parse().ok()).collect()))
        .expect("the node said which child it forked");
    let (child, workers) = (said[0], &said[1..]);
    let parent = gw.node("threaded")["pid"].as_u64().expect("pid");
    // Sure only if a worker started in an earlier tick than the child (the main thread did).
    let child_tick = start_tick(&format!("/proc/{child}/stat"));
    let earlier = workers.iter().filter(|t| start_tick(&format!("/proc/{parent}/task/{t}/stat")) < child_tick).count();
    let uncertain = mode == gracewatch::event::ProbeMode::Polling && earlier == 0;
    let s = gw.node("threaded")["hazard_sentences"][HazardId::ForkWithoutExecThreaded.as_str()].to_string();
    eprintln!("{mode:?}, {earlier} of 3 workers in an earlier tick than the child: {s}");
    let (_, state) = stop_all_and_fold(&mut gw);
    let forks = &state.node("threaded").expect("threaded").forks;
    let f = forks.iter().find(|f| f.child_pid == child).unwrap_or_else(|| panic!("{child}: {forks:?}"));
    assert_eq!((f.execd, f.threaded, f.uncertain), (Some(false), Some(true), uncertain), "{mode:?}: {f:?}");
    let had = if uncertain {
        format!("forked {child} without exec while it may have had 4 threads (seen by sampling /proc, not exact)")
    } else {
        format!("forked {child} without exec while it had 4 threads:")
    };
    assert!(s.contains(&had), "{mode:?}: {s}");
}

/// Every fork of `node` announced in the journal has been resolved.
fn all_forks_resolved(gw: &Gw, node: &str) -> bool {
    let events = gw.journal();
    let resolved: BTreeSet<u32> = events
        .iter()
        .filter_map(|e| match &e.ev {
            EventKind::ForkResolved { node: n, child_pid, .. } if n == node => Some(*child_pid),
            _ => None,
        })
        .collect();
    events.iter().all(|e| match &e.ev {
        EventKind::Fork { node: n, fork } if n == node => resolved.contains(&fork.child_pid),
        _ => true,
    })
}

#[test]
fn fork_without_exec_threaded_is_not_raised_by_a_clean_process() {
    // Threaded, but starts its child with subprocess (fork + exec).
    let spawner = r"
import subprocess, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
child = subprocess.Popen(['sleep', '1000'])
print('spawned', child.pid, flush=True)
while True: time.sleep(1)
";
    // Forks without exec, but single-threaded: a pre-fork worker.
    let prefork = r"
import os, time
pid = os.fork()
if pid == 0:
    while True: time.sleep(1)
print('forked', pid, flush=True)
while True: time.sleep(1)
";
    // Joins its helper thread just before forking: the kernel may still show that thread at
    // the instant of the fork, but it does not outlive it.
    let joined = r"
import os, threading, time
t = threading.Thread(target=time.sleep, args=(0.05,))
t.start()
t.join()
pid = os.fork()
if pid == 0:
    while True: time.sleep(1)
print('forked', pid, flush=True)
while True: time.sleep(1)
";
    let mut gw = up(
        "fork",
        &[
            node("spawner", &py(spawner, &[]), &[]),
            node("prefork", &py(prefork, &[]), &[]),
            node("joined", &py(joined, &[]), &[]),
        ],
    );
    let child_seen = |gw: &Gw, node: &str, execd: bool| {
        gw.node(node)["children"].as_array().is_some_and(|c| c.iter().any(|c| c["execd"] == execd))
    };
    gw.wait_for(
        |gw| {
            // The threaded parent's fork was announced and resolved (exec'd); the pre-fork child
            // is listed as not exec'd.
            child_seen(gw, "spawner", true)
                && any_event(
                    gw,
                    |e| matches!(e, EventKind::ForkResolved { node, execd: true, .. } if node == "spawner"),
                )
                && child_seen(gw, "prefork", false)
                && child_seen(gw, "joined", false)
                && all_forks_resolved(gw, "joined")
        },
        "both children seen and judged",
    );
    for node in ["spawner", "prefork", "joined"] {
        assert!(!ps_has(&gw, node, HazardId::ForkWithoutExecThreaded), "{node}: {}", gw.node(node));
    }
    let (_, state) = stop_all_and_fold(&mut gw);
    for node in ["spawner", "prefork", "joined"] {
        assert!(
            !raised(&state, node).contains(&HazardId::ForkWithoutExecThreaded),
            "{node}: {:?}",
            raised(&state, node)
        );
    }
}

/// A pre-fork server's parent (argv[1] `join`) or the same without the join (`keep`): a helper
/// thread runs from the start and is started again in `after_in_parent`, 0.4–2 ms after each
/// fork (inside the same 10 ms clock tick). With `join`, the at-fork hook stops and joins the
/// helper first, so the parent is single-threaded at every fork. Once the file argv[2] exists it
/// forks 20 times, 0.3 s apart (longer than the probe waits to see which threads outlive a
/// fork); each child lives the seconds the file says, then `os._exit(0)` without exec (reaped at
/// once when it lives 0 s). It prints `forked PID` for each, then `done`.
const RESTARTED_HELPER: &str = r"
import os, sys, threading, time
helpers = []
def start():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    helpers.append((t, stop))
def join():
    t, stop = helpers.pop()
    stop.set()
    t.join()
if sys.argv[1] == 'join':
    os.register_at_fork(before=join, after_in_parent=start)
else:
    os.register_at_fork(after_in_parent=start)
start()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
linger = float(open(sys.argv[2]).read())
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        time.sleep(linger)
        os._exit(0)
    print('forked', pid, flush=True)
    if linger == 0:
        os.waitpid(pid, 0)
    time.sleep(0.3)
print('done', flush=True)
while True: time.sleep(1)
";

/// How the session's probe sees forks (its first `ProbeMode`).
fn probe_mode(gw: &Gw) -> gracewatch::event::ProbeMode {
    let mode = |gw: &Gw| {
        gw.journal().into_iter().find_map(|e| match e.ev {
            EventKind::ProbeMode { mode, .. } => Some(mode),
            _ => None,
        })
    };
    gw.wait_for(|gw| mode(gw).is_some(), "the probe mode in the journal");
    mode(gw).expect("probe mode")
}

/// Starts `RESTARTED_HELPER` as node `name` (`join` or `keep`) and lets it fork once the probe
/// mode is known: with the connector its children exit at once (the kernel sees them anyway);
/// when polling they live on, so that the probe's rounds find them.
fn restarted_helper(how: &str) -> (Gw, gracewatch::event::ProbeMode) {
    let gw = up("fork", &[node("server", &py(RESTARTED_HELPER, &[how, "go"]), &[])]);
    let mode = probe_mode(&gw);
    let linger = if mode == gracewatch::event::ProbeMode::Connector { "0" } else { "30" };
    std::fs::write(gw.path("go"), linger).expect("trigger file");
    gw.wait_for(|gw| said(gw, "server", "done"), "20 forks");
    (gw, mode)
}

/// The children `server` said it forked, in order.
fn forked(gw: &Gw) -> Vec<u32> {
    lines(gw, "server").iter().filter_map(|l| l.strip_prefix("forked ")?.parse().ok()).collect()
}

/// `(child, execd, threaded, uncertain)` of every fork of `server` resolved in the journal.
fn resolved(gw: &Gw) -> Vec<(u32, bool, bool, bool)> {
    gw.journal()
        .into_iter()
        .filter_map(|e| match e.ev {
            EventKind::ForkResolved { node, child_pid, execd, threaded, uncertain } if node == "server" => {
                Some((child_pid, execd, threaded, uncertain))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn fork_without_exec_threaded_is_raised_by_every_fork_of_a_parent_whose_helper_thread_runs_through_it() {
    let (mut gw, mode) = restarted_helper("keep");
    let children = forked(&gw);
    assert_eq!(children.len(), 20, "{children:?}");
    let threaded = |gw: &Gw| -> BTreeSet<u32> {
        resolved(gw).into_iter().filter(|(_, execd, threaded, _)| !execd && *threaded).map(|(c, ..)| c).collect()
    };
    gw.wait_for(
        |gw| threaded(gw) == children.iter().copied().collect(),
        "every fork resolved as threaded, without exec",
    );
    // Its helpers started long before each fork (in earlier clock ticks): a fact even when only
    // sampled.
    assert!(resolved(&gw).iter().all(|(.., uncertain)| !uncertain), "{mode:?}: {:?}", resolved(&gw));
    let server = gw.node("server");
    let s = server["hazard_sentences"][HazardId::ForkWithoutExecThreaded.as_str()].as_str().unwrap_or_default();
    assert!(s.contains("without exec while it had 2 threads") && s.contains("(20 such forks)"), "{mode:?}: {server}");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(raised(&state, "server").contains(&HazardId::ForkWithoutExecThreaded));
    // At its k-th fork the parent had its main thread and k + 1 helpers: not the one it starts
    // right after the fork, in the same clock tick.
    let forks = &state.node("server").expect("server").forks;
    for (k, child) in children.iter().enumerate() {
        let f = forks.iter().find(|f| f.child_pid == *child).unwrap_or_else(|| panic!("{child}: {forks:?}"));
        assert_eq!(f.threads as usize, k + 2, "{mode:?}, fork {k}: {f:?}");
    }
}

#[test]
fn fork_without_exec_threaded_is_not_raised_by_a_parent_that_joins_its_helper_thread_before_each_fork() {
    let (mut gw, mode) = restarted_helper("join");
    let children = forked(&gw);
    assert_eq!(children.len(), 20, "{children:?}");
    // Every fork the probe announced is judged (not exec'd), none as threaded.
    gw.wait_for(|gw| all_forks_resolved(gw, "server"), "every announced fork resolved");
    let judged = resolved(&gw);
    eprintln!("{mode:?}: {} of 20 forks announced and judged: {judged:?}", judged.len());
    assert!(
        judged.iter().all(|(c, execd, threaded, _)| children.contains(c) && !execd && !threaded),
        "{mode:?}: {judged:?}"
    );
    assert!(!ps_has(&gw, "server", HazardId::ForkWithoutExecThreaded), "{mode:?}: {}", gw.node("server"));
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(
        !raised(&state, "server").contains(&HazardId::ForkWithoutExecThreaded),
        "{mode:?}: {:?}",
        state.hazard_feed
    );
    // At a fork the parent had its main thread and at most the helper it had just joined (its
    // exit may land after the fork), never the one it starts right after.
    let forks = &state.node("server").expect("server").forks;
    assert!(forks.iter().all(|f| f.threads <= 2), "{mode:?}: {forks:?}");
}

// ---------------------------------------------------------------------------------------------
// tokens-stuck

/// Lends three buffers to `detector`; SIGTERM and SIGHUP handlers only say so (a node that
/// drains before it goes), SIGHUP exits when `exit_on_hup`. With `give_back`, returns the
/// three once the file named by argv[1] exists.
fn lender(give_back: bool, exit_on_hup: bool) -> String {
    let back = if give_back {
        concat!(
            "while not os.path.exists(sys.argv[1]):\n    time.sleep(0.05)\n",
            "for t in held:\n    gw.returned(t, 'detector')\n",
            "print('returned', flush=True)\n",
        )
    } else {
        ""
    };
    let hup = if exit_on_hup { "sys.exit(0)" } else { "print('SIGHUP: still waiting', flush=True)" };
    format!(
        r"
import os, signal, sys, time
import gracewatch_node as gw
def on_term(*a):
    print('SIGTERM: draining', flush=True)
def on_hup(*a):
    {hup}
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGHUP, on_hup)
held = [gw.lend('detector') for _ in range(3)]
print('lent', flush=True)
{back}while True: time.sleep(1)
"
    )
}

/// SIGTERM, then SIGHUP 300 ms later, then SIGKILL at 2 s.
const STOP_WITH_SIGHUP: &[&str] = &["grace = \"2s\"", "escalate = [\"SIGHUP:300ms\"]"];

fn stage_entered(state: &State, node: &str, action: StageAction) -> bool {
    state
        .node(node)
        .and_then(|n| n.stop.as_ref())
        .is_some_and(|s| s.timeline.iter().any(|step| step.what == gracewatch::state::StepKind::Stage { action }))
}

#[test]
fn tokens_stuck_is_raised_by_a_process_whose_tokens_are_held_through_a_stop() {
    let mut gw = up("tok", &[node("lender", &py(&lender(false, false), &[]), STOP_WITH_SIGHUP), keeper()]);
    gw.wait_for(
        |gw| {
            let n = gw.node("lender");
            n["pending_tokens"] == 3 && n["token_holders"]["detector"] == 3 && n["handlers"]["SIGHUP"] == "caught"
        },
        "3 tokens held by detector and the handlers installed",
    );
    assert!(!ps_has(&gw, "lender", HazardId::TokensStuck), "tokens lent while running are no hazard");
    let text = stop(&gw, &["lender"]);
    assert!(text.contains("lender: killed-at-deadline"), "{text}");
    assert!(ps_has(&gw, "lender", HazardId::TokensStuck), "killed with its tokens held: {}", gw.node("lender"));
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(stage_entered(&state, "lender", StageAction::Signal(Signal::HUP)));
    // Raised while the stop waited (after its first stage), before the kill ended it.
    let notice =
        state.hazard_feed.iter().find(|h| h.node == "lender" && h.id == HazardId::TokensStuck).expect("raised");
    let exit = state.node("lender").and_then(|n| n.exit.clone()).expect("exited");
    assert!(notice.t < exit.t, "raised during the stop: {notice:?}");
    assert!(notice.sentence.contains("3 drop tokens still held by `detector` while the stop waits"), "{notice:?}");
    assert_eq!(exit.cause, ExitCause::KilledAtDeadline);
    assert_eq!(exit.pending_tokens.len(), 3);
}

#[test]
fn tokens_stuck_is_not_raised_by_a_clean_process() {
    // Its tokens all came back; the stop goes past its first stage (SIGTERM only drains) and
    // SIGHUP ends it.
    let mut gw = up("tok", &[node("lender", &py(&lender(true, true), &["go"]), STOP_WITH_SIGHUP), keeper()]);
    gw.wait_for(
        |gw| gw.node("lender")["pending_tokens"] == 3 && handler(gw, "lender", "SIGHUP") == "caught",
        "3 tokens lent and the handlers installed",
    );
    trigger(&gw, "go");
    gw.wait_for(|gw| gw.node("lender")["pending_tokens"] == 0, "every token back");
    let text = stop(&gw, &["lender"]);
    assert!(text.contains("lender: stopped (status 0)"), "{text}");
    assert!(!ps_has(&gw, "lender", HazardId::TokensStuck));
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(stage_entered(&state, "lender", StageAction::Signal(Signal::HUP)), "the stop went past its first stage");
    assert!(!raised(&state, "lender").contains(&HazardId::TokensStuck), "{:?}", raised(&state, "lender"));
}

// ---------------------------------------------------------------------------------------------
// stop-unacknowledged

/// The stop message, SIGTERM 300 ms later, SIGKILL at 2 s.
const COOPERATIVE: &[&str] = &["grace = \"2s\"", "cooperative = \"300ms\""];

/// The stop message, SIGTERM 5 s later: a clean node's acknowledgement is never late for it.
const COOPERATIVE_CLEAN: &[&str] = &["grace = \"10s\"", "cooperative = \"5s\""];

#[test]
fn stop_unacknowledged_is_raised_by_a_process_that_listens_but_never_acknowledges() {
    // Raw protocol: says it listens, reads the stop message, never answers `stop_ack`; its
    // SIGTERM handler ends it once the stop moves on to the signal.
    let body = r#"
hello()
send({"type": "listen_stop"})
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("listening", flush=True)
while True:
    msg = recv()
    if msg is None:
        break
    print("got " + str(msg.get("type")), flush=True)
while True: time.sleep(1)
"#;
    let mut gw = up("ack", &[node("mute", &py(&raw_node(body), &[]), COOPERATIVE), keeper()]);
    gw.wait_for(
        |gw| any_event(gw, |e| matches!(e, EventKind::StopListening { node } if node == "mute")),
        "the node to listen for the stop message",
    );
    assert!(!ps_has(&gw, "mute", HazardId::StopUnacknowledged));
    let text = stop(&gw, &["mute"]);
    assert!(text.contains("mute: stopped (status 0)"), "{text}");
    assert!(ps_has(&gw, "mute", HazardId::StopUnacknowledged), "{}", gw.node("mute"));
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(said(&gw, "mute", "got stop"), "the stop message reached it");
    assert!(raised(&state, "mute").contains(&HazardId::StopUnacknowledged));
    let s = sentence(&state, "mute", HazardId::StopUnacknowledged);
    assert!(s.contains("did not acknowledge the stop message within"), "{s}");
}

#[test]
fn stop_unacknowledged_is_not_raised_by_a_clean_process() {
    // The client library acknowledges the stop message before calling back.
    let code = r"
import gracewatch_node as gw
gw.on_stop(lambda reason: print('stop: ' + reason, flush=True))
gw.wait_for_stop()
print('bye', flush=True)
";
    let mut gw = up("ack", &[node("polite", &py(code, &[]), COOPERATIVE_CLEAN), keeper()]);
    gw.wait_for(
        |gw| any_event(gw, |e| matches!(e, EventKind::StopListening { node } if node == "polite")),
        "the node to listen for the stop message",
    );
    let text = stop(&gw, &["polite"]);
    assert!(text.contains("polite: stopped (status 0)"), "{text}");
    assert!(!ps_has(&gw, "polite", HazardId::StopUnacknowledged));
    let (_, state) = stop_all_and_fold(&mut gw);
    let stop = state.node("polite").and_then(|n| n.stop.clone()).expect("stopped");
    assert!(stop.message_sent_at.is_some() && stop.acked_at.is_some(), "message sent and acknowledged: {stop:?}");
    assert!(!raised(&state, "polite").contains(&HazardId::StopUnacknowledged), "{:?}", raised(&state, "polite"));
}

// ---------------------------------------------------------------------------------------------
// survivors-after-exit

#[test]
fn survivors_after_exit_is_raised_by_a_process_that_leaves_a_detached_grandchild() {
    // The shell starts a grandchild in a session of its own (out of the node's process group,
    // so the stop signal misses it), and dies on SIGTERM.
    let tag = unique_sleep();
    let mut gw =
        up("surv", &[node("leaky", &argv(&["sh", "-c", &format!("setsid sleep {tag} & wait")]), &[]), keeper()]);
    gw.wait_for(|_| !pids_running("sleep", &tag).is_empty(), "the detached grandchild to run");
    let grandchild = pids_running("sleep", &tag)[0];
    let text = stop(&gw, &["leaky"]);
    assert!(text.contains("leaky: stopped (SIGTERM)"), "{text}");
    gw.wait_for(|gw| ps_has(gw, "leaky", HazardId::SurvivorsAfterExit), "survivors-after-exit in ps --json");
    gw.wait_for(|_| !alive(grandchild), "gracewatch to have killed the survivor");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(raised(&state, "leaky").contains(&HazardId::SurvivorsAfterExit));
    let survivors = &state.node("leaky").expect("leaky").survivors;
    assert!(survivors.iter().any(|s| s.pid == grandchild && s.detached), "{survivors:?}");
    let s = sentence(&state, "leaky", HazardId::SurvivorsAfterExit);
    assert!(s.contains(&format!("{grandchild} (sleep)")) && s.contains("detached with setsid"), "{s}");
}

#[test]
fn survivors_after_exit_is_not_raised_by_a_clean_process() {
    // A plain sleep, and a shell whose child stays in its process group (the stop signal
    // reaches both).
    let tag = unique_sleep();
    let mut gw = up(
        "surv",
        &[
            node("plain", "\"sleep 1000\"", &[]),
            node("family", &argv(&["sh", "-c", &format!("sleep {tag} & wait")]), &[]),
        ],
    );
    gw.wait_for(|_| !pids_running("sleep", &tag).is_empty(), "the in-group child to run");
    let child = pids_running("sleep", &tag)[0];
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("plain: stopped (SIGTERM)") && text.contains("family: stopped (SIGTERM)"), "{text}");
    // The session's end swept every process left: nothing was found.
    for node in ["plain", "family"] {
        assert!(state.node(node).is_some_and(|n| n.survivors.is_empty()), "{node}");
        assert!(!raised(&state, node).contains(&HazardId::SurvivorsAfterExit), "{node}: {:?}", raised(&state, node));
    }
    assert!(!alive(child));
}

// ---------------------------------------------------------------------------------------------
// paused-during-stop

/// Python that lets any process trace it (Yama's ptrace scope), exits 0 on SIGTERM and forks;
/// what follows runs in the child (indented once), the tracer of `parent`, then in the parent.
const PTRACED_BY_CHILD: &str = r"
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(0x59616d61, ctypes.c_ulong(0xffffffffffffffff), 0, 0, 0)  # PR_SET_PTRACER_ANY (Yama)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
parent = os.getpid()
if os.fork() == 0:";

/// A node held by a debugger: a helper it forks attaches to it with ptrace and never lets it
/// go (nor dies of the group's SIGTERM, which would detach it). SIGCONT cannot resume a ptrace
/// stop: at rest it shows paused and no hazard; during its stop the hazard says why the stop
/// cannot progress, and the stop ends at the deadline.
#[test]
fn paused_during_stop_is_raised_by_a_node_held_by_a_debugger() {
    let code = PTRACED_BY_CHILD.to_string()
        + r"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if libc.ptrace(16, parent, None, None) != 0:  # PTRACE_ATTACH
        print('attach failed: errno', ctypes.get_errno(), flush=True)
    else:
        print('attached', flush=True)
    while True:
        time.sleep(1)
while True:
    time.sleep(1)
";
    let mut gw = up("held", &[node("debugged", &py(&code, &[]), &["grace = \"2s\""]), keeper()]);
    gw.wait_for(|gw| !lines(gw, "debugged").is_empty(), "the debugger to attach");
    assert_eq!(lines(&gw, "debugged"), vec!["attached".to_string()], "ptrace must be allowed here");
    let pid = gw.node_pid("debugged");
    gw.wait_for(|_| proc_state(pid) == Some('t'), "the node to be in a tracing stop");
    gw.wait_for(|gw| gw.node("debugged")["paused"] == "traced", "ps --json to say it is paused (traced)");
    assert!(!ps_has(&gw, "debugged", HazardId::PausedDuringStop), "held at rest: no hazard");
    let text = stop(&gw, &["debugged"]);
    assert!(text.contains("debugged: killed-at-deadline (SIGKILL)"), "{text}");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(raised(&state, "debugged").contains(&HazardId::PausedDuringStop), "{:?}", raised(&state, "debugged"));
    let s = sentence(&state, "debugged", HazardId::PausedDuringStop);
    assert!(s.contains("held by a debugger") && s.contains("SIGCONT cannot resume it") && s.contains("SIGTERM"), "{s}");
    let raised_at = state.hazard_feed.iter().find(|h| h.id == HazardId::PausedDuringStop).map(|h| h.t).unwrap();
    let stop = state.node("debugged").and_then(|n| n.stop.clone()).expect("a stop");
    assert!(raised_at >= stop.requested_at, "raised during the stop, not at rest");
}

/// A process under a syscall tracer (what `strace` does, here in Python so every machine has
/// it) is found in a tracing stop (`t`) read after read, but it runs between the stops: it is
/// not paused, and its stop is not held up by a debugger.
#[test]
fn paused_during_stop_is_not_raised_by_a_node_under_a_syscall_tracer() {
    let code = PTRACED_BY_CHILD.to_string()
        + r"
    if libc.ptrace(16, parent, None, None) != 0:  # PTRACE_ATTACH
        print('attach failed: errno', ctypes.get_errno(), flush=True)
        os._exit(1)
    os.waitpid(parent, 0)
    print('tracing', flush=True)
    sig = 0
    while True:
        libc.ptrace(24, parent, None, ctypes.c_void_p(sig))  # PTRACE_SYSCALL
        try:
            _, status = os.waitpid(parent, 0)
        except ChildProcessError:
            os._exit(0)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            os._exit(0)
        stopped = os.WSTOPSIG(status)
        sig = 0 if stopped == signal.SIGTRAP else stopped
while True:
    os.stat('/')
    time.sleep(0.0005)
";
    let mut gw = up("straced", &[node("traced", &py(&code, &[]), &["grace = \"10s\""]), keeper()]);
    gw.wait_for(|gw| !lines(gw, "traced").is_empty(), "the tracer to attach");
    assert_eq!(lines(&gw, "traced"), vec!["tracing".to_string()], "ptrace must be allowed here");
    let pid = gw.node_pid("traced");
    gw.wait_for(|_| proc_state(pid) == Some('t'), "the node to be seen in a tracing stop");
    // Three seconds of reads (a dozen probe rounds, each finding it in `t` as often as not).
    for _ in 0..30 {
        assert_ne!(gw.node("traced")["paused"], "traced", "a traced process that runs is not paused");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let text = stop(&gw, &["traced"]);
    assert!(text.contains("traced: stopped"), "{text}");
    let (_, state) = stop_all_and_fold(&mut gw);
    assert!(!raised(&state, "traced").contains(&HazardId::PausedDuringStop), "{:?}", raised(&state, "traced"));
}

/// Paused by SIGSTOP (a job-control stop) at rest: shown as paused, no hazard; its stop's
/// SIGCONT resumes it, so none during the stop either. A stopped `sleep` dies of SIGTERM
/// anyway; a handler that must run is resumed by the SIGCONT (`tests/stop_causes.rs`).
#[test]
fn paused_during_stop_is_not_raised_by_a_process_sigcont_resumes() {
    let mut gw = up("resumed", &[node("napper", "\"sleep 1000\"", &[])]);
    gw.wait_for(|gw| gw.node("napper")["handlers"]["SIGTERM"] == "default", "a sample");
    let pid = gw.node_pid("napper");
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::STOP)
        .unwrap();
    gw.wait_for(|gw| gw.node("napper")["paused"] == "stopped", "ps --json to say it is paused");
    assert!(!ps_has(&gw, "napper", HazardId::PausedDuringStop));
    let (text, state) = stop_all_and_fold(&mut gw);
    assert!(text.contains("napper: stopped (SIGTERM)"), "{text}");
    assert!(!raised(&state, "napper").contains(&HazardId::PausedDuringStop), "{:?}", raised(&state, "napper"));
}
