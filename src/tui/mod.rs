//! The live cockpit: a terminal screen for the moment of stopping.
//!
//! - Views ([`views`]) are pure functions of `(&State, &Ui, now)`; replay can reuse them with
//!   its own driver.
//! - Keys map to actions purely (`input::on_key`), through one table (`keymap::KEYMAP`)
//!   that also draws the key bar and the help screen; each pane ([`panes`]) keeps its own
//!   state and carries out the commands of its context.
//! - [`driver`] is the live loop; [`replay_driver`] the replay's (same views, a replay clock);
//!   `terminal` sets the terminal up and always restores it.

pub mod action;
pub mod app;
pub mod driver;
pub mod error;
pub(crate) mod format;
pub(crate) mod input;
pub(crate) mod keymap;
pub(crate) mod layout;
pub(crate) mod logview;
pub mod panes;
pub mod replay_driver;
pub(crate) mod terminal;
pub mod theme;
pub mod views;

pub use app::Ui;
pub use error::Error;
pub use views::Screen;

use crate::control::link::SessionLink;
use crate::event::Signal;
use futures_util::StreamExt;

/// Makes a fresh link after the old one closed (`attach`'s `r`).
pub type Reconnect = Box<dyn FnMut() -> Result<SessionLink, crate::control::Error> + Send>;

#[derive(Default)]
pub struct TuiOptions {
    /// Offered as `r` when the link closes.
    pub reconnect: Option<Reconnect>,
    /// Session time source; default: the session's clock from its header.
    pub now: Option<Box<dyn FnMut() -> u64 + Send>>,
    /// Default: colour unless `NO_COLOR` is set.
    pub theme: Option<theme::Theme>,
}

/// How the cockpit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuiExit {
    /// Attached, and the operator quit: the session runs on.
    Detached,
    /// In-process: every node has exited (after the operator's quit), or none was left.
    AllStopped,
    /// The link closed and the operator quit instead of reconnecting.
    LinkClosed(String),
    /// gracewatch itself got SIGTERM or SIGHUP; the terminal is restored.
    Terminated(Signal),
    /// The terminal's input ended.
    InputClosed,
    /// Replay: the operator quit.
    Quit,
}

/// The exit signals a cockpit watches for: SIGTERM and SIGHUP to gracewatch.
type ExitSignals = std::pin::Pin<Box<dyn futures_util::Stream<Item = Signal> + Send>>;

/// Runs `drive` on the process's terminal; the terminal is restored however it ends (quit,
/// error, panic, SIGTERM, SIGHUP).
async fn on_terminal(
    drive: impl AsyncFnOnce(
        &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
        crossterm::event::EventStream,
        ExitSignals,
    ) -> Result<TuiExit, Error>,
) -> Result<TuiExit, Error> {
    let signals = signal_hook_tokio::Signals::new([libc::SIGTERM, libc::SIGHUP]).map_err(Error::Signals)?;
    let handle = signals.handle();
    let exit_signals: ExitSignals = Box::pin(signals.filter_map(|n| std::future::ready(Signal::from_number(n))));
    let result = {
        let (guard, mut terminal) = terminal::TerminalGuard::enter().map_err(Error::Terminal)?;
        let result = drive(&mut terminal, crossterm::event::EventStream::new(), exit_signals).await;
        drop(terminal);
        drop(guard);
        result
    };
    handle.close();
    result
}

/// Runs a replay on the process's terminal until the operator quits.
pub async fn run_replay(session: replay_driver::ReplaySession) -> Result<TuiExit, Error> {
    on_terminal(async |terminal, events, exit_signals| {
        replay_driver::drive(terminal, events, exit_signals, session).await
    })
    .await
}

/// Runs the cockpit on the process's terminal until the operator quits.
pub async fn run(link: SessionLink, opts: TuiOptions) -> Result<TuiExit, Error> {
    on_terminal(async |terminal, events, exit_signals| driver::drive(terminal, events, exit_signals, link, opts).await)
        .await
}
