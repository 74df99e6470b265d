//! A [`SessionLink`] over the control socket, for `gracewatch attach`.

use super::Error;
use super::link::{LinkKind, SessionLink, Update};
use super::protocol::{Answer, PROTOCOL_VERSION, Request};
use crate::event::FORMAT_VERSION;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Connects, asks to attach, checks what the supervisor speaks and waits for the state; then
/// streams. Must be called inside a tokio runtime (it spawns the link's reader and writer
/// tasks).
pub(crate) fn attach(socket: &Path) -> Result<SessionLink, Error> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|source| Error::Connect { socket: socket.to_path_buf(), source })?;
    let mut line = serde_json::to_vec(&Request::Attach).map_err(Error::Encode)?;
    line.push(b'\n');
    stream.write_all(&line).map_err(Error::Attach)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).map_err(Error::Socket)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(Error::Socket)?);
    let mut read_answer = || {
        let mut answer = String::new();
        reader.read_line(&mut answer).map_err(Error::NoAnswer)?;
        Ok::<_, Error>(answer)
    };
    check_handshake(&read_answer()?)?;
    let state = match serde_json::from_str::<Answer>(&read_answer()?) {
        Ok(Answer::State { state, .. }) => *state,
        Ok(Answer::Error { message }) => return Err(Error::Refused(message)),
        Ok(other) => return Err(Error::UnexpectedToAttach(Box::new(other))),
        Err(e) => return Err(Error::Unreadable(e)),
    };
    // Anything the BufReader read past the state line is part of the stream.
    let leftover = reader.buffer().to_vec();
    stream.set_read_timeout(None).map_err(Error::Socket)?;
    stream.set_nonblocking(true).map_err(Error::Socket)?;
    let stream = tokio::net::UnixStream::from_std(stream).map_err(Error::Socket)?;
    let (rd, mut wr) = stream.into_split();
    let (up_tx, up_rx) = tokio::sync::mpsc::channel::<Update>(1024);
    let (req_tx, mut req_rx) = tokio::sync::mpsc::channel::<Request>(64);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(std::io::Cursor::new(leftover).chain_async(rd)).lines();
        loop {
            let update = match lines.next_line().await {
                Ok(Some(line)) => match serde_json::from_str::<Answer>(&line) {
                    Ok(Answer::Event { event }) => Update::Event(Box::new(event)),
                    Ok(Answer::State { state, dropped }) => Update::Resync(state, dropped),
                    Ok(Answer::Notice { message } | Answer::Error { message }) => Update::Notice(message),
                    Ok(_) => continue,
                    Err(e) => Update::Notice(format!("unreadable line from the supervisor: {e}")),
                },
                Ok(None) => Update::Closed("the supervisor ended the session (or exited)".into()),
                Err(e) => Update::Closed(format!("the connection to the supervisor broke: {e}")),
            };
            let closed = matches!(update, Update::Closed(_));
            if up_tx.send(update).await.is_err() || closed {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(req) = req_rx.recv().await {
            let mut line = serde_json::to_vec(&req).unwrap_or_default();
            line.push(b'\n');
            if wr.write_all(&line).await.is_err() {
                return;
            }
        }
    });
    Ok(SessionLink {
        kind: LinkKind::Attached { socket: socket.to_path_buf() },
        state,
        updates: up_rx,
        requests: req_tx,
    })
}

/// Checks the first line answering `attach` ([`Answer::Attached`]) before anything else is
/// read: the versions are read from the bare JSON, so that whatever shape another version's
/// answers have, a mismatch is said as such rather than as a parse error or a misread state.
pub fn check_handshake(line: &str) -> Result<(), Error> {
    let ours = format!(
        "this is gracewatch {} (control protocol {PROTOCOL_VERSION}, event format {FORMAT_VERSION})",
        env!("CARGO_PKG_VERSION")
    );
    let advice = "attach with the same version of gracewatch as the one running the session";
    let value: serde_json::Value = serde_json::from_str(line.trim_end()).map_err(Error::Unreadable)?;
    match value.get("answer").and_then(serde_json::Value::as_str) {
        Some("attached") => {}
        Some("error") => {
            let message = value.get("message").and_then(serde_json::Value::as_str).unwrap_or("refused");
            return Err(Error::Refused(message.to_string()));
        }
        _ => {
            return Err(Error::Incompatible(format!(
                "cannot attach: the session's supervisor does not say which protocol it speaks (a gracewatch \
                 older than this one); {ours}: {advice}"
            )));
        }
    }
    let protocol = value.get("protocol").and_then(serde_json::Value::as_u64);
    let format = value.get("format");
    if protocol == Some(u64::from(PROTOCOL_VERSION)) && format == Some(&serde_json::json!(FORMAT_VERSION)) {
        return Ok(());
    }
    let shown = |v: Option<&serde_json::Value>| v.map_or_else(|| "?".to_string(), ToString::to_string);
    let version = value.get("version").and_then(serde_json::Value::as_str).unwrap_or("?");
    Err(Error::Incompatible(format!(
        "cannot attach: the session's supervisor is gracewatch {version} (control protocol {}, event format {}); \
         {ours}: {advice}",
        shown(value.get("protocol")),
        shown(format)
    )))
}

/// Reads a byte prefix, then an async reader.
trait ChainAsync {
    fn chain_async<R: tokio::io::AsyncRead + Unpin>(self, next: R) -> tokio::io::Chain<Self, R>
    where
        Self: Sized + tokio::io::AsyncRead;
}

impl ChainAsync for std::io::Cursor<Vec<u8>> {
    fn chain_async<R: tokio::io::AsyncRead + Unpin>(self, next: R) -> tokio::io::Chain<Self, R> {
        tokio::io::AsyncReadExt::chain(self, next)
    }
}
