//! The one table of key bindings. It drives key handling ([`super::input::on_key`]), the
//! footer's key bar and the `?` help screen, so the three never disagree.

use super::app::{Overlay, Pane, Ui, View};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A key as the keymap names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Char(char),
    Ctrl(char),
    Enter,
    Esc,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Tab,
    BackTab,
    Backspace,
}

impl Key {
    /// The key of a press or repeat (releases are ignored).
    pub(crate) fn from_event(ev: KeyEvent) -> Option<Key> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        Some(match ev.code {
            KeyCode::Char(c) if ev.modifiers.contains(KeyModifiers::CONTROL) => Key::Ctrl(c.to_ascii_lowercase()),
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => Key::BackTab,
            KeyCode::Tab => Key::Tab,
            KeyCode::BackTab => Key::BackTab,
            KeyCode::Backspace => Key::Backspace,
            _ => return None,
        })
    }

    pub(crate) fn label(self) -> String {
        match self {
            Key::Char(' ') => "space".to_string(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Enter => "Enter".to_string(),
            Key::Esc => "Esc".to_string(),
            Key::Up => "↑".to_string(),
            Key::Down => "↓".to_string(),
            Key::Left => "←".to_string(),
            Key::Right => "→".to_string(),
            Key::PageUp => "PgUp".to_string(),
            Key::PageDown => "PgDn".to_string(),
            Key::Home => "Home".to_string(),
            Key::End => "End".to_string(),
            Key::Tab => "Tab".to_string(),
            Key::BackTab => "Shift-Tab".to_string(),
            Key::Backspace => "Backspace".to_string(),
        }
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Anywhere no prompt is open.
    Global,
    /// The nodes table has focus.
    Table,
    /// The detail pane has focus.
    Detail,
    Log,
    Hazards,
    Help,
    /// A question on the confirm line (stop, kill, stop all, quit).
    Confirm,
    /// The signal picker of `x`.
    Picker,
    /// Typing a log search.
    Search,
    /// The link to the session closed.
    Closed,
    /// Replaying a journal: the replay clock's keys, in force over the panes' and the global ones.
    Replay,
    /// Typing the target of `:` (replay).
    Goto,
}

impl Context {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Context::Global => "Anywhere",
            Context::Table => "Nodes table",
            Context::Detail => "Detail pane",
            Context::Log => "Log pane",
            Context::Hazards => "Hazards panel",
            Context::Help => "Help",
            Context::Confirm => "Confirm line",
            Context::Picker => "Signal picker",
            Context::Search => "Log search",
            Context::Closed => "Session closed",
            Context::Replay => "Replay",
            Context::Goto => "Go-to prompt (replay)",
        }
    }

    /// Contexts in the order the help screen lists them.
    pub(crate) const ALL: [Context; 12] = [
        Context::Replay,
        Context::Global,
        Context::Table,
        Context::Detail,
        Context::Log,
        Context::Hazards,
        Context::Confirm,
        Context::Picker,
        Context::Search,
        Context::Goto,
        Context::Closed,
        Context::Help,
    ];

    /// Does this context ever apply in the live cockpit, in replay?
    pub(crate) fn applies(self, replay: bool) -> bool {
        match self {
            Context::Replay | Context::Goto => replay,
            Context::Confirm | Context::Picker | Context::Closed => !replay,
            _ => true,
        }
    }
}

/// What a binding does; its meaning can depend on the context (`↓` moves the selection in the
/// table and scrolls the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Open,
    Back,
    Sort,
    SortReverse,
    Stop,
    Kill,
    StopAll,
    Signal,
    Pause,
    Help,
    Quit,
    FocusNext,
    FocusPrev,
    LogFilter,
    LogFollow,
    Search,
    SearchNext,
    SearchPrev,
    Yes,
    No,
    Reconnect,
    /// Replay: play or pause the replay clock.
    PlayPause,
    Faster,
    Slower,
    StepForward,
    StepBack,
    NextMark,
    PrevMark,
    ToStart,
    ToEnd,
    /// Open the go-to prompt.
    Goto,
    /// Replay: a stop action, refused with a notice.
    StopDisabled,
}

pub(crate) struct Binding {
    pub keys: &'static [Key],
    pub ctx: Context,
    pub cmd: Command,
    /// For the help screen.
    pub desc: &'static str,
    /// For the footer's key bar; bindings without one only show in help.
    pub short: Option<&'static str>,
}

const fn b(
    keys: &'static [Key],
    ctx: Context,
    cmd: Command,
    desc: &'static str,
    short: Option<&'static str>,
) -> Binding {
    Binding { keys, ctx, cmd, desc, short }
}

use Command as C;
use Context as X;
use Key as K;

