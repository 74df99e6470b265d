//! A [`SessionLink`] onto a running session, in-process. `up` hands it to its cockpit; the
//! control server wraps the same link for `attach`, so both see exactly the same stream.

use super::command::{Command, CommandError};
use crate::control::link::{LinkKind, SessionLink, Update};
use crate::control::protocol::Request;
use tokio::sync::{broadcast::error::RecvError, mpsc, oneshot};

pub(crate) async fn in_process_link(
    commands: mpsc::Sender<Command>,
    kind: LinkKind,
) -> Result<SessionLink, CommandError> {
    let (state, mut events) = subscribe(&commands).await?;
    let _ = commands.send(Command::Viewers(1)).await;
    let (up_tx, up_rx) = mpsc::channel::<Update>(1024);
    let (req_tx, mut req_rx) = mpsc::channel::<Request>(64);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = events.recv() => match got {
                    Ok(ev) => {
                        if up_tx.send(Update::Event(Box::new((*ev).clone()))).await.is_err() {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(dropped)) => match subscribe(&commands).await {
                        Ok((state, rx)) => {
                            events = rx;
                            if up_tx.send(Update::Resync(state, dropped)).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = up_tx.send(Update::Closed(e.to_string())).await;
                            break;
                        }
                    },
                    Err(RecvError::Closed) => {
                        let _ = up_tx.send(Update::Closed("the session ended".into())).await;
                        break;
                    }
                },
                req = req_rx.recv() => {
                    let Some(req) = req else { break };
                    if let Some(notice) = forward(&commands, req).await {
                        if up_tx.send(Update::Notice(notice)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        let _ = commands.send(Command::Viewers(-1)).await;
    });
    Ok(SessionLink { kind, state: *state, updates: up_rx, requests: req_tx })
}

async fn subscribe(commands: &mpsc::Sender<Command>) -> Result<super::command::Subscription, CommandError> {
    let (tx, rx) = oneshot::channel();
    commands.send(Command::Subscribe(tx)).await.map_err(|_| CommandError::SessionEnded)?;
    rx.await.map_err(|_| CommandError::SessionEnded)
}

/// Passes a cockpit's request on; returns a line to show the operator.
async fn forward(commands: &mpsc::Sender<Command>, req: Request) -> Option<String> {
    let answered = super::dispatch::ask(commands, req.clone()).await?;
    super::dispatch::notice(&req, &answered.answer)
}
