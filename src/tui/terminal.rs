//! The real terminal: raw mode, the alternate screen and mouse capture on entry, all undone on
//! every way out: normal return, error, panic (a hook restores the terminal before the panic
//! message prints) and drop.

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// What cockpit mode changed, so each is undone once. Leaving the alternate screen twice would
/// move the cursor back to where it was saved (xterm's `?1049l` restores it), over whatever was
/// printed since, such as a panic message.
static RAW: AtomicBool = AtomicBool::new(false);
static SCREEN: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as the shell left it. Does nothing if it already is.
pub(crate) fn restore() -> io::Result<()> {
    let raw = if RAW.swap(false, Ordering::SeqCst) { disable_raw_mode() } else { Ok(()) };
    let screen = if SCREEN.swap(false, Ordering::SeqCst) {
        execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, Show)
    } else {
        Ok(())
    };
    raw.and(screen)
}

/// Owns the terminal's cockpit mode; dropping it restores the terminal.
pub(crate) struct TerminalGuard {
    previous_hook: Arc<Hook>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen and installs the panic hook.
    pub(crate) fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        let previous_hook: Arc<Hook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            chained(info);
        }));
        // From here on, dropping the guard undoes whatever part of the setup succeeded.
        let guard = TerminalGuard { previous_hook };
        enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        // Set first: a failure half-way must still be undone.
        SCREEN.store(true, Ordering::SeqCst);
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture, Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
        // The hook cannot be changed while panicking; ours stays and only restores again.
        if !std::thread::panicking() {
            let _ = std::panic::take_hook();
            let previous = Arc::clone(&self.previous_hook);
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}
