//! `gracewatch stop`: stop nodes of a running session.

use super::args::StopArgs;
use super::out;
use crate::Error;
use crate::control::{
    self,
    protocol::{Answer, Request, stopping_line},
};
use crate::event::{Requester, StopMode};
use crate::state::PsSnapshot;
use crate::stop_engine::{Overrides, StopRequest, StopTargets};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub(super) fn stop(args: &StopArgs) -> Result<ExitCode, Error> {
    if args.nodes.is_empty() && !args.all {
        return Err(Error::NothingToStop);
    }
    let session = crate::control::session::resolve(args.session.session.as_deref())?;
    let request = Request::Stop {
        request: StopRequest {
            targets: if args.all { StopTargets::All } else { StopTargets::Nodes(args.nodes.clone()) },
            mode: if args.force { StopMode::Force } else { StopMode::Graceful },
            overrides: Overrides { grace_ms: args.grace, signal: args.signal },
            by: Requester::Ctl,
        },
        wait: args.wait,
    };
    let mut failure: Option<Error> = None;
    let mut clean = true;
    let mut accepted: Vec<String> = Vec::new();
    let talked = crate::control::client::converse(&session.socket, &request, |answer| {
        let said = match answer {
            Answer::Accepted { nodes, plan, exited, refused } => {
                let said = nodes
                    .iter()
                    .zip(plan)
                    .try_for_each(|(n, p)| out::line(&stopping_line(n, &p)))
                    // Already over: nothing to do, and not an error.
                    .and_then(|()| exited.iter().try_for_each(|line| out::line(line)));
                for line in &refused {
                    out::note(&format!("gracewatch: {line}"));
                }
                clean &= refused.is_empty();
                accepted = nodes;
                said.map(|()| args.wait && !accepted.is_empty())
            }
            Answer::UnknownNodes { unknown, known } => {
                Err(Error::UnknownNodes { session: session.name.clone(), unknown, known })
            }
            Answer::Stopped { nodes } => {
                accepted.clear();
                nodes
                    .iter()
                    .try_for_each(|n| {
                        let Some(cause) = n.cause else {
                            clean = false;
                            return out::line(&format!("{}: still running when the session ended", n.node));
                        };
                        clean &= cause.is_clean();
                        out::line(&ended_line(&n.node, cause, &n.status, n.took_ms))
                    })
                    .map(|()| false)
            }
            Answer::Error { message } => Err(control::Error::Refused(message).into()),
            other => Err(control::Error::Unexpected(Box::new(other)).into()),
        };
        // A closed standard output ends the command (quietly); the stop, once accepted, goes on.
        said.unwrap_or_else(|e| {
            failure = Some(e);
            false
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    match talked {
        Ok(()) => {}
        // The stop was accepted and is under way: a broken connection does not end it. Follow
        // it through `ps` for as long as the session answers.
        Err(e) if args.wait && !accepted.is_empty() => {
            out::note(&format!("gracewatch: {e}; following the stop through ps"));
            clean = follow(&session.socket, &accepted)?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `no node named "ghost" in session "robot" (its nodes: camera, detector)`.
fn ended_line(node: &str, cause: crate::event::ExitCause, status: &str, took_ms: Option<u64>) -> String {
    let took = took_ms.map_or_else(String::new, |ms| format!(" in {}", crate::util::fmt_ms(ms)));
    format!("{node}: {}{took}", cause.with_status(status))
}

/// Polls `ps` until every node in `nodes` has exited; prints how each ended. Whether all ended
/// cleanly.
fn follow(socket: &Path, nodes: &[String]) -> Result<bool, Error> {
    loop {
        let snapshot = match crate::control::client::ask(socket, &Request::Ps) {
            Ok(Answer::Ps { snapshot }) => snapshot,
            Ok(other) => return Err(control::Error::Unexpected(Box::new(other)).into()),
            Err(e) => return Err(Error::StopUnfinished(e)),
        };
        if let Some(lines) = outcomes(&snapshot, nodes) {
            let mut clean = true;
            for (line, ok) in lines {
                clean &= ok;
                out::line(&line)?;
            }
            return Ok(clean);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How each of `nodes` ended, as `stop --wait` says it, once all have exited (a node the
/// snapshot does not list counts as gone); `None` while any still runs.
fn outcomes(snapshot: &PsSnapshot, nodes: &[String]) -> Option<Vec<(String, bool)>> {
    let mut lines = Vec::new();
    for name in nodes {
        let Some(node) = snapshot.nodes.iter().find(|n| &n.name == name) else { continue };
        let exit = node.exit.as_ref()?;
        lines.push((ended_line(name, exit.cause, &exit.status(), None), exit.cause.is_clean()));
    }
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, ExitCause, Header, Signal};
    use crate::manifest::NodeSpec;

    #[test]
    fn outcomes_wait_for_every_node_and_read_like_the_stopped_answer() {
        let mut state = crate::state::Fold::new(crate::hazards::lints());
        let specs =
            vec![NodeSpec::with_defaults("a", vec!["x".into()]), NodeSpec::with_defaults("b", vec!["y".into()])];
        let mut seq = 0;
        let mut push = |state: &mut crate::state::Fold, ev: EventKind| {
            state.apply(&crate::event::Event { seq, t: seq * 1_000_000, ev });
            seq += 1;
        };
        push(&mut state, EventKind::SessionStarted(Box::new(Header::synthetic("s", specs))));
        for (node, pid) in [("a", 10), ("b", 11)] {
            push(&mut state, EventKind::NodeSpawned { node: node.into(), pid, pgid: pid, argv: vec![] });
        }
        let exited = |node: &str, pid, code, signal, cause| EventKind::NodeExited {
            node: node.into(),
            pid,
            code,
            signal,
            cause,
            pending_tokens: vec![],
        };
        push(&mut state, exited("a", 10, Some(0), None, ExitCause::Stopped));
        let names = ["a".to_string(), "b".to_string()];
        assert_eq!(outcomes(&PsSnapshot::from_state(&state, 5_000_000), &names), None, "b still runs");
        push(&mut state, exited("b", 11, None, Some(Signal::KILL), ExitCause::KilledAtDeadline));
        let lines = outcomes(&PsSnapshot::from_state(&state, 6_000_000), &names).unwrap();
        assert_eq!(
            lines,
            vec![("a: stopped (status 0)".to_string(), true), ("b: killed-at-deadline (SIGKILL)".to_string(), false),]
        );
    }
}
