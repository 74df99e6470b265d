//! `gracewatch watch`: the cockpit (or a `--json` snapshot) over processes gracewatch did not
//! start.

use super::args::WatchArgs;
use crate::Error;
use crate::event::SessionMode;
use crate::manifest::Manifest;
use crate::supervisor::{Command, Session, SessionConfig, Targets};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

pub(super) fn watch(args: &WatchArgs) -> Result<ExitCode, Error> {
    let targets = targets(args)?;
    let session = format!("watch-{}", std::process::id());
    let manifest = Manifest {
        name: session,
        path: None,
        nodes: Vec::new(),
        hazards: BTreeMap::new(),
        probe_interval_ms: crate::manifest::DEFAULT_PROBE_INTERVAL_MS,
        watch_stop_signal: args.stop_signal,
    };
    super::up::init_logging();
    let rt = super::runtime()?;
    use std::io::IsTerminal;
    // Without a terminal (piped, in a script) a watch prints its events until interrupted.
    let headless = !args.json && !std::io::stdout().is_terminal();
    rt.block_on(async move {
        let cfg = SessionConfig {
            manifest,
            mode: SessionMode::Watch,
            journal: args.journal.clone(),
            print: headless,
            end_when_all_exited: false,
            extra_env: BTreeMap::new(),
            targets: Some(targets),
        };
        let (session, handle) = Session::start(cfg)?;
        if headless {
            super::out::note(&format!(
                "gracewatch: watching · session {} · control {}",
                handle.session,
                handle.control_socket.display()
            ));
            let outcome = session.run().await?;
            super::say_journal_problem(&outcome);
            return Ok(ExitCode::SUCCESS);
        }
        let running = tokio::spawn(session.run());
        let result = if args.json { snapshot(&handle).await } else { cockpit(&handle).await };
        let _ = handle.commands.send(Command::End).await;
        if let Ok(Ok(outcome)) = running.await {
            super::say_journal_problem(&outcome);
        }
        result
    })
}

fn targets(args: &WatchArgs) -> Result<Targets, Error> {
    let chosen =
        usize::from(!args.pids.is_empty()) + usize::from(args.name.is_some()) + usize::from(args.children_of.is_some());
    if chosen != 1 {
        return Err(Error::WatchWhat);
    }
    for pid in args.pids.iter().chain(args.children_of.iter()) {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(Error::NoProcess(*pid));
        }
    }
    Ok(if let Some(name) = &args.name {
        Targets::Name(name.clone())
    } else if let Some(parent) = args.children_of {
        Targets::ChildrenOf(parent)
    } else {
        Targets::Pids(args.pids.clone())
    })
}

/// One `ps --json`-shaped snapshot, once every watched process has been sampled.
async fn snapshot(handle: &crate::supervisor::SessionHandle) -> Result<ExitCode, Error> {
    let ask = || async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle.commands.send(Command::Ps(tx)).await.ok()?;
        rx.await.ok()
    };
    // A process still starting is reported once its start-up is over (from 2 s of age, at most
    // 5 s while it stays busy: `probe::tree::STARTUP_SETTLE_BUSY`); a loaded machine may take
    // longer still.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut snap = ask().await;
    while tokio::time::Instant::now() < deadline {
        let sampled = snap.as_ref().is_some_and(|s| {
            !s.nodes.is_empty() && s.nodes.iter().all(|n| n.handlers.is_some() || n.state == "exited")
        });
        if sampled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        snap = ask().await;
    }
    let snap = snap.ok_or(Error::WatchEndedEarly)?;
    let text = serde_json::to_string_pretty(&snap)?;
    super::out::line(&text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "tui"))]
#[allow(clippy::unused_async)] // the cockpit's stand-in: the same call as with the cockpit
async fn cockpit(_: &crate::supervisor::SessionHandle) -> Result<ExitCode, Error> {
    Err(super::no_cockpit("watch without --json on a terminal"))
}

#[cfg(feature = "tui")]
async fn cockpit(handle: &crate::supervisor::SessionHandle) -> Result<ExitCode, Error> {
    // Quitting a watch detaches: the processes are not ours to stop.
    let kind = crate::control::link::LinkKind::Attached { socket: handle.control_socket.clone() };
    let link = crate::supervisor::link::in_process_link(handle.commands.clone(), kind).await?;
    crate::tui::run(link, crate::tui::TuiOptions::default()).await?;
    if let Some(j) = &handle.journal {
        super::say_journal(j);
    }
    Ok(ExitCode::SUCCESS)
}
