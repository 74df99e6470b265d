//! The Python client's own tests (standard-library `unittest`, in `assets/python/`) run as part
//! of `cargo test`, and the copy gracewatch carries and prints is that file, importable.

use crate::common;
use common::*;
use std::process::Command;

#[test]
fn the_python_clients_own_tests_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/python");
    let out = Command::new(real_python())
        .args(["-m", "unittest", "-v", "test_gracewatch_node"])
        .current_dir(dir)
        .env_remove("GRACEWATCH_SOCKET")
        .env_remove("GRACEWATCH_NODE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");
}

#[test]
fn python_client_prints_the_carried_client_and_it_imports_as_a_no_op_outside_gracewatch() {
    let gw = Gw::prepare("");
    let out = gw.run(&["python-client"]);
    assert!(out.status.success());
    let asset = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/python/gracewatch_node.py")).unwrap();
    assert_eq!(out.stdout, asset);
    std::fs::write(gw.path("gracewatch_node.py"), &out.stdout).unwrap();
    let run = Command::new(real_python())
        .args(["-c", "import gracewatch_node as gw; print(gw.status()); gw.lend(['x']); print('fine')"])
        .current_dir(gw.dir.path())
        .env_remove("GRACEWATCH_SOCKET")
        .env_remove("GRACEWATCH_NODE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(text.lines().collect::<Vec<_>>(), ["off", "fine"]);
}

#[test]
fn a_managed_python_node_imports_the_client_with_no_set_up() {
    let mut gw = Gw::prepare(
        "name = \"pyimport\"\n[nodes.py]\ncmd = [\"python3\", \"-c\", \"import gracewatch_node as g; print('from', g.__file__, flush=True)\"]\n",
    );
    // The session ends as soon as its one node has printed: not waited for through `ps`.
    let child = gw
        .command(&["up", "--headless", "--journal", "journal.jsonl"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    gw.child = Some(child);
    let _ = gw.wait_exit();
    let line = gw
        .journal()
        .iter()
        .find_map(|e| match &e.ev {
            gracewatch::event::EventKind::Output { line, .. } if line.starts_with("from ") => Some(line.clone()),
            _ => None,
        })
        .expect("the node's output");
    assert!(line.ends_with("pyimport.py/gracewatch_node.py"), "{line}");
    // The session's copy goes with the session.
    assert!(!gw.path("run/gracewatch/pyimport.py").exists());
}

/// Python 3.8 is supported: the client and the demo nodes use no newer syntax (the grammar
/// check Python itself offers; the interpreter here is newer).
#[test]
fn the_client_and_the_demo_nodes_parse_as_python_3_8() {
    let root = env!("CARGO_MANIFEST_DIR");
    let code =
        "import ast, glob, sys\nfor f in sys.argv[1:]:\n    ast.parse(open(f).read(), f, feature_version=(3, 8))";
    let mut files = vec![format!("{root}/assets/python/gracewatch_node.py")];
    for entry in std::fs::read_dir(format!("{root}/assets/demo")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "py") {
            files.push(path.display().to_string());
        }
    }
    let out = Command::new(real_python()).arg("-c").arg(code).args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
