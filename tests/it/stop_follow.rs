//! `stop --wait` when its connection breaks: the stop goes on in the supervisor, so the command
//! follows it through `ps` and still says how each node ended. Here the supervisor's side is a
//! scripted peer on a real socket: it accepts the stop, hangs up, then answers `ps`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use gracewatch::control::protocol::{Answer, Request};
use gracewatch::event::{Event, EventKind, ExitCause, Header};
use gracewatch::manifest::NodeSpec;
use gracewatch::state::{Fold, PsSnapshot};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;

fn snapshot(exited: bool) -> PsSnapshot {
    let mut state = Fold::new(gracewatch::hazards::lints());
    let header = Header::synthetic("follow", vec![NodeSpec::with_defaults("web", vec!["x".into()])]);
    let evs = [
        EventKind::SessionStarted(Box::new(header)),
        EventKind::NodeSpawned { node: "web".into(), pid: 4242, pgid: 4242, argv: vec![] },
    ];
    for (seq, ev) in evs.into_iter().enumerate() {
        state.apply(&Event { seq: seq as u64, t: seq as u64, ev });
    }
    if exited {
        let ev = EventKind::NodeExited {
            node: "web".into(),
            pid: 4242,
            code: Some(0),
            signal: None,
            cause: ExitCause::Stopped,
            pending_tokens: vec![],
        };
        state.apply(&Event { seq: 2, t: 2, ev });
    }
    PsSnapshot::from_state(&state, 3)
}

/// The supervisor's answer that it is stopping `web` with SIGTERM.
fn web_accepted() -> Answer {
    Answer::Accepted { nodes: vec!["web".into()], plan: vec!["SIGTERM".into()], exited: vec![], refused: vec![] }
}

fn answer(stream: &mut std::os::unix::net::UnixStream, a: &Answer) {
    let mut line = serde_json::to_vec(a).unwrap();
    line.push(b'\n');
    stream.write_all(&line).unwrap();
}

#[test]
fn a_waiting_stop_whose_connection_breaks_follows_the_stop_through_ps() {
    let gw = Gw::prepare("name = \"follow\"\n");
    let dir = gw.path("run/gracewatch");
    std::fs::create_dir_all(&dir).unwrap();
    let listener = UnixListener::bind(dir.join("follow.sock")).unwrap();
    let peer = std::thread::spawn(move || {
        let mut asked_ps = 0;
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            // `stop` first looks whether the session is alive: a connection with no request.
            if BufReader::new(stream.try_clone().unwrap()).read_line(&mut line).unwrap() == 0 {
                continue;
            }
            match serde_json::from_str::<Request>(&line).unwrap() {
                Request::Stop { wait: true, .. } => {
                    answer(&mut stream, &web_accepted());
                    // …and the connection breaks before the stop ends.
                }
                Request::Ps => {
                    asked_ps += 1;
                    answer(&mut stream, &Answer::Ps { snapshot: snapshot(asked_ps >= 3) });
                    if asked_ps >= 3 {
                        return asked_ps;
                    }
                }
                other => panic!("unexpected request {other:?}"),
            }
        }
        0
    });
    let out = gw.run(&["stop", "web", "--wait", "--session", "follow"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("stopping web: SIGTERM"), "{stdout}");
    assert!(stdout.contains("web: stopped (status 0)"), "{stdout}\n{stderr}");
    assert!(stderr.contains("following the stop through ps"), "{stderr}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(peer.join().unwrap(), 3, "asked until the node had exited");
}

#[test]
fn a_waiting_stop_whose_session_is_gone_says_so() {
    let gw = Gw::prepare("name = \"gone\"\n");
    let dir = gw.path("run/gracewatch");
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("gone.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let peer = std::thread::spawn(move || {
        let mut stream = loop {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            // `stop` first looks whether the session is alive: a connection with no request.
            if BufReader::new(stream.try_clone().unwrap()).read_line(&mut line).unwrap() > 0 {
                break stream;
            }
        };
        answer(&mut stream, &web_accepted());
        // The whole session goes: nobody listens any more.
        drop(listener);
        std::fs::remove_file(&sock).unwrap();
    });
    let out = gw.run(&["stop", "web", "--wait", "--session", "gone"]);
    peer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the session ended before the stop did"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
}
