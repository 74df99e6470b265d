//! The control socket: `ps`, `stop` and `attach` from other processes of the same user.

use super::command::Command;
use super::dispatch::Answered;
use crate::control::link::{LinkKind, Update};
use crate::control::protocol::{Answer, Request};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// Longest request line.
const MAX_REQUEST: u64 = 64 * 1024;

/// Binds the socket (mode 0600). A live socket of the same name means the session is already
/// running; a dead one is replaced.
pub(crate) fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("a session is already running on {}", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Held by the accept loop and by every connection task while it serves.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    /// Never sent on: held for its drop.
    _alive: mpsc::Sender<()>,
}

/// Completes once every [`Open`] is gone: the session lets the connections' last answers go
/// out before the process exits (a `stop --wait` must hear how its stop ended).
#[derive(Debug)]
pub(crate) struct Drain(mpsc::Receiver<()>);

pub(crate) fn tracking() -> (Open, Drain) {
    let (tx, rx) = mpsc::channel(1);
    (Open { _alive: tx }, Drain(rx))
}

impl Drain {
    /// Waits until every connection has closed, at most `limit`.
    pub(crate) async fn wait(mut self, limit: std::time::Duration) {
        // Nothing is ever sent: `recv` ends when the last sender is dropped.
        let _ = tokio::time::timeout(limit, self.0.recv()).await;
    }
}

pub(crate) async fn serve(listener: UnixListener, path: PathBuf, commands: mpsc::Sender<Command>, open: Open) {
    let me = rustix::process::getuid().as_raw();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {}
            other => {
                tracing::warn!("control connection refused: peer credentials {other:?}");
                continue;
            }
        }
        let (path, commands, held) = (path.clone(), commands.clone(), open.clone());
        tokio::spawn(async move {
            handle(stream, path, commands).await;
            drop(held);
        });
    }
}

async fn write(out: &mut tokio::net::unix::OwnedWriteHalf, answer: &Answer) -> bool {
    let mut line = serde_json::to_vec(answer).unwrap_or_default();
    line.push(b'\n');
    out.write_all(&line).await.is_ok()
}

/// A request line that could not be taken.
#[derive(Debug)]
pub(crate) enum BadRequest {
    /// Over [`MAX_REQUEST`].
    TooLong,
    /// Not a request.
    Invalid(serde_json::Error),
}

impl BadRequest {
    /// The client's mistake: bad input.
    #[allow(dead_code, clippy::unused_self)] // to be read by the one print site (the errors part of issue 11)
    pub(crate) fn exit_code(&self) -> u8 {
        2
    }
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRequest::TooLong => f.write_str("request over 64 KiB"),
            BadRequest::Invalid(e) => write!(f, "bad request: {e}"),
        }
    }
}

impl std::error::Error for BadRequest {}

async fn read_request(input: &mut BufReader<tokio::net::unix::OwnedReadHalf>) -> Option<Result<Request, BadRequest>> {
    let mut buf = Vec::new();
    let n = (&mut *input).take(MAX_REQUEST + 1).read_until(b'\n', &mut buf).await.ok()?;
    if n == 0 {
        return None;
    }
    if buf.len() as u64 > MAX_REQUEST {
        return Some(Err(BadRequest::TooLong));
    }
    Some(serde_json::from_slice::<Request>(buf.trim_ascii()).map_err(BadRequest::Invalid))
}

async fn handle(stream: UnixStream, path: PathBuf, commands: mpsc::Sender<Command>) {
    let (rd, mut out) = stream.into_split();
    let mut input = BufReader::new(rd);
    while let Some(req) = read_request(&mut input).await {
        let answer = match req {
            Err(bad) => Answer::Error { message: bad.to_string() },
            Ok(Request::Attach) => {
                attach(input, out, path, commands).await;
                return;
            }
            Ok(req) => match one(&commands, req, &mut out).await {
                Some(a) => a,
                None => return,
            },
        };
        if !write(&mut out, &answer).await {
            return;
        }
    }
}

/// Answers one non-streaming request (for `stop --wait`, writes the acceptance first).
async fn one(
    commands: &mpsc::Sender<Command>,
    req: Request,
    out: &mut tokio::net::unix::OwnedWriteHalf,
) -> Option<Answer> {
    let Answered { answer, then } = super::dispatch::ask(commands, req).await?;
    let Some(then) = then else { return Some(answer) };
    if !write(out, &answer).await {
        return None;
    }
    Some(then.await.map_or_else(|_| super::dispatch::ended(), |nodes| Answer::Stopped { nodes }))
}

/// Streams the session to an attached cockpit through the same link `up` uses in-process:
/// first what this supervisor speaks ([`Answer::attached`]), then the state, then the events.
async fn attach(
    mut input: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut out: tokio::net::unix::OwnedWriteHalf,
    path: PathBuf,
    commands: mpsc::Sender<Command>,
) {
    if !write(&mut out, &Answer::attached()).await {
        return;
    }
    let Ok(mut link) = super::link::in_process_link(commands, LinkKind::Attached { socket: path }).await else {
        let _ = write(&mut out, &super::dispatch::ended()).await;
        return;
    };
    if !write(&mut out, &Answer::State { state: Box::new(std::mem::take(&mut link.state)), dropped: 0 }).await {
        return;
    }
    loop {
        tokio::select! {
            update = link.updates.recv() => {
                let answer = match update {
                    Some(Update::Event(event)) => Answer::Event { event: *event },
                    Some(Update::Resync(state, dropped)) => Answer::State { state, dropped },
                    Some(Update::Notice(message)) => Answer::Notice { message },
                    Some(Update::Closed(_)) | None => return,
                };
                if !write(&mut out, &answer).await {
                    return;
                }
            }
            req = read_request(&mut input) => match req {
                None => return,
                Some(Ok(req)) => {
                    if link.requests.send(req).await.is_err() {
                        return;
                    }
                }
                Some(Err(bad)) => {
                    if !write(&mut out, &Answer::Error { message: bad.to_string() }).await {
                        return;
                    }
                }
            }
        }
    }
}
