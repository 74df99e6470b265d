//! The node wire protocol: what a managed node and the supervisor say to each other over the
//! session's node socket. JSON lines; see `docs/protocol.md` for every message with an example.
//!
//! This module is always compiled (no supervisor dependencies): the Rust client library uses it.

use crate::signal::Signal;
use serde::{Deserialize, Serialize};

/// Protocol version a client announces in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest line either side accepts, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// Environment variable: path of the session's node socket.
pub const ENV_SOCKET: &str = "GRACEWATCH_SOCKET";
/// Environment variable: this node's name.
pub const ENV_NODE: &str = "GRACEWATCH_NODE";
/// Environment variable: this node's secret, presented in `hello`.
pub const ENV_SECRET: &str = "GRACEWATCH_SECRET";
/// Environment variable: the session's name.
pub const ENV_SESSION: &str = "GRACEWATCH_SESSION";

/// Node → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeMsg {
    /// First message of every connection.
    Hello {
        node: String,
        secret: String,
        pid: u32,
        language: String,
        client_version: String,
        #[serde(default)]
        protocol: u32,
        /// The node already listens for the cooperative stop message.
        #[serde(default)]
        listens_stop: bool,
    },
    /// From now on the node listens for the cooperative stop message.
    ListenStop,
    /// The outcome of installing (or restoring) a signal handler.
    Handler {
        signal: Signal,
        outcome: Outcome,
        owner: String,
        thread: String,
        main_thread: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A buffer was lent to these receivers under this token id.
    TokenIssued { id: u64, receivers: Vec<String> },
    /// One receiver gave the buffer back.
    TokenReleased { id: u64, receiver: String },
    /// A process of the node forked (sent by the child, which knows both pids).
    Fork {
        parent_pid: u32,
        child_pid: u32,
        threads: u32,
        #[serde(default)]
        runtime: bool,
        /// Which of `threads` are the client library's own (they hold nothing the child
        /// could wait for, so they do not make the fork a hazard).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        client_tids: Vec<u32>,
    },
    /// The node received the stop message and is stopping.
    StopAck,
    /// The client had to drop this many messages (its queue was full).
    Dropped { count: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Installed,
    Failed,
    Restored,
}

/// Supervisor → node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupervisorMsg {
    /// The hello was accepted.
    Welcome { session: String, node: String, protocol: u32 },
    /// Please stop. The stop signal follows in `signal_in_ms` unless the node has exited;
    /// SIGKILL lands in `kill_in_ms`.
    Stop { reason: String, signal_in_ms: u64, kill_in_ms: u64 },
    /// The connection is refused and will be closed.
    Refused { reason: String },
}

/// Why a line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    TooLong(usize),
    NotUtf8,
    BadJson(String),
    UnknownType(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::TooLong(n) => write!(f, "line of {n} bytes or more is over the {} KiB limit", MAX_LINE / 1024),
            WireError::NotUtf8 => f.write_str("line is not UTF-8"),
            WireError::BadJson(e) => write!(f, "invalid message: {e}"),
            WireError::UnknownType(t) => write!(f, "unknown message type {t:?}"),
        }
    }
}

impl std::error::Error for WireError {}

const KNOWN_TYPES: [&str; 8] =
    ["hello", "listen_stop", "handler", "token_issued", "token_released", "fork", "stop_ack", "dropped"];

/// Decodes one line (without its newline) from a node.
pub fn decode_node_line(line: &[u8]) -> Result<NodeMsg, WireError> {
    if line.len() > MAX_LINE {
        return Err(WireError::TooLong(line.len()));
    }
    let text = std::str::from_utf8(line).map_err(|_| WireError::NotUtf8)?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    serde_json::from_str::<NodeMsg>(text).map_err(|e| classify(text, &e))
}

/// Tells "unknown type" apart from other decoding errors.
fn classify(text: &str, e: &serde_json::Error) -> WireError {
    #[derive(Deserialize)]
    struct Tagged<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    if let Ok(Tagged { kind: Some(kind) }) = serde_json::from_str::<Tagged>(text) {
        if !KNOWN_TYPES.contains(&kind.as_ref()) {
            return WireError::UnknownType(kind.into_owned());
        }
    }
    WireError::BadJson(e.to_string())
}

/// Encodes a message as one line, newline included.
pub fn encode_line<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing these plain types to a Vec cannot fail.
    let mut out = serde_json::to_vec(msg).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let msgs = vec![
            NodeMsg::Hello {
                node: "cam".into(),
                secret: "s".into(),
                pid: 1,
                language: "rust".into(),
                client_version: "0.1.0".into(),
                protocol: 1,
                listens_stop: true,
            },
            NodeMsg::ListenStop,
            NodeMsg::Handler {
                signal: Signal::TERM,
                outcome: Outcome::Failed,
                owner: "lib".into(),
                thread: "w".into(),
                main_thread: false,
                error: Some("nope".into()),
            },
            NodeMsg::TokenIssued { id: 7, receivers: vec!["a".into()] },
            NodeMsg::TokenReleased { id: 7, receiver: "a".into() },
            NodeMsg::Fork { parent_pid: 1, child_pid: 2, threads: 9, runtime: true, client_tids: vec![3, 4] },
            NodeMsg::StopAck,
            NodeMsg::Dropped { count: 3 },
        ];
        for m in msgs {
            let line = encode_line(&m);
            assert_eq!(decode_node_line(&line[..line.len() - 1]).unwrap(), m);
        }
    }

    #[test]
    fn rejects_what_it_should() {
        assert!(
            matches!(decode_node_line(b"{\"type\":\"teleport\"}"), Err(WireError::UnknownType(t)) if t == "teleport")
        );
        assert!(matches!(decode_node_line(b"not json"), Err(WireError::BadJson(_))));
        // Unknown fields are ignored, so newer clients can add some.
        assert_eq!(decode_node_line(b"{\"type\":\"stop_ack\",\"extra\":1}"), Ok(NodeMsg::StopAck));
        assert!(matches!(
            decode_node_line(b"{\"type\":\"token_issued\",\"id\":-1,\"receivers\":[]}"),
            Err(WireError::BadJson(_))
        ));
        assert!(matches!(decode_node_line(&[0xff, 0xfe]), Err(WireError::NotUtf8)));
        assert!(matches!(decode_node_line(&vec![b' '; MAX_LINE + 1]), Err(WireError::TooLong(_))));
        assert!(matches!(decode_node_line(b"{\"type\":\"handler\",\"signal\":\"SIGFOO\",\"outcome\":\"installed\",\"owner\":\"x\",\"thread\":\"t\",\"main_thread\":true}"), Err(WireError::BadJson(_))));
    }
}
