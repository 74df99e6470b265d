//! A broken manifest names the file, line, column and key, exits 2, and starts nothing.

mod common;
use common::*;

/// Runs `up` on a manifest whose nodes would create a file if started.
fn fails(manifest: &str, expected: &[&str]) {
    let gw = Gw::prepare(manifest);
    let out = gw.run(&["up", "--headless", "--journal", "journal.jsonl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit status for:\n{manifest}\n{err}");
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(err.starts_with("gracewatch: error: "), "{err}");
    assert!(!gw.path("started").exists(), "a node started despite the error");
    assert!(!gw.path("journal.jsonl").exists(), "a journal was written despite the error");
}

const OK_NODE: &str = "[nodes.ok]\ncmd = \"touch started\"\n";

#[test]
fn unknown_key() {
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\ngrase = \"1s\"\n"),
        &["gracewatch.toml:5:1", "nodes.bad.grase", "unknown field `grase`"],
    );
}

#[test]
fn bad_duration() {
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\ngrace = \"ten seconds\"\n"),
        &["gracewatch.toml:5:9", "nodes.bad.grace", "bad duration"],
    );
}

#[test]
fn unknown_signal() {
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\nstop_signal = \"SIGNOPE\"\n"),
        &["gracewatch.toml:5:15", "nodes.bad.stop_signal", "unknown signal \"SIGNOPE\""],
    );
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\nescalate = [\"SIGINT:1s\", \"SIGWAT:1s\"]\n"),
        &["gracewatch.toml:5", "nodes.bad.escalate", "unknown signal"],
    );
}

#[test]
fn dependency_cycle() {
    fails(
        &format!(
            "{OK_NODE}[nodes.a]\ncmd = \"true\"\ndepends_on = [\"b\"]\n[nodes.b]\ncmd = \"true\"\ndepends_on = [\"a\"]\n"
        ),
        &["gracewatch.toml:5", "depends_on", "dependency cycle: a → b → a"],
    );
}

#[test]
fn unknown_dependency() {
    fails(
        &format!("{OK_NODE}[nodes.a]\ncmd = \"true\"\ndepends_on = [\"ghost\"]\n"),
        &["gracewatch.toml:5:15", "nodes.a.depends_on", "unknown node \"ghost\""],
    );
}

#[test]
fn duplicate_name() {
    fails(&format!("{OK_NODE}[nodes.ok]\ncmd = \"true\"\n"), &["gracewatch.toml:3", "duplicate"]);
}

#[test]
fn wrong_types_and_missing_cmd() {
    fails(&format!("{OK_NODE}[nodes.bad]\ngrace = \"1s\"\n"), &["gracewatch.toml:3", "nodes.bad", "missing `cmd`"]);
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = 42\n"),
        &["gracewatch.toml:4:7", "nodes.bad.cmd", "expected a string or an array of strings"],
    );
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\ngroup = \"yes\"\n"),
        &["gracewatch.toml:5", "nodes.bad.group"],
    );
}

#[test]
fn toml_syntax_error() {
    fails(&format!("{OK_NODE}[nodes.bad\ncmd = \"true\"\n"), &["gracewatch.toml:3"]);
}

#[test]
fn missing_manifest_says_what_to_do() {
    let gw = Gw::prepare(OK_NODE);
    let out = gw.run(&["up", "--headless", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml: cannot read manifest"));
}

#[test]
fn procfile_duplicate() {
    let gw = Gw::prepare(OK_NODE);
    std::fs::write(gw.path("Procfile"), "web: touch started\nweb: sleep 1\n").unwrap();
    let out = gw.run(&["up", "--headless", "Procfile"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Procfile:2:1") && err.contains("duplicate node name \"web\""), "{err}");
    assert!(!gw.path("started").exists());
}
