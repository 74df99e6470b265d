//! `gracewatch up`: run a manifest's nodes.

use super::args::UpArgs;
use crate::Error;
use crate::event::SessionMode;
use crate::manifest::Manifest;
use crate::supervisor::{Session, SessionConfig, SessionHandle, SessionOutcome};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

pub(super) fn up(args: UpArgs) -> Result<ExitCode, Error> {
    let manifest = crate::manifest::load_to_run(&args.manifest)?;
    run_session(manifest, SessionMode::Up, args.journal, args.headless, BTreeMap::new())
}

/// Runs a session to its end; shared by `up` and `demo`.
pub(super) fn run_session(
    manifest: Manifest,
    mode: SessionMode,
    journal: Option<PathBuf>,
    headless: bool,
    extra_env: BTreeMap<String, String>,
) -> Result<ExitCode, Error> {
    init_logging();
    let rt = super::runtime()?;
    use std::io::IsTerminal;
    let headless = headless || !std::io::stdout().is_terminal();
    // Refused before the session has made its sockets.
    #[cfg(not(feature = "tui"))]
    if !headless {
        return Err(super::no_cockpit("up without --headless"));
    }
    rt.block_on(async move {
        let cfg = SessionConfig {
            manifest,
            mode,
            journal,
            print: headless,
            end_when_all_exited: headless,
            extra_env,
            targets: None,
        };
        let (session, handle) = Session::start(cfg)?;
        if headless {
            super::out::note(&format!(
                "gracewatch: session {} · journal {} · control {}",
                handle.session,
                handle.journal.as_ref().map_or_else(|| "-".into(), |p| p.display().to_string()),
                handle.control_socket.display()
            ));
        }
        let outcome = if headless { session.run().await? } else { with_cockpit(session, &handle).await? };
        if let Some(j) = &outcome.journal {
            super::say_journal(j);
        }
        super::say_journal_problem(&outcome);
        Ok(if outcome.clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// The session under the cockpit, to its end; then each node's end, said once the terminal is
/// restored.
#[cfg(feature = "tui")]
async fn with_cockpit(session: Session, handle: &SessionHandle) -> Result<SessionOutcome, Error> {
    let running = tokio::spawn(session.run());
    let link =
        crate::supervisor::link::in_process_link(handle.commands.clone(), crate::control::link::LinkKind::InProcess)
            .await?;
    let tui = crate::tui::run(link, crate::tui::TuiOptions::default()).await;
    // However the cockpit ended, the session ends too (stopping what still runs).
    let _ = handle.commands.send(crate::supervisor::Command::End).await;
    let outcome = running.await.map_err(Error::SessionTask)??;
    tui?;
    for (node, cause) in &outcome.summary {
        super::out::note(&format!(
            "gracewatch: {node}: {}",
            cause.map_or_else(|| "did not end".to_string(), crate::event::ExitCause::describe)
        ));
    }
    Ok(outcome)
}

/// Never reached: `run_session` refuses first (this only keeps one call for both builds).
#[cfg(not(feature = "tui"))]
#[allow(clippy::unused_async)] // the cockpit's stand-in: the same call as with the cockpit
async fn with_cockpit(_: Session, _: &SessionHandle) -> Result<SessionOutcome, Error> {
    Err(super::no_cockpit("up without --headless"))
}

/// gracewatch's own diagnostics go to a file, never to the terminal the cockpit draws on.
/// `GRACEWATCH_LOG` sets the filter (default `warn`).
pub(super) fn init_logging() {
    let dir = crate::journal::state_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    // Blocking appends (warnings are rare): every line is in the file when gracewatch exits.
    let Ok(file) =
        tracing_appender::rolling::RollingFileAppender::builder().filename_prefix("gracewatch.log").build(&dir)
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRACEWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(file).try_init();
}