/// Every binding. Within a context, the order is the key bar's order.
pub(crate) static KEYMAP: &[Binding] = &[
    // Replay: in force over the panes' keys (so g/G move the replay, not the selection).
    b(&[K::Char(' ')], X::Replay, C::PlayPause, "play / pause the replay", Some("play/pause")),
    b(
        &[K::Char('+'), K::Char('=')],
        X::Replay,
        C::Faster,
        "faster: 0.25x 0.5x 1x 2x … 64x, then as fast as possible",
        Some("faster"),
    ),
    b(&[K::Char('-')], X::Replay, C::Slower, "slower", Some("slower")),
    b(&[K::Right], X::Replay, C::StepForward, "one event forward (pauses)", Some("step")),
    b(&[K::Left], X::Replay, C::StepBack, "one event back (pauses)", None),
    b(
        &[K::Char(']')],
        X::Replay,
        C::NextMark,
        "next stop-related event (stop requested, stage entered, kill, exit)",
        Some("next stop"),
    ),
    b(&[K::Char('[')], X::Replay, C::PrevMark, "previous stop-related event", None),
    b(&[K::Char('g')], X::Replay, C::ToStart, "the start of the session", None),
    b(&[K::Char('G')], X::Replay, C::ToEnd, "the end of the journal", None),
    b(
        &[K::Char(':')],
        X::Replay,
        C::Goto,
        "go to a time: 12.5s or 1m3s (session time), 14:02:33 (UTC) or an RFC 3339 time",
        Some("go to"),
    ),
    b(
        &[K::Char('s'), K::Char('K'), K::Char('S'), K::Char('x')],
        X::Replay,
        C::StopDisabled,
        "stop, kill, stop all, signal: disabled, this is a recording",
        None,
    ),
    b(&[K::Enter], X::Goto, C::Yes, "go there (type the time first)", Some("go")),
    b(&[K::Esc], X::Goto, C::No, "cancel", Some("cancel")),
    // Prompts first: they own the keyboard while open.
    b(&[K::Char('y'), K::Enter], X::Confirm, C::Yes, "confirm", Some("confirm")),
    b(&[K::Char('n'), K::Esc, K::Ctrl('c')], X::Confirm, C::No, "cancel", Some("cancel")),
    b(&[K::Up, K::Char('k')], X::Picker, C::Up, "previous signal", None),
    b(&[K::Down, K::Char('j')], X::Picker, C::Down, "next signal", None),
    b(&[K::Enter], X::Picker, C::Yes, "send the highlighted signal to the node", Some("send")),
    b(&[K::Esc, K::Char('q')], X::Picker, C::No, "cancel", Some("cancel")),
    b(&[K::Enter], X::Search, C::Yes, "search (type the text first; matches are highlighted)", Some("search")),
    b(&[K::Esc], X::Search, C::No, "cancel", Some("cancel")),
    b(&[K::Up, K::Char('k')], X::Help, C::Up, "scroll up", None),
    b(&[K::Down, K::Char('j')], X::Help, C::Down, "scroll down", None),
    b(&[K::PageUp], X::Help, C::PageUp, "page up", None),
    b(&[K::PageDown], X::Help, C::PageDown, "page down", None),
    b(&[K::Esc, K::Char('?'), K::Char('q')], X::Help, C::Back, "close help", Some("close")),
    b(&[K::Char('r')], X::Closed, C::Reconnect, "reconnect to the session", Some("reconnect")),
    b(&[K::Char('q'), K::Ctrl('c')], X::Closed, C::Quit, "quit", Some("quit")),
    // Panes.
    b(&[K::Up, K::Char('k')], X::Table, C::Up, "select the previous node", None),
    b(&[K::Down, K::Char('j')], X::Table, C::Down, "select the next node", None),
    b(&[K::PageUp], X::Table, C::PageUp, "a page up", None),
    b(&[K::PageDown], X::Table, C::PageDown, "a page down", None),
    b(&[K::Home, K::Char('g')], X::Table, C::Home, "first node", None),
    b(&[K::End], X::Table, C::End, "last node", None),
    b(&[K::Enter], X::Table, C::Open, "open the selected node in detail", Some("detail")),
    b(
        &[K::Char('o')],
        X::Table,
        C::Sort,
        "sort by the next column (manifest order, name, state, tokens, hazards, CPU, memory)",
        Some("sort"),
    ),
    b(&[K::Char('O')], X::Table, C::SortReverse, "reverse the sort", None),
    b(&[K::Up, K::Char('k')], X::Detail, C::Up, "scroll up", None),
    b(&[K::Down, K::Char('j')], X::Detail, C::Down, "scroll down", None),
    b(&[K::PageUp], X::Detail, C::PageUp, "page up", None),
    b(&[K::PageDown], X::Detail, C::PageDown, "page down", None),
    b(&[K::Esc, K::Enter], X::Detail, C::Back, "back to the table", Some("back")),
    b(&[K::Up, K::Char('k')], X::Log, C::Up, "scroll to older lines", None),
    b(&[K::Down, K::Char('j')], X::Log, C::Down, "scroll to newer lines", None),
    b(&[K::PageUp], X::Log, C::PageUp, "a page older", None),
    b(&[K::PageDown], X::Log, C::PageDown, "a page newer", None),
    b(&[K::Home, K::Char('g')], X::Log, C::Home, "oldest line", None),
    b(&[K::End, K::Char('G')], X::Log, C::End, "follow the newest lines", Some("follow")),
    b(&[K::Up, K::Char('k')], X::Hazards, C::Up, "newer hazard", None),
    b(&[K::Down, K::Char('j')], X::Hazards, C::Down, "older hazard", None),
    b(&[K::Home, K::Char('g')], X::Hazards, C::Home, "newest hazard", None),
    b(&[K::Enter], X::Hazards, C::Open, "open the node of the highlighted hazard", Some("node")),
    // Anywhere.
    b(
        &[K::Char('s')],
        X::Global,
        C::Stop,
        "graceful stop of the selected node (shows its plan, asks first)",
        Some("stop"),
    ),
    b(&[K::Char('K')], X::Global, C::Kill, "SIGKILL the selected node now (asks first)", Some("kill")),
    b(&[K::Char('S')], X::Global, C::StopAll, "stop every node, dependents first (asks first)", Some("stop all")),
    b(
        &[K::Char('x')],
        X::Global,
        C::Signal,
        "send a signal to the selected node (picker; SIGKILL asks first)",
        Some("signal"),
    ),
    b(&[K::Char(' ')], X::Global, C::Pause, "pause / resume the display (updates keep arriving)", Some("pause")),
    b(&[K::Tab], X::Global, C::FocusNext, "focus the next pane", Some("pane")),
    b(&[K::BackTab], X::Global, C::FocusPrev, "focus the previous pane", None),
    b(&[K::Char('/')], X::Global, C::Search, "search the log", Some("search")),
    b(&[K::Char('n')], X::Global, C::SearchNext, "next (older) log match", None),
    b(&[K::Char('N')], X::Global, C::SearchPrev, "previous (newer) log match", None),
    b(&[K::Char('f')], X::Global, C::LogFilter, "log: the selected node only / every node", Some("log filter")),
    b(&[K::Char('G')], X::Global, C::LogFollow, "log: follow the newest lines", None),
    b(&[K::Char('?')], X::Global, C::Help, "this help", Some("help")),
    b(
        &[K::Char('q'), K::Ctrl('c')],
        X::Global,
        C::Quit,
        "quit: under `up` asks to stop everything and waits for it; attached, detaches",
        Some("quit"),
    ),
];

