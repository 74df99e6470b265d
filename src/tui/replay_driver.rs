//! Replay: the live cockpit's views on a journal, moved by a replay clock.
//!
//! - [`ReplaySession`] holds the player (the same fold as live), the `Ui` and the clock. It has
//!   no terminal and no timer: wall time is passed in, so tests and benchmarks drive it
//!   directly and render it with [`ReplaySession::screen`], the same `Screen` the live cockpit
//!   draws.
//! - [`drive`] is the loop: terminal events, exit signals and timers. While playing it advances
//!   the player to `start_t + elapsed * speed` at 10 Hz (every frame at "max"), redraws at most
//!   ~30 times a second, and sleeps when paused and the index is built.

use super::action::{Action, ReplayCmd};
use super::app::{NOTICE_NS, ReplayView, SeekTarget, Ui};
use super::views::Screen;
use super::{TuiExit, input};
use crate::event::Signal;
use crate::journal::JournalError;
use crate::journal::checkpoint::Moment;
use crate::replay::{Player, ReplayClock, Speed};
use crossterm::event::{Event as TermEvent, MouseEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use std::path::Path;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// Shortest time between two frames.
pub(crate) const FRAME: Duration = super::driver::FRAME;
/// How often the clock moves while playing.
pub(crate) const TICK: Duration = super::driver::TICK;
/// How often the header's indexing progress is refreshed.
const INDEX_POLL: Duration = Duration::from_millis(250);
/// Folding time one advance may take before the frame is drawn anyway (the replay then runs
/// behind its clock, and the clock waits for it).
const ADVANCE_BUDGET: Duration = Duration::from_millis(25);

/// How a replay starts.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub speed: Speed,
    /// Session time to start at (ns); default the start.
    pub at: Option<u64>,
    /// Start playing at once.
    pub play: bool,
    /// Default: colour unless `NO_COLOR` is set.
    pub theme: Option<super::theme::Theme>,
    /// Where the replay index is cached on disk (`replay::cache::default_dir()` for the CLI);
    /// none: indexed in memory on every open.
    pub index_cache: Option<std::path::PathBuf>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { speed: Speed::Times(1.0), at: None, play: false, theme: None, index_cache: None }
    }
}

/// A replay without a terminal: the player, what the screen shows, and the clock.
pub struct ReplaySession {
    pub player: Player,
    pub ui: Ui,
    clock: ReplayClock,
    /// The session time on screen: at or after the last event applied, before the next one.
    now: u64,
    /// Wall time the current notice goes away at.
    notice_until: Option<u64>,
    told_torn: bool,
    /// Damaged records already told about.
    told_damaged_records: u64,
    told_damaged: bool,
    /// A seek waiting for the index to get there.
    pending: Option<SeekTarget>,
}

impl ReplaySession {
    /// Opens a journal (file or directory of rotated files) at the start or at `opts.at`.
    /// Errors are the journal's: unreadable, not a journal, a newer format version.
    pub fn open(path: &Path, opts: &ReplayOptions, screen: Rect) -> Result<ReplaySession, JournalError> {
        let player = Player::open(path, opts.index_cache.clone())?;
        let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
        let theme = opts.theme.unwrap_or_else(super::theme::Theme::from_env);
        let ui = Ui::replay(theme, screen, ReplayView::new(file, opts.speed));
        let mut s = ReplaySession {
            player,
            ui,
            clock: ReplayClock::new(0, opts.speed),
            now: 0,
            notice_until: None,
            told_torn: false,
            told_damaged_records: 0,
            told_damaged: false,
            pending: None,
        };
        s.sync_index(0);
        if let Some(at) = opts.at {
            s.seek(at, 0);
        }
        if opts.play {
            s.clock.play(0);
        }
        s.sync_view();
        Ok(s)
    }

    /// Is a seek waiting for the index?
    pub fn seeking(&self) -> bool {
        self.pending.is_some()
    }

    /// The session time on screen.
    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn playing(&self) -> bool {
        self.clock.playing()
    }

    pub fn speed(&self) -> Speed {
        self.clock.speed()
    }

