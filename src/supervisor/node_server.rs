//! The node socket: instrumented nodes connect here and speak the wire protocol
//! (`docs/protocol.md`). Each connection is a task that checks the handshake, decodes lines
//! under hard limits and hands messages to the session, which validates them against the
//! folded state (a token released that was never issued) and records them as events. A node
//! that breaks the protocol is cut off with a visible event; it keeps running, and nothing else
//! is affected.

use super::input::{ConnCommand, Input, WireInput};
use crate::wire::{self, MAX_LINE, NodeMsg, SupervisorMsg};
use std::collections::HashMap;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// Node secrets, fixed when the session starts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    by_node: HashMap<String, String>,
}

impl Secrets {
    pub(crate) fn insert(&mut self, node: &str, secret: String) {
        self.by_node.insert(node.to_string(), secret);
    }

    pub(crate) fn get(&self, node: &str) -> Option<&str> {
        self.by_node.get(node).map(String::as_str)
    }

    /// Compares in constant time for equal lengths.
    fn check(&self, node: &str, secret: &str) -> Result<(), ConnError> {
        let Some(expected) = self.by_node.get(node) else { return Err(ConnError::UnknownNode(node.to_string())) };
        let (a, b) = (expected.as_bytes(), secret.as_bytes());
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same { Ok(()) } else { Err(ConnError::BadSecret(node.to_string())) }
    }
}

/// Why a node connection was refused or cut (the events say it as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnError {
    /// The hello named a node the session does not have.
    UnknownNode(String),
    /// The hello's secret is not the node's.
    BadSecret(String),
    /// The first message was not a hello (its type).
    NotHello(&'static str),
    /// A line that breaks the wire protocol.
    Line(wire::WireError),
    /// The socket could not be read.
    Read(String),
}

impl ConnError {
    /// A node's mistake (bad input, 2), except a read that failed (1).
    #[allow(dead_code)] // to be read by the one print site (the errors part of issue 11)
    pub(crate) fn exit_code(&self) -> u8 {
        if matches!(self, ConnError::Read(_)) { 1 } else { 2 }
    }
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::UnknownNode(node) => write!(f, "unknown node {node:?}"),
            ConnError::BadSecret(node) => write!(f, "bad secret for node {node:?}"),
            ConnError::NotHello(got) => write!(f, "the first message must be hello, got {got}"),
            ConnError::Line(e) => e.fmt(f),
            ConnError::Read(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for ConnError {}

pub(crate) fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub(crate) async fn serve(listener: UnixListener, session: String, secrets: Secrets, sink: mpsc::Sender<Input>) {
    let mut next_conn = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        next_conn += 1;
        tokio::spawn(connection(stream, next_conn, session.clone(), secrets.clone(), sink.clone()));
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes. `Ok(None)` at end of stream; a line over the
/// limit is an error (and the rest of the connection is not read).
async fn read_line(
    input: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> Result<Option<()>, ConnError> {
    buf.clear();
    let limit = MAX_LINE as u64 + 2;
    let n = (&mut *input).take(limit).read_until(b'\n', buf).await.map_err(|e| ConnError::Read(e.to_string()))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if n as u64 == limit {
        return Err(ConnError::Line(wire::WireError::TooLong(buf.len())));
    }
    Ok(Some(()))
}

async fn send(out: &mut tokio::net::unix::OwnedWriteHalf, msg: &SupervisorMsg) -> bool {
    out.write_all(&wire::encode_line(msg)).await.is_ok()
}

async fn connection(stream: UnixStream, conn: u64, session: String, secrets: Secrets, sink: mpsc::Sender<Input>) {
    let (rd, mut out) = stream.into_split();
    let mut input = BufReader::new(rd);
    let mut buf = Vec::with_capacity(256);

    // Handshake.
    let first = match read_line(&mut input, &mut buf).await {
        Ok(Some(())) => wire::decode_node_line(&buf).map_err(ConnError::Line),
        Ok(None) => return,
        Err(e) => Err(e),
    };
    let (node, pid, language, client_version, listens_stop) = match first {
        Ok(NodeMsg::Hello { node, secret, pid, language, client_version, listens_stop, .. }) => {
            match secrets.check(&node, &secret) {
                Ok(()) => (node, pid, language, client_version, listens_stop),
                Err(e) => {
                    let reason = e.to_string();
                    let _ = send(&mut out, &SupervisorMsg::Refused { reason: reason.clone() }).await;
                    let _ = sink.send(Input::Wire(WireInput::Refused { node: Some(node), reason })).await;
                    return;
                }
            }
        }
        Ok(other) => {
            let reason = ConnError::NotHello(msg_type(&other)).to_string();
            let _ = send(&mut out, &SupervisorMsg::Refused { reason: reason.clone() }).await;
            let _ = sink.send(Input::Wire(WireInput::Refused { node: None, reason })).await;
            return;
        }
        Err(e) => {
            let reason = e.to_string();
            let _ = send(&mut out, &SupervisorMsg::Refused { reason: reason.clone() }).await;
            let _ = sink.send(Input::Wire(WireInput::Refused { node: None, reason })).await;
            return;
        }
    };
    if !send(&mut out, &SupervisorMsg::Welcome { session, node: node.clone(), protocol: wire::PROTOCOL_VERSION }).await
    {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<ConnCommand>(16);
    let hello = WireInput::Connected { conn, node: node.clone(), pid, language, client_version, listens_stop, tx };
    if sink.send(Input::Wire(hello)).await.is_err() {
        return;
    }

    let reason = loop {
        tokio::select! {
            line = read_line(&mut input, &mut buf) => match line {
                Ok(None) => break "the node closed the connection".to_string(),
                Err(e) => {
                    let error = e.to_string();
                    let _ = sink.send(Input::Wire(WireInput::BadLine { conn, node: node.clone(), error })).await;
                    break "cut: protocol error".to_string();
                }
                Ok(Some(())) => {
                    if buf.is_empty() {
                        continue;
                    }
                    let input = match wire::decode_node_line(&buf) {
                        Ok(msg) => WireInput::Message { conn, node: node.clone(), msg },
                        Err(e) => WireInput::BadLine { conn, node: node.clone(), error: e.to_string() },
                    };
                    let bad = matches!(input, WireInput::BadLine { .. });
                    if sink.send(Input::Wire(input)).await.is_err() {
                        return;
                    }
                    if bad {
                        break "cut: protocol error".to_string();
                    }
                }
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCommand::Send(msg)) => {
                    if !send(&mut out, &msg).await {
                        break "write to the node failed".to_string();
                    }
                }
                Some(ConnCommand::Cut) | None => break "cut: protocol error".to_string(),
            },
        }
    };
    let _ = sink.send(Input::Wire(WireInput::Closed { conn, node, reason })).await;
}

fn msg_type(msg: &NodeMsg) -> &'static str {
    match msg {
        NodeMsg::Hello { .. } => "hello",
        NodeMsg::ListenStop => "listen_stop",
        NodeMsg::Handler { .. } => "handler",
        NodeMsg::TokenIssued { .. } => "token_issued",
        NodeMsg::TokenReleased { .. } => "token_released",
        NodeMsg::Fork { .. } => "fork",
        NodeMsg::StopAck => "stop_ack",
        NodeMsg::Dropped { .. } => "dropped",
    }
}

/// The session's view of one connection.
pub(crate) struct Conn {
    pub node: String,
    pub listening: bool,
    pub tx: mpsc::Sender<ConnCommand>,
}
