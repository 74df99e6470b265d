//! The live loop: terminal events, session updates and exit signals in one `select!`; folds
//! updates into its own `State`; redraws only when something changed, at most ~30 frames a
//! second, ticking at 10 Hz only while a stop runs (else once a second, for the clock).
//!
//! It is generic over the backend and the event stream, so tests drive it with a
//! `TestBackend` and scripted events, and a pty drives [`super::run`] for real.

use super::action::Action;
use super::app::{LinkMode, NOTICE_NS, Ui};
use super::views::Screen;
use super::{TuiExit, TuiOptions, input};
use crate::clock::Clock;
use crate::control::link::{SessionLink, Update};
use crate::control::protocol::Request;
use crate::event::{EventKind, Signal};
use crate::state::{Fold, Phase, State};
use crossterm::event::{Event as TermEvent, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(33);
/// Countdown refresh while a stop is in progress.
pub const TICK: Duration = Duration::from_millis(100);
/// Updates folded before the screen gets a chance to redraw.
const BATCH: usize = 4096;

/// The session as the driver holds it: the live state and both channels.
struct Session {
    live: Fold,
    updates: tokio::sync::mpsc::Receiver<Update>,
    requests: tokio::sync::mpsc::Sender<Request>,
    clock: Option<Clock>,
}

impl Session {
    fn new(link: SessionLink) -> Session {
        let clock = link.state.header.as_ref().map(|h| Clock::from_start(h.monotonic_ns));
        Session {
            live: Fold::resume(link.state, crate::hazards::lints()),
            updates: link.updates,
            requests: link.requests,
            clock,
        }
    }
}

/// What the screen shows while paused.
struct Frozen {
    state: State,
    now: u64,
}

/// Runs the cockpit on `terminal` until the operator quits, the session is stopped (under
/// `up`), or `exit_signals` yields.
pub async fn drive<B, E, S>(
    terminal: &mut Terminal<B>,
    mut events: E,
    mut exit_signals: S,
    link: SessionLink,
    mut opts: TuiOptions,
) -> Result<TuiExit, super::Error>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<TermEvent>> + Unpin,
    S: Stream<Item = Signal> + Unpin,
{
    let theme = opts.theme.unwrap_or_else(super::theme::Theme::from_env);
    let size = terminal.size().map_err(super::Error::draw)?;
    let mut ui = Ui::new(LinkMode::from(&link.kind), theme, Rect::new(0, 0, size.width, size.height));
    ui.link.can_reconnect = opts.reconnect.is_some();
    let mut session = Session::new(link);
    let mut frozen: Option<Frozen> = None;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut signals_open = true;

    loop {
        let now = current_time(&mut opts, &session);
        if ui.link.quitting.is_some() && session.live.all_exited() {
            draw(terminal, &session, frozen.as_ref(), &mut ui, now)?;
            return Ok(TuiExit::AllStopped);
        }
        if let (Some(_), Some(reason)) = (ui.link.quitting, &ui.link.closed) {
            // Quitting and the session is gone: nothing more will come to wait for.
            return Ok(TuiExit::LinkClosed(reason.clone()));
        }
        if let (LinkMode::InProcess, Some(reason)) = (ui.link.mode, ui.link.closed.clone()) {
            // In-process, a closed link is the end of the session: there is nothing to reconnect
            // to. After a stop-all every node has exited: the final table stays until `q`.
            // Otherwise (the session failed) the cockpit ends with why.
            if !session.live.all_exited() {
                draw(terminal, &session, frozen.as_ref(), &mut ui, now)?;
                return Ok(TuiExit::LinkClosed(reason));
            }
            if ui.link.finished.is_none() {
                ui.link.finished = Some(session.live.now);
                dirty = true;
            }
        }
        // The selection follows its node: the first row, once there is one, is pinned by name
        // before a live update (CPU, tokens, a stop) can reorder the table under it.
        ui.pin_selection(frozen.as_ref().map_or(&session.live, |f| &f.state));
        if let Some(n) = &mut ui.notice {
            match n.until {
                None => {
                    n.until = Some(now + NOTICE_NS);
                    dirty = true;
                }
                Some(until) if until <= now => {
                    ui.notice = None;
                    dirty = true;
                }
                Some(_) => {}
            }
        }
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            draw(terminal, &session, frozen.as_ref(), &mut ui, now)?;
            last_draw = Some(Instant::now());
            dirty = false;
        }

        let wake = next_wake(dirty, last_draw, frozen.is_some(), &session, &ui, now);
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let display = frozen.as_ref().map_or(session.live.state(), |f| &f.state);
                    let (changed, action) = on_terminal_event(ev, &mut ui, display);
                    dirty |= changed;
                    if let Some(action) = action {
                        dirty = true;
                        if let Some(exit) = act(action, &mut ui, &mut session, &mut frozen, &mut opts, now) {
                            return Ok(exit);
                        }
                    }
                }
                Some(Err(e)) => return Err(super::Error::Read(e)),
                None => return Ok(TuiExit::InputClosed),
            },
            up = session.updates.recv(), if ui.link.closed.is_none() => {
                dirty = true;
                let mut next = up;
                let mut n = 0;
                loop {
                    let Some(u) = next else {
                        ui.link.closed = Some("the session's update stream ended".to_string());
                        break;
                    };
                    fold(u, &mut ui, &mut session);
                    n += 1;
                    if n >= BATCH || ui.link.closed.is_some() {
                        break;
                    }
                    next = match session.updates.try_recv() {
                        Ok(u) => Some(u),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => None,
                    };
                }
            },
            sig = exit_signals.next(), if signals_open => match sig {
                Some(sig) => return Ok(TuiExit::Terminated(sig)),
                None => signals_open = false,
            },
            () = tokio::time::sleep_until(wake.into()) => {
                if (frozen.is_none() && ui.link.finished.is_none()) || ui.notice.is_some() {
                    dirty = true;
                }
            }
        }
    }
}