/// The context of the focused pane (the table or the detail pane, the log, the hazards).
pub(crate) fn focused_pane(ui: &Ui) -> Context {
    match (ui.focus, ui.view) {
        (Pane::Nodes, View::Table) => Context::Table,
        (Pane::Nodes, View::Detail) => Context::Detail,
        (Pane::Log, _) => Context::Log,
        (Pane::Hazards, _) => Context::Hazards,
    }
}

/// The contexts in force, most specific first.
pub(crate) fn contexts(ui: &Ui) -> Vec<Context> {
    match &ui.overlay {
        Overlay::Help { .. } => return vec![Context::Help],
        Overlay::Confirm(_) => return vec![Context::Confirm],
        Overlay::Picker { .. } => return vec![Context::Picker],
        Overlay::Search { .. } => return vec![Context::Search],
        Overlay::Goto { .. } => return vec![Context::Goto],
        Overlay::None => {}
    }
    let pane = focused_pane(ui);
    let mut out = Vec::with_capacity(3);
    if ui.replay.is_some() {
        out.push(Context::Replay);
    } else if ui.link.closed.is_some() && ui.link.finished.is_none() {
        out.push(Context::Closed);
    }
    out.push(pane);
    out.push(Context::Global);
    out
}

/// The binding `key` triggers in these contexts.
pub(crate) fn lookup(key: Key, contexts: &[Context]) -> Option<&'static Binding> {
    contexts.iter().find_map(|ctx| KEYMAP.iter().find(|b| b.ctx == *ctx && b.keys.contains(&key)))
}

/// All bindings of one context, in table order.
pub(crate) fn bindings(ctx: Context) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| b.ctx == ctx)
}

/// The key bar: (key, what) for the contexts in force, most specific first, each command once,
/// and only where the key does that here (not taken by a more specific context).
pub(crate) fn bar(ui: &Ui) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mut seen: Vec<Command> = Vec::new();
    let ctxs = contexts(ui);
    for ctx in ctxs.iter().copied() {
        for b in bindings(ctx) {
            if let Some(short) = b.short {
                let shadowed = lookup(b.keys[0], &ctxs).is_some_and(|won| !std::ptr::eq(won, b));
                if !seen.contains(&b.cmd) && !shadowed {
                    seen.push(b.cmd);
                    out.push((b.keys[0].label(), short));
                }
            }
        }
    }
    out
}

/// The keys of a binding that reach it: in replay, the replay context takes its keys from the
/// panes and from the global bindings (`g`, `G`, space, the stop keys).
pub(crate) fn live_keys(b: &Binding, replay: bool) -> Vec<Key> {
    let under_replay =
        matches!(b.ctx, Context::Global | Context::Table | Context::Detail | Context::Log | Context::Hazards);
    b.keys
        .iter()
        .copied()
        .filter(|k| !(replay && under_replay && bindings(Context::Replay).any(|r| r.keys.contains(k))))
        .collect()
}
