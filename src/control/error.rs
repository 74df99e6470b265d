//! What can go wrong talking to a running session: finding it, reaching its control socket,
//! and the answers that come back.

use super::protocol::Answer;
use super::session::FoundSession;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--session NAME` names no live control socket.
    #[error("no session {name:?} is running ({}: {source}){}", socket.display(), running_hint(running))]
    NoSuchSession { name: String, socket: PathBuf, source: std::io::Error, running: Vec<FoundSession> },
    #[error("no gracewatch session is running (start one with `gracewatch up` or `gracewatch demo`)")]
    NoSession,
    /// No name given, several running, none of them the current directory's manifest's.
    #[error("several sessions are running; pick one with --session NAME:{}", running_hint(running))]
    SeveralSessions { running: Vec<FoundSession> },
    #[error("cannot connect to {}: {source}", socket.display())]
    Connect { socket: PathBuf, source: std::io::Error },
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("cannot send the request: {0}")]
    Send(#[source] std::io::Error),
    #[error("cannot attach: {0}")]
    Attach(#[source] std::io::Error),
    /// The socket could not be set up for streaming (timeouts, non-blocking, the runtime).
    #[error("cannot set up the connection to the supervisor: {0}")]
    Socket(#[source] std::io::Error),
    #[error("no answer from the supervisor: {0}")]
    NoAnswer(#[source] std::io::Error),
    #[error("connection to the supervisor broke: {0}")]
    Broken(#[source] std::io::Error),
    #[error("unreadable answer from the supervisor: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error("the supervisor closed the connection (did the session end?)")]
    Closed,
    /// The supervisor answered with an error of its own: its words.
    #[error("{0}")]
    Refused(String),
    #[error("unexpected answer: {0:?}")]
    Unexpected(Box<Answer>),
    #[error("unexpected answer to attach: {0:?}")]
    UnexpectedToAttach(Box<Answer>),
    /// The supervisor speaks another control protocol or event format than this cockpit
    /// (another version of gracewatch): nothing was read past its handshake. Bad input to
    /// this version: exit status 2.
    #[error("{0}")]
    Incompatible(String),
}

/// `\nrunning sessions:\n  a\n  b`, or nothing when none runs.
fn running_hint(sessions: &[FoundSession]) -> String {
    if sessions.is_empty() {
        return String::new();
    }
    let names: Vec<String> = sessions.iter().map(|s| format!("\n  {}", s.name)).collect();
    format!("\nrunning sessions:{}", names.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_errors_list_what_is_running() {
        let running =
            ["a", "b"].map(|n| FoundSession { name: n.into(), socket: PathBuf::from(format!("/run/{n}.sock")) });
        let several = Error::SeveralSessions { running: running.to_vec() };
        assert_eq!(
            several.to_string(),
            "several sessions are running; pick one with --session NAME:\nrunning sessions:\n  a\n  b"
        );
        let missing = Error::NoSuchSession {
            name: "c".into(),
            socket: PathBuf::from("/run/c.sock"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
            running: Vec::new(),
        };
        assert_eq!(missing.to_string(), "no session \"c\" is running (/run/c.sock: entity not found)");
    }
}
