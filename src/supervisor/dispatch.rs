//! Every way a request reaches the running session goes through here: the control socket
//! (`gracewatch ps`, `stop`, `signal`), an attached cockpit and the in-process one. A request
//! becomes the session's [`Command`] in one place ([`ask`]), its answer is made in one place,
//! and a cockpit's line about it is said in one place ([`notice`]).

use super::command::{Command, CommandError, StopReply};
use crate::control::protocol::{Answer, Request, StoppedNode, stopping_line};
use tokio::sync::{mpsc, oneshot};

/// The answer to one request; after a `stop` with `wait`, the `stopped` answer still to come.
pub(crate) struct Answered {
    pub answer: Answer,
    pub then: Option<oneshot::Receiver<Vec<StoppedNode>>>,
}

impl From<Answer> for Answered {
    fn from(answer: Answer) -> Self {
        Answered { answer, then: None }
    }
}

/// The answer when the session ended before it answered.
pub(crate) fn ended() -> Answer {
    Answer::Error { message: "the session is ending".into() }
}

/// Hands one request to the session and waits for its answer. `None`: the session is gone (it
/// no longer takes commands). `attach` is a stream, not a request: it has no answer here.
pub(crate) async fn ask(commands: &mpsc::Sender<Command>, req: Request) -> Option<Answered> {
    match req {
        Request::Ps => {
            let (tx, rx) = oneshot::channel();
            commands.send(Command::Ps(tx)).await.ok()?;
            Some(rx.await.map_or_else(|_| ended(), |snapshot| Answer::Ps { snapshot }).into())
        }
        Request::Stop { request, wait } => {
            let (reply, rx) = oneshot::channel();
            let (wait_tx, then) = if wait {
                let (a, b) = oneshot::channel();
                (Some(a), Some(b))
            } else {
                (None, None)
            };
            commands.send(Command::Stop { request, reply, wait: wait_tx }).await.ok()?;
            let reply = rx.await.unwrap_or(Err(CommandError::SessionEnded));
            Some(match stop_answer(reply) {
                answer @ Answer::Accepted { .. } => Answered { answer, then },
                answer => answer.into(),
            })
        }
        Request::Signal { node, signal, by } => {
            let (reply, rx) = oneshot::channel();
            commands.send(Command::Signal { node, signal, by, reply }).await.ok()?;
            Some(
                match rx.await {
                    Ok(Ok(())) => Answer::Ok,
                    Ok(Err(e)) => Answer::Error { message: e.to_string() },
                    Err(_) => ended(),
                }
                .into(),
            )
        }
        Request::Attach => Some(Answer::Error { message: "attach streams: it has no single answer".into() }.into()),
    }
}

/// How a stop was taken, as the control socket says it.
fn stop_answer(reply: Result<StopReply, CommandError>) -> Answer {
    match reply {
        Err(CommandError::SessionEnded) => ended(),
        Err(e) => Answer::Error { message: e.to_string() },
        Ok(reply) if !reply.unknown.is_empty() => Answer::UnknownNodes { unknown: reply.unknown, known: reply.known },
        Ok(reply) => {
            let (nodes, plan) = reply.accepted.into_iter().unzip();
            Answer::Accepted { nodes, plan, exited: reply.exited, refused: reply.refused }
        }
    }
}

/// The line a cockpit shows the operator about a request it made, from the answer it got.
pub(crate) fn notice(req: &Request, answer: &Answer) -> Option<String> {
    match (req, answer) {
        (Request::Stop { .. } | Request::Signal { .. }, Answer::Error { message }) => Some(message.clone()),
        (Request::Stop { .. }, Answer::UnknownNodes { unknown, known }) => {
            Some(format!("no node named {} (the session has {})", unknown.join(", "), known.join(", ")))
        }
        (Request::Stop { .. }, Answer::Accepted { nodes, plan, exited, refused }) => {
            let lines = nodes.iter().zip(plan).map(|(n, p)| stopping_line(n, p));
            Some(lines.chain(exited.iter().cloned()).chain(refused.iter().cloned()).collect::<Vec<_>>().join("; "))
        }
        (Request::Signal { node, signal, .. }, Answer::Ok) => Some(format!("{signal} sent to {node}")),
        _ => None,
    }
}
