//! `gracewatch replay JOURNAL [--speed X] [--at DUR]`: the cockpit's views on a journal.

use super::args::ReplayArgs;
use crate::Error;
use crate::replay::Speed;
use crate::tui::replay_driver::{ReplayOptions, ReplaySession};
use ratatui::layout::Rect;
use std::process::ExitCode;

pub(super) fn replay(args: &ReplayArgs) -> Result<ExitCode, Error> {
    use std::io::IsTerminal;
    let speed = Speed::from_factor(args.speed)?;
    // Opened before the terminal changes mode, so a bad journal is reported plainly: not a
    // journal, unreadable, or written by a newer format version (naming both versions).
    let at = args.at.map(|ms| ms.saturating_mul(1_000_000));
    let opts = ReplayOptions {
        speed,
        at,
        play: true,
        index_cache: crate::replay::cache::default_dir(),
        ..ReplayOptions::default()
    };
    let (w, h) = crossterm::terminal::size().unwrap_or((80, 24));
    let session = ReplaySession::open(&args.journal, &opts, Rect::new(0, 0, w, h))
        .map_err(|e| Error::journal(&args.journal, e))?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "replay needs a terminal; for a text post-mortem of {} use `gracewatch report`",
            args.journal.display()
        )));
    }
    let rt = super::runtime()?;
    rt.block_on(crate::tui::run_replay(session))?;
    Ok(ExitCode::SUCCESS)
}