    /// The screen, exactly as the live cockpit would draw this state at this time.
    pub fn screen(&self) -> Screen<'_> {
        Screen::new(&self.player.state, &self.ui, self.now)
    }

    /// The screen was resized.
    pub(crate) fn resize(&mut self, screen: Rect) {
        self.ui.screen = screen;
    }

    /// Copies what the index knows into the view; the first time it finds a torn tail or a
    /// damaged record, says so. Returns whether anything shown changed.
    pub fn sync_index(&mut self, wall: u64) -> bool {
        let Some(r) = self.ui.replay.as_mut() else { return false };
        let (mut changed, torn, damaged, damage) = {
            let idx = self.player.index.read().unwrap_or_else(PoisonError::into_inner);
            let before =
                (r.events, r.end_t, r.complete, r.progress_permille, r.unknown_kinds, r.damaged_records, r.marks.len());
            r.events = idx.events;
            r.end_t = idx.end_t;
            if let Some((events, end_t)) = self.player.known_end.filter(|_| !idx.complete) {
                // A journal with checkpoints seeks past the index: its end is read from the file.
                r.events = r.events.max(events);
                r.end_t = r.end_t.max(end_t);
            }
            r.complete = idx.complete;
            r.progress_permille = if idx.complete || idx.bytes_total == 0 {
                1000
            } else {
                (idx.bytes_read.saturating_mul(1000) / idx.bytes_total).min(999) as u16
            };
            r.unknown_kinds = idx.summary.unknown_kinds;
            r.torn_tail = idx.summary.torn_tail.is_some();
            r.damaged_records = idx.summary.damaged;
            if idx.marks.len() != r.marks.len() {
                r.marks.clone_from(&idx.marks);
            }
            if r.damaged.is_none() {
                r.damaged.clone_from(&idx.error);
            }
            let after =
                (r.events, r.end_t, r.complete, r.progress_permille, r.unknown_kinds, r.damaged_records, r.marks.len());
            let damage = (idx.summary.damaged > self.told_damaged_records).then(|| idx.summary.damage()).flatten();
            (before != after, idx.summary.torn_tail, idx.error.clone(), damage.map(|d| (idx.summary.damaged, d)))
        };
        if let Some(target) = self.pending {
            let before = self.player.applied;
            self.go(target, wall);
            changed |= self.pending.is_none() || self.player.applied != before;
        }
        if let Some(bytes) = torn.filter(|_| !self.told_torn) {
            self.told_torn = true;
            let text = format!("the last line is torn ({bytes} bytes, a crash?): replayed everything before it");
            self.notify(text, wall);
            return true;
        }
        if let Some((n, damage)) = damage {
            self.told_damaged_records = n;
            self.notify(format!("the journal is damaged: {damage}; replayed everything else"), wall);
            return true;
        }
        if let Some(error) = damaged.filter(|_| !self.told_damaged) {
            self.told_damaged = true;
            self.notify(format!("the journal cannot be read further, the replay ends there: {error}"), wall);
            return true;
        }
        changed
    }

    fn notify(&mut self, text: String, wall: u64) {
        self.ui.notify(text);
        self.notice_until = Some(wall + NOTICE_NS);
    }

    /// Mirrors the clock and the player into the view.
    fn sync_view(&mut self) {
        self.ui.pin_selection(&self.player.state);
        if let Some(r) = self.ui.replay.as_mut() {
            r.playing = self.clock.playing();
            r.speed = self.clock.speed();
            r.applied = self.player.applied;
        }
    }

    /// The end of the journal, if known.
    fn known_end(&self) -> Option<u64> {
        let idx = self.player.index.read().unwrap_or_else(PoisonError::into_inner);
        idx.complete.then_some(idx.end_t)
    }

    /// Moves to session time `t` (clamped to the journal's end when known): the state of
    /// every event at or before it. Past what the index has read, the seek waits for the index
    /// (shown in the header; the keys stay live) rather than fold from far behind.
    pub(crate) fn seek(&mut self, t: u64, wall: u64) {
        self.go(SeekTarget::Time(t), wall);
    }

    fn go(&mut self, target: SeekTarget, wall: u64) {
        let (complete, reach) = {
            let idx = self.player.index.read().unwrap_or_else(PoisonError::into_inner);
            (idx.complete, idx.end_t)
        };
        let ready = complete || matches!(target, SeekTarget::Time(t) if t <= reach);
        if !ready && self.seek_in_journal(target, wall) {
            return;
        }
        self.pending = (!ready).then_some(target);
        if let Some(r) = self.ui.replay.as_mut() {
            r.seeking = self.pending;
        }
        match (ready, target) {
            (false, _) => {}
            (true, SeekTarget::Time(t)) => self.seek_now(t, wall),
            (true, SeekTarget::End) => {
                let events = self.player.index.read().unwrap_or_else(PoisonError::into_inner).events;
                self.seek_event(events.max(1), wall);
            }
        }
    }

    /// Past what the index has read, a journal with checkpoints inside seeks at once from the
    /// nearest one; false for a journal without (the seek then waits for the index).
    fn seek_in_journal(&mut self, target: SeekTarget, wall: u64) -> bool {
        let t = match target {
            SeekTarget::Time(t) => t,
            SeekTarget::End => u64::MAX,
        };
        if !self.player.seek_in_journal(Moment::Time(t)) {
            return false;
        }
        self.pending = None;
        if let Some(r) = self.ui.replay.as_mut() {
            r.seeking = None;
        }
        self.now = t.max(self.player.state.now);
        if self.player.next_t().is_none() {
            self.now = self.player.state.now;
        }
        self.clock.set(self.now, wall);
        self.sync_view();
        true
    }

    fn seek_now(&mut self, t: u64, wall: u64) {
        let t = self.known_end().map_or(t, |end| t.min(end));
        self.player.seek_to_time(t);
        self.now = t.max(self.player.state.now);
        if self.player.next_t().is_none() {
            self.now = self.player.state.now;
        }
        self.clock.set(self.now, wall);
        self.sync_view();
    }

    /// Moves to just after event `n` (the header is event 1), showing that event's time.
    fn seek_event(&mut self, n: u64, wall: u64) {
        self.player.seek_to_event(n);
        self.now = self.player.state.now;
        self.clock.set(self.now, wall);
        self.sync_view();
    }

    /// Carries out one replay command at wall time `wall`.
    pub fn command(&mut self, cmd: ReplayCmd, wall: u64) {
        // A new command replaces a seek still waiting for the index.
        self.pending = None;
        if let Some(r) = self.ui.replay.as_mut() {
            r.seeking = None;
        }
        let was_playing = self.clock.playing();
        if was_playing {
            // Catch up with the clock first: the command acts on the moment it was given at.
            self.advance(wall);
        }
        match cmd {
            ReplayCmd::PlayPause => {
                if was_playing {
                    self.clock.pause(wall);
                } else {
                    if self.player.next_t().is_none() {
                        // At the end: play again from the start.
                        self.seek_event(1, wall);
                    }
                    self.clock.set(self.now, wall);
                    self.clock.play(wall);
                }
            }
            ReplayCmd::Faster | ReplayCmd::Slower => {
                let s = self.clock.speed();
                let next = if cmd == ReplayCmd::Faster { s.faster() } else { s.slower() };
                self.clock.set(self.now, wall);
                self.clock.set_speed(next, wall);
            }
            ReplayCmd::Step { forward } => {
                self.clock.pause(wall);
                if forward {
                    if self.player.step() {
                        self.now = self.player.state.now.max(self.now);
                        self.clock.set(self.now, wall);
                    } else {
                        self.notify("the end of the journal".into(), wall);
                    }
                } else if self.player.applied <= 1 {
                    self.notify("the start of the session".into(), wall);
                } else {
                    self.seek_event(self.player.applied - 1, wall);
                }
            }
            ReplayCmd::Mark { forward } => match self.player.mark(forward) {
                Some(m) => {
                    self.player.jump_to_mark(m);
                    self.now = self.player.state.now;
                    self.clock.set(self.now, wall);
                }
                None => {
                    let more = if self.known_end().is_some() { "" } else { " indexed yet" };
                    let which = if forward { "later" } else { "earlier" };
                    self.notify(format!("no {which} stop-related event{more}"), wall);
                }
            },
            ReplayCmd::ToStart => self.seek_event(1, wall),
            ReplayCmd::ToEnd => self.go(SeekTarget::End, wall),
            ReplayCmd::Seek(t) => self.seek(t, wall),
        }
        self.sync_view();
    }

    /// What a terminal key does; `Some` ends the replay.
    pub(crate) fn on_key(&mut self, key: crossterm::event::KeyEvent, wall: u64) -> Option<TuiExit> {
        let before = self.ui.notice.take();
        let action = input::on_key(key, &mut self.ui, &self.player.state);
        self.after_input(before, action, wall)
    }

    fn after_input(
        &mut self,
        before: Option<super::app::Notice>,
        action: Option<Action>,
        wall: u64,
    ) -> Option<TuiExit> {
        if self.ui.notice.is_some() {
            self.notice_until = Some(wall + NOTICE_NS);
        } else {
            self.ui.notice = before;
        }
        match action? {
            Action::Replay(cmd) => self.command(cmd, wall),
            Action::Quit => return Some(TuiExit::Quit),
            Action::Send(_) => self.notify(super::panes::replay::STOP_DISABLED.into(), wall),
            Action::Pause | Action::Resume | Action::Reconnect => {}
        }
        None
    }

    /// A terminal event: (redraw?, end?).
    pub(crate) fn on_terminal_event(&mut self, ev: TermEvent, wall: u64) -> (bool, Option<TuiExit>) {
        match ev {
            TermEvent::Key(k) => (true, self.on_key(k, wall)),
            TermEvent::Mouse(m) => match m.kind {
                MouseEventKind::Moved | MouseEventKind::Drag(_) | MouseEventKind::Up(_) => (false, None),
                _ => {
                    let before = self.ui.notice.take();
                    let action = input::on_mouse(m, &mut self.ui, &self.player.state);
                    (true, self.after_input(before, action, wall))
                }
            },
            TermEvent::Resize(w, h) => {
                self.resize(Rect::new(0, 0, w, h));
                (true, None)
            }
            TermEvent::Paste(text) => (input::on_paste(&text, &mut self.ui), None),
            TermEvent::FocusGained | TermEvent::FocusLost => (false, None),
        }
    }

    /// Moves everything that moves by itself to wall time `wall`: the index's progress, the
    /// notice, and, while playing, the player to the clock. Returns whether the screen changed.
    pub fn tick(&mut self, wall: u64) -> bool {
        let mut changed = self.sync_index(wall);
        if self.notice_until.is_some_and(|u| wall >= u) {
            self.notice_until = None;
            self.ui.notice = None;
            changed = true;
        }
        if self.clock.playing() && self.pending.is_none() {
            let applied = self.player.applied;
            let before = self.now;
            self.advance(wall);
            changed |= self.player.applied != applied || self.now != before;
            self.sync_view();
        }
        changed
    }

    /// Plays forward to the clock's time, within the frame's folding budget.
    fn advance(&mut self, wall: u64) {
        let target = match self.clock.speed() {
            Speed::Max => u64::MAX,
            Speed::Times(_) => self.clock.at(wall),
        };
        let started = Instant::now();
        let mut n = 0u32;
        let mut out_of_time = false;
        while self.player.next_t().is_some_and(|t| t <= target) {
            self.player.step();
            n += 1;
            if n % 256 == 0 && started.elapsed() >= ADVANCE_BUDGET {
                out_of_time = true;
                break;
            }
        }
        if self.player.next_t().is_none() {
            // The end: stay on the last event, paused.
            self.now = self.player.state.now;
            self.clock.set(self.now, wall);
            self.clock.pause(wall);
        } else if out_of_time || self.clock.speed() == Speed::Max {
            // Behind the clock: show what was folded, and let the clock wait for it.
            self.now = self.player.state.now;
            self.clock.set(self.now, wall);
        } else {
            self.now = target.max(self.player.state.now);
        }
    }

    /// How long the loop may sleep if nothing happens (not counting a pending frame).
    pub(crate) fn idle_for(&self, wall: u64) -> Option<Duration> {
        let mut wait: Option<Duration> = None;
        let mut consider = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
        if self.clock.playing() {
            consider(if self.clock.speed() == Speed::Max { FRAME } else { TICK });
        }
        if self.pending.is_some() {
            consider(FRAME);
        } else if self.ui.replay.as_ref().is_some_and(|r| !r.complete && r.damaged.is_none()) {
            consider(INDEX_POLL);
        }
        if let Some(until) = self.notice_until {
            consider(Duration::from_nanos(until.saturating_sub(wall)));
        }
        wait
    }
}

