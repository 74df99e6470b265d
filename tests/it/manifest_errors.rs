//! A broken manifest names the file, line, column and key, exits 2, and starts nothing.

use crate::common;
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

// ---- what only the file system can say: a working directory, a command ----

#[test]
fn missing_cwd() {
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"true\"\ncwd = \"no-such-dir\"\n"),
        &[
            "gracewatch.toml:5:7",
            "`nodes.bad.cwd`",
            "working directory `no-such-dir` is ",
            "no-such-dir",
            "(relative to the manifest's directory), which does not exist",
        ],
    );
}

#[test]
fn missing_cwd_in_defaults_is_said_once() {
    fails(
        &format!("[defaults]\ncwd = \"gone\"\n{OK_NODE}[nodes.other]\ncmd = \"true\"\n"),
        &["gracewatch.toml:2:7", "`defaults.cwd`", "which does not exist"],
    );
    let gw = Gw::prepare(&format!("[defaults]\ncwd = \"gone\"\n{OK_NODE}[nodes.other]\ncmd = \"true\"\n"));
    let err = String::from_utf8_lossy(&gw.run(&["up", "--headless"]).stderr).into_owned();
    assert_eq!(err.matches("defaults.cwd").count(), 1, "{err}");
}

#[test]
fn command_not_on_path() {
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = \"no-such-command-gw --flag\"\n"),
        &["gracewatch.toml:4:7", "`nodes.bad.cmd`", "command `no-such-command-gw` not found in PATH ("],
    );
    // The node's own PATH is the one searched.
    fails(
        &format!("{OK_NODE}[nodes.bad]\ncmd = [\"sleep\", \"1\"]\nenv = {{ PATH = \"/nonexistent-gw\" }}\n"),
        &[
            "gracewatch.toml:4:7",
            "`nodes.bad.cmd`",
            "command `sleep` not found in the node's env.PATH (/nonexistent-gw)",
        ],
    );
}

#[test]
fn command_that_is_not_executable() {
    let manifest = format!("{OK_NODE}[nodes.bad]\ncmd = \"./run.sh\"\n");
    let gw = Gw::prepare(&manifest);
    std::fs::write(gw.path("run.sh"), "#!/bin/sh\ntouch started\n").unwrap();
    let out = gw.run(&["up", "--headless", "--journal", "journal.jsonl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for e in ["gracewatch.toml:4:7", "`nodes.bad.cmd`", "command `./run.sh` cannot be run: ", "is not executable"] {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(!gw.path("started").exists(), "a node started despite the error");
    assert!(!gw.path("journal.jsonl").exists(), "a journal was written despite the error");
}

#[test]
fn every_such_error_is_said_not_only_the_first() {
    let gw = Gw::prepare(&format!(
        "{OK_NODE}[nodes.a]\ncmd = \"no-such-command-gw\"\n[nodes.b]\ncmd = \"true\"\ncwd = \"/no/such/dir\"\n"
    ));
    let out = gw.run(&["up", "--headless", "--journal", "journal.jsonl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("gracewatch.toml:4:7: `nodes.a.cmd`: command `no-such-command-gw` not found"), "{err}");
    assert!(err.contains("gracewatch.toml:7:7: `nodes.b.cwd`: working directory /no/such/dir does not exist"), "{err}");
    assert!(!gw.path("started").exists(), "a node started despite the errors");
}

#[test]
fn procfile_command_not_found() {
    let gw = Gw::prepare(OK_NODE);
    std::fs::write(gw.path("Procfile"), "web: touch started\nworker:   no-such-command-gw 1\n").unwrap();
    let out = gw.run(&["up", "--headless", "Procfile"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Procfile:2:11: `worker`: command `no-such-command-gw` not found in PATH"), "{err}");
    assert!(!gw.path("started").exists());
}

/// What the checks accept runs: a `cwd` relative to the manifest's directory, a command
/// relative to it, and one found on the node's own PATH.
#[test]
fn a_relative_cwd_and_commands_found_as_the_spawner_finds_them_run() {
    let gw = Gw::prepare(
        "[nodes.rel]\ncwd = \"work\"\ncmd = \"./mark.sh rel\"\n[nodes.onpath]\ncwd = \"work\"\ncmd = \"mark.sh onpath\"\nenv = { PATH = \"tools:/usr/bin:/bin\" }\n",
    );
    std::fs::create_dir_all(gw.path("work/tools")).unwrap();
    for script in ["work/mark.sh", "work/tools/mark.sh"] {
        std::fs::write(gw.path(script), "#!/bin/sh\ntouch \"$1\"\n").unwrap();
        std::fs::set_permissions(gw.path(script), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    // Run from elsewhere: the manifest's directory is what counts, not the caller's.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = gw
        .command(&["up", "--headless", "--journal", "journal.jsonl", &gw.path("gracewatch.toml").display().to_string()])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(gw.path("work/rel").exists(), "{err}");
    assert!(gw.path("work/onpath").exists(), "{err}");
}