fn current_time(opts: &mut TuiOptions, session: &Session) -> u64 {
    match (&mut opts.now, session.clock) {
        (Some(f), _) => f(),
        (None, Some(clock)) => clock.now().max(session.live.now),
        (None, None) => session.live.now,
    }
}

fn draw<B: Backend>(
    terminal: &mut Terminal<B>,
    session: &Session,
    frozen: Option<&Frozen>,
    ui: &mut Ui,
    now: u64,
) -> Result<(), super::Error>
where
    B::Error: Send + Sync + 'static,
{
    let (state, shown_now) = match frozen {
        Some(f) => {
            ui.behind = session.live.events_applied.saturating_sub(f.state.events_applied);
            (&f.state, f.now)
        }
        // A finished session's clock stopped at its last event (notices still time out).
        None => (session.live.state(), ui.link.finished.unwrap_or(now)),
    };
    terminal.draw(|f| f.render_widget(&Screen::new(state, ui, shown_now), f.area())).map_err(super::Error::draw)?;
    Ok(())
}

/// When to wake up if nothing happens: the next allowed frame, the next countdown tick, the
/// end of a notice, or the next second of the header's clock.
fn next_wake(dirty: bool, last_draw: Option<Instant>, paused: bool, session: &Session, ui: &Ui, now: u64) -> Instant {
    let at = Instant::now();
    if dirty {
        return last_draw.map_or(at, |t| t + FRAME);
    }
    let stopping = !paused && session.live.nodes.values().any(|n| n.phase == Phase::Stopping);
    let mut wake = if stopping {
        at + TICK
    } else {
        let started = session.live.header.as_ref().map_or(0, |h| h.started_unix_ms);
        let ms = (started + now / 1_000_000) % 1000;
        at + Duration::from_millis(1000 - ms)
    };
    if let Some(until) = ui.notice.as_ref().and_then(|n| n.until) {
        wake = wake.min(at + Duration::from_nanos(until.saturating_sub(now)));
    }
    wake
}

/// Applies one update to the live state.
fn fold(update: Update, ui: &mut Ui, session: &mut Session) {
    match update {
        Update::Event(ev) => {
            if let EventKind::SessionStarted(h) = &ev.ev {
                session.clock = Some(Clock::from_start(h.monotonic_ns));
            }
            session.live.apply(&ev);
        }
        Update::Resync(state, dropped) => {
            session.live.replace(*state);
            if let Some(h) = &session.live.header {
                session.clock = Some(Clock::from_start(h.monotonic_ns));
            }
            ui.link.dropped += dropped;
        }
        Update::Notice(text) => ui.notify(text),
        Update::Closed(reason) => ui.link.closed = Some(reason),
    }
}

/// A terminal event: (does the screen need redrawing, what to do).
fn on_terminal_event(ev: TermEvent, ui: &mut Ui, display: &State) -> (bool, Option<Action>) {
    match ev {
        TermEvent::Key(k) => (true, input::on_key(k, ui, display)),
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::Moved | MouseEventKind::Drag(_) | MouseEventKind::Up(_) => (false, None),
            _ => (true, input::on_mouse(m, ui, display)),
        },
        TermEvent::Resize(w, h) => {
            ui.screen = Rect::new(0, 0, w, h);
            (true, None)
        }
        TermEvent::Paste(text) => (input::on_paste(&text, ui), None),
        TermEvent::FocusGained | TermEvent::FocusLost => (false, None),
    }
}

/// Carries out an action; `Some` ends the cockpit.
fn act(
    action: Action,
    ui: &mut Ui,
    session: &mut Session,
    frozen: &mut Option<Frozen>,
    opts: &mut TuiOptions,
    now: u64,
) -> Option<TuiExit> {
    match action {
        Action::Send(req) => {
            match session.requests.try_send(req) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => ui.notify("the supervisor is busy: request not sent, try again"),
                Err(TrySendError::Closed(_)) => ui.notify("the session is gone: request not sent"),
            }
            None
        }
        Action::Pause => {
            *frozen = Some(Frozen { state: session.live.state().clone(), now });
            None
        }
        Action::Resume => {
            *frozen = None;
            ui.behind = 0;
            None
        }
        Action::Quit => Some(match (&ui.link.closed, ui.link.mode) {
            (Some(_), LinkMode::InProcess) if ui.link.finished.is_some() => TuiExit::AllStopped,
            (Some(reason), _) => TuiExit::LinkClosed(reason.clone()),
            (None, LinkMode::Attached) => TuiExit::Detached,
            (None, LinkMode::InProcess) => TuiExit::AllStopped,
            (None, LinkMode::Replay) => TuiExit::Quit,
        }),
        // Replay commands come from replay's keys only; the live cockpit has no clock to move.
        Action::Replay(_) => None,
        Action::Reconnect => {
            let reconnect = opts.reconnect.as_mut()?;
            match reconnect() {
                Ok(link) => {
                    ui.link.mode = LinkMode::from(&link.kind);
                    *session = Session::new(link);
                    *frozen = None;
                    ui.paused = false;
                    ui.link.closed = None;
                    ui.notify("reconnected");
                }
                Err(e) => ui.notify(format!("reconnect failed: {e}")),
            }
            None
        }
    }
}