/// Runs the replay on `terminal` until the operator quits, the input ends or `exit_signals`
/// yields. Wall time is tokio's clock, so tests can run it on paused time.
pub async fn drive<B, E, S>(
    terminal: &mut Terminal<B>,
    mut events: E,
    mut exit_signals: S,
    mut session: ReplaySession,
) -> Result<TuiExit, super::Error>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<TermEvent>> + Unpin,
    S: Stream<Item = Signal> + Unpin,
{
    let size = terminal.size().map_err(super::Error::draw)?;
    session.resize(Rect::new(0, 0, size.width, size.height));
    let origin = tokio::time::Instant::now();
    let wall = move || origin.elapsed().as_nanos() as u64;
    let mut dirty = true;
    let mut last_draw: Option<tokio::time::Instant> = None;
    let mut signals_open = true;
    loop {
        dirty |= session.tick(wall());
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            terminal.draw(|f| f.render_widget(&session.screen(), f.area())).map_err(super::Error::draw)?;
            last_draw = Some(tokio::time::Instant::now());
            dirty = false;
        }
        let now = tokio::time::Instant::now();
        let wake = if dirty {
            last_draw.map_or(now, |t| t + FRAME)
        } else {
            // Paused, indexed, no notice: nothing moves until a key comes.
            now + session.idle_for(wall()).unwrap_or(Duration::from_secs(3600))
        };
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let (changed, exit) = session.on_terminal_event(ev, wall());
                    if let Some(exit) = exit {
                        return Ok(exit);
                    }
                    dirty |= changed;
                }
                Some(Err(e)) => return Err(super::Error::Read(e)),
                None => return Ok(TuiExit::InputClosed),
            },
            sig = exit_signals.next(), if signals_open => match sig {
                Some(sig) => return Ok(TuiExit::Terminated(sig)),
                None => signals_open = false,
            },
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}
