//! The control socket protocol: `gracewatch ps`, `stop`, `attach` talking to a running
//! supervisor. JSON lines; a request per line, answered by one or more lines.

use crate::event::{Event, Signal};
use crate::state::{PsSnapshot, State};
use crate::stop_engine::StopRequest;
use serde::{Deserialize, Serialize};

/// Version of the control protocol: the requests and answers here, and the state and events
/// they carry to an attached cockpit. Bumped on any change a cockpit of the previous version
/// would misread; `attach` refuses a supervisor that speaks another one (see
/// [`Answer::Attached`]).
pub const PROTOCOL_VERSION: u32 = 1;

/// Client → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// One `ps` snapshot.
    Ps,
    /// Stop nodes (or all). With `wait`, a `stopped` answer follows once they have exited.
    /// The request's fields sit beside `op` and `wait`: `{"op":"stop","nodes":["a"],"force":true}`.
    Stop {
        #[serde(flatten)]
        request: StopRequest,
        #[serde(default)]
        wait: bool,
    },
    /// Send one signal to a node now (the cockpit's `x`), outside any stop plan.
    Signal {
        node: String,
        signal: Signal,
        /// Who is asking (the journal says it, and an exit after it is put down to it).
        #[serde(default = "default_signal_by")]
        by: crate::event::Requester,
    },
    /// Stream: a `state` answer, then every event as it happens.
    Attach,
}

/// Only cockpits send `signal`.
fn default_signal_by() -> crate::event::Requester {
    crate::event::Requester::Operator
}

/// Supervisor → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Ps {
        snapshot: PsSnapshot,
    },
    /// The stop was accepted for these nodes (possibly none), with their plans.
    Accepted {
        nodes: Vec<String>,
        plan: Vec<String>,
        /// Nodes asked for that had already ended, one line each: `a already exited (stopped,
        /// status 0)`. Not an error.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        exited: Vec<String>,
        /// Nodes asked for that were not stopped, and why (already stopping, …).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refused: Vec<String>,
    },
    /// Some names asked for are not nodes of the session: nothing was stopped.
    UnknownNodes {
        unknown: Vec<String>,
        /// The session's nodes.
        known: Vec<String>,
    },
    /// With `wait`: every node asked for has exited.
    Stopped {
        nodes: Vec<StoppedNode>,
    },
    /// The first line answering `attach`, before the state: what the supervisor speaks, so
    /// that a cockpit of another version says so instead of misreading the state.
    Attached {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// [`crate::event::FORMAT_VERSION`] of the events that follow.
        format: u32,
        /// The supervisor's package version, for the operator.
        version: String,
    },
    /// The attach snapshot (also sent again after a client fell behind: `dropped` events
    /// were skipped and the state replaced).
    State {
        state: Box<State>,
        dropped: u64,
    },
    Event {
        event: Event,
    },
    /// A line to show the operator (the outcome of a request made while attached).
    Notice {
        message: String,
    },
    Error {
        message: String,
    },
    Ok,
}

