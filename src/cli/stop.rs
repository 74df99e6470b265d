//! `gracewatch stop`: stop nodes of a running session.

use super::args::StopArgs;
use super::{CliError, CliResult};
use crate::control::protocol::{Answer, Request};
use crate::event::Requester;
use std::process::ExitCode;

pub fn stop(args: &StopArgs) -> CliResult {
    let session = crate::control::session::resolve(args.session.session.as_deref()).map_err(CliError::failed)?;
    let request = Request::Stop {
        nodes: args.nodes.clone(),
        all: args.all,
        force: args.force,
        grace_ms: args.grace,
        signal: args.signal,
        wait: args.wait,
        by: Requester::Ctl,
    };
    let mut failure: Option<CliError> = None;
    let mut clean = true;
    crate::control::client::converse(&session.socket, &request, |answer| match answer {
        Answer::Accepted { nodes, plan } => {
            for (n, p) in nodes.iter().zip(plan) {
                println!("stopping {n}: {p}");
            }
            args.wait
        }
        Answer::Stopped { nodes } => {
            for n in nodes {
                let Some(cause) = n.cause else {
                    clean = false;
                    println!("{}: still running when the session ended", n.node);
                    continue;
                };
                clean &= cause.is_clean();
                let took = n.took_ms.map_or_else(String::new, |ms| format!(" in {}", crate::util::fmt_ms(ms)));
                println!("{}: {} ({}){took}", n.node, cause.as_str(), n.status);
            }
            false
        }
        Answer::Error { message } => {
            failure = Some(CliError::failed(message));
            false
        }
        other => {
            failure = Some(CliError::failed(format!("unexpected answer: {other:?}")));
            false
        }
    })
    .map_err(CliError::failed)?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
