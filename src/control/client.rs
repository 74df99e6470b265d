//! The client side of the control socket: one request, its answers.

use super::protocol::{Answer, Request};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Sends `request` and calls `on_answer` for each answer line until it returns false or the
/// supervisor closes the connection.
pub fn converse(socket: &Path, request: &Request, mut on_answer: impl FnMut(Answer) -> bool) -> Result<(), String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let mut line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    line.push(b'\n');
    stream.write_all(&line).map_err(|e| format!("cannot send the request: {e}"))?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line.map_err(|e| format!("connection to the supervisor broke: {e}"))?;
        let answer: Answer =
            serde_json::from_str(&line).map_err(|e| format!("unreadable answer from the supervisor: {e}"))?;
        if !on_answer(answer) {
            return Ok(());
        }
    }
    Err("the supervisor closed the connection (did the session end?)".to_string())
}

/// One request, one answer.
pub fn ask(socket: &Path, request: &Request) -> Result<Answer, String> {
    let mut got = None;
    converse(socket, request, |a| {
        got = Some(a);
        false
    })?;
    got.ok_or_else(|| "no answer".to_string())
}