impl Answer {
    /// This build's [`Answer::Attached`].
    pub fn attached() -> Answer {
        Answer::Attached {
            protocol: PROTOCOL_VERSION,
            format: crate::event::FORMAT_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A stop accepted, one line: `stopping web: SIGTERM → SIGKILL @10s` (the CLI and the
/// cockpit both say it so).
pub(crate) fn stopping_line(node: &str, plan: &str) -> String {
    format!("stopping {node}: {plan}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedNode {
    pub node: String,
    /// How it ended; none when the session ended with the node still running.
    #[serde(default)]
    pub cause: Option<crate::event::ExitCause>,
    pub status: String,
    /// From the stop request to the exit.
    pub took_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventKind, Header, ProcSample, SigSet};

    /// `attach` reads the whole state inside the tagged `Answer`: maps keyed by pid or token id
    /// must come back (they once came back as "invalid type: string, expected u32").
    #[test]
    fn a_state_with_processes_and_tokens_crosses_the_socket() {
        let spec = crate::manifest::NodeSpec::with_defaults("cam", vec!["cam".into()]);
        let mut state = crate::state::Fold::new(crate::hazards::lints());
        let evs = [
            EventKind::SessionStarted(Box::new(Header::synthetic("s", vec![spec]))),
            EventKind::NodeSpawned { node: "cam".into(), pid: 11097, pgid: 11097, argv: vec!["cam".into()] },
            EventKind::ProcSampled {
                node: "cam".into(),
                sample: ProcSample {
                    pid: 11097,
                    ppid: 1,
                    name: "cam".into(),
                    caught: SigSet::EMPTY,
                    ignored: SigSet::EMPTY,
                    threads: Vec::new(),
                    children: Vec::new(),
                    ..ProcSample::default()
                },
            },
            EventKind::TokenIssued { node: "cam".into(), id: 7, receivers: vec!["detector".into()] },
        ];
        for (seq, ev) in evs.into_iter().enumerate() {
            state.apply(&Event { seq: seq as u64, t: seq as u64 * 1000, ev });
        }
        let answer = Answer::State { state: Box::new(state.state().clone()), dropped: 0 };
        let line = serde_json::to_string(&answer).unwrap();
        let back: Answer = serde_json::from_str(&line).unwrap();
        let Answer::State { state: back, .. } = back else { panic!("{line}") };
        assert_eq!(*back, *state);
        assert_eq!(back.node("cam").unwrap().tokens.pending(), 1);
        assert!(back.node("cam").unwrap().procs.contains_key(&11097));
    }

    /// The control socket's stop line is read as it always was: every field optional, the
    /// same defaults (`by`: `ctl`), `all` winning over `nodes`, `wait` beside the request.
    #[test]
    fn the_stop_line_is_read_as_before_with_the_same_defaults() {
        use crate::event::{Requester, Signal, StopMode};
        use crate::stop_engine::{Overrides, StopTargets};
        let read = |line: &str| serde_json::from_str::<Request>(line).unwrap();
        assert_eq!(
            read(r#"{"op":"stop"}"#),
            Request::Stop { request: StopRequest::nodes(Vec::new(), StopMode::Graceful, Requester::Ctl), wait: false }
        );
        assert_eq!(
            read(r#"{"op":"stop","nodes":["a","b"]}"#),
            Request::Stop {
                request: StopRequest::nodes(vec!["a".into(), "b".into()], StopMode::Graceful, Requester::Ctl),
                wait: false
            }
        );
        let full = read(
            r#"{"op":"stop","nodes":["a"],"all":false,"force":true,"grace_ms":1500,"signal":"SIGINT","wait":true,"by":"operator"}"#,
        );
        let Request::Stop { request, wait } = full else { panic!("{full:?}") };
        assert!(wait);
        assert_eq!(request.targets, StopTargets::Nodes(vec!["a".into()]));
        assert_eq!(request.mode, StopMode::Force);
        assert_eq!(request.overrides, Overrides { grace_ms: Some(1500), signal: Some(Signal::INT) });
        assert_eq!(request.by, Requester::Operator);
        let Request::Stop { request, wait } = read(r#"{"op":"stop","nodes":["a"],"all":true,"by":"ctl"}"#) else {
            panic!()
        };
        assert!(!wait);
        assert_eq!(request.targets, StopTargets::All);
        // A signal by number, as before.
        let Request::Stop { request, .. } = read(r#"{"op":"stop","nodes":["a"],"signal":2}"#) else { panic!() };
        assert_eq!(request.overrides.signal, Some(Signal::INT));
    }

    /// What a client sends is the same line as before: the request's fields flat beside `op`.
    #[test]
    fn the_stop_line_is_written_as_before() {
        use crate::event::{Requester, StopMode};
        let req = Request::Stop { request: StopRequest::all(StopMode::Graceful, Requester::Operator), wait: false };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"op":"stop","nodes":[],"all":true,"force":false,"by":"operator","wait":false}"#
        );
        let mut request = StopRequest::nodes(vec!["a".into()], StopMode::Force, Requester::Ctl);
        request.overrides.grace_ms = Some(200);
        let line = serde_json::to_string(&Request::Stop { request: request.clone(), wait: true }).unwrap();
        assert_eq!(
            line,
            r#"{"op":"stop","nodes":["a"],"all":false,"force":true,"grace_ms":200,"by":"ctl","wait":true}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), Request::Stop { request, wait: true });
    }
}
