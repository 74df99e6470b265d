//! The client side of the control socket: one request, its answers.

use super::Error;
use super::protocol::{Answer, Request};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Sends `request` and calls `on_answer` for each answer line until it returns false or the
/// supervisor closes the connection.
pub(crate) fn converse(
    socket: &Path,
    request: &Request,
    mut on_answer: impl FnMut(Answer) -> bool,
) -> Result<(), Error> {
    let mut stream =
        UnixStream::connect(socket).map_err(|source| Error::Connect { socket: socket.to_path_buf(), source })?;
    let mut line = serde_json::to_vec(request).map_err(Error::Encode)?;
    line.push(b'\n');
    stream.write_all(&line).map_err(Error::Send)?;
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line = line.map_err(Error::Broken)?;
        let answer: Answer = serde_json::from_str(&line).map_err(Error::Unreadable)?;
        if !on_answer(answer) {
            return Ok(());
        }
    }
    Err(Error::Closed)
}

/// One request, one answer.
pub(crate) fn ask(socket: &Path, request: &Request) -> Result<Answer, Error> {
    let mut got = None;
    converse(socket, request, |a| {
        got = Some(a);
        false
    })?;
    // `converse` returns Ok only once `on_answer` was given an answer.
    got.ok_or(Error::Closed)
}
