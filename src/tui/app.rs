//! `Ui`: everything the cockpit remembers that is not the session's state: what is selected,
//! which pane has focus, how the table is sorted, where the log is scrolled, which prompt is
//! open. Keys change it (see [`super::input`]); views read it.

use super::theme::Theme;
use crate::control::link::LinkKind;
use crate::replay::{Mark, Speed};
use crate::state::{NodeState, Phase, State};
use ratatui::layout::Rect;

/// How the cockpit is connected, which decides what quitting means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Inside the supervisor: quitting stops every node first.
    InProcess,
    /// Over the control socket: quitting detaches.
    Attached,
    /// Replaying a journal: nothing runs, quitting just leaves.
    Replay,
}

impl From<&LinkKind> for LinkMode {
    fn from(kind: &LinkKind) -> Self {
        match kind {
            LinkKind::InProcess => LinkMode::InProcess,
            LinkKind::Attached { .. } => LinkMode::Attached,
        }
    }
}

/// The panes that take focus (Tab cycles them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The nodes table, or the detail pane when it is open.
    Nodes,
    Log,
    Hazards,
}

impl Pane {
    #[must_use]
    pub fn next(self) -> Pane {
        match self {
            Pane::Nodes => Pane::Log,
            Pane::Log => Pane::Hazards,
            Pane::Hazards => Pane::Nodes,
        }
    }

    #[must_use]
    pub fn prev(self) -> Pane {
        match self {
            Pane::Nodes => Pane::Hazards,
            Pane::Log => Pane::Nodes,
            Pane::Hazards => Pane::Log,
        }
    }
}

/// What the main area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Table,
    /// The selected node in detail.
    Detail,
}

/// A modal layer on top of the screen; it takes the keys while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Confirm(Confirm),
    /// The signal picker of `x`: the node and the highlighted entry of [`PICKER_SIGNALS`].
    Picker {
        node: String,
        index: usize,
    },
    /// Typing a log search.
    Search {
        input: String,
    },
    /// Typing the target of replay's `:`.
    Goto {
        input: String,
    },
}

/// The signals `x` offers, in order.
pub const PICKER_SIGNALS: [crate::event::Signal; 9] = {
    use crate::event::Signal;
    [
        Signal::TERM,
        Signal::INT,
        Signal::HUP,
        Signal::QUIT,
        Signal::USR1,
        Signal::USR2,
        Signal::KILL,
        Signal::STOP,
        Signal::CONT,
    ]
};

/// A question on the confirm line, with the text fixed when it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmKind {
    /// A stop: of one node (graceful, or SIGKILL now) or of everything.
    Stop(crate::stop_engine::StopRequest),
    /// One signal now from the picker (asked first only for SIGKILL: no cleanup can run).
    Signal(String, crate::event::Signal),
    /// Quitting an in-process session: stop every node, then leave.
    QuitStopAll,
    /// Quitting while the stop of everything is still running: force it.
    QuitForce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Manifest order.
    Declared,
    Name,
    State,
    Tokens,
    Hazards,
    Cpu,
    Mem,
}

impl SortKey {
    #[must_use]
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Declared => SortKey::Name,
            SortKey::Name => SortKey::State,
            SortKey::State => SortKey::Tokens,
            SortKey::Tokens => SortKey::Hazards,
            SortKey::Hazards => SortKey::Cpu,
            SortKey::Cpu => SortKey::Mem,
            SortKey::Mem => SortKey::Declared,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Declared => "manifest order",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::Tokens => "pending tokens",
            SortKey::Hazards => "hazards",
            SortKey::Cpu => "CPU",
            SortKey::Mem => "memory",
        }
    }
}

/// Where the log is scrolled and what it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogView {
    /// Only the selected node's lines.
    pub only_selected: bool,
    /// Absolute number (`log.dropped + index`) of the bottom line shown; `None` follows the end.
    pub anchor: Option<u64>,
    /// The committed search, highlighted; `n`/`N` move between its matches.
    pub search: Option<String>,
}

/// A message shown in the footer for a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    /// Session time it disappears at; set by the driver when it first shows it.
    pub until: Option<u64>,
}

/// How long a notice stays, ns.
pub const NOTICE_NS: u64 = 4_000_000_000;

/// The stop the cockpit waits for before it returns (in-process quit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quitting {
    Graceful,
    Forced,
}

/// What the replay screen shows besides the folded state: the journal, the replay clock's
/// state and the index (the driver fills it in; views only read it).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayView {
    /// The journal's file (or directory) name.
    pub file: String,
    pub playing: bool,
    pub speed: Speed,
    /// Events applied to the state on screen.
    pub applied: u64,
    /// Events in the journal (so far, while indexing).
    pub events: u64,
    /// `t` of the last event (so far, while indexing).
    pub end_t: u64,
    /// The index has read the whole journal.
    pub complete: bool,
    /// While indexing: how far, in per mille of the journal's bytes.
    pub progress_permille: u16,
    /// Records of kinds this version does not know, skipped.
    pub unknown_kinds: u64,
    /// The last line was cut off (a crash); everything before it is replayed.
    pub torn_tail: bool,
    /// Damaged records skipped (the replay goes on after each).
    pub damaged_records: u64,
    /// Reading stopped part-way (the journal could not be read further).
    pub damaged: Option<String>,
    /// Stop-related moments, for the timeline.
    pub marks: Vec<Mark>,
    /// A seek past what the index has read, waiting for it.
    pub seeking: Option<SeekTarget>,
}

/// Where a seek goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTarget {
    /// A session time (ns).
    Time(u64),
    /// The last event of the journal.
    End,
}

impl ReplayView {
    pub fn new(file: impl Into<String>, speed: Speed) -> ReplayView {
        ReplayView {
            file: file.into(),
            playing: false,
            speed,
            applied: 0,
            events: 0,
            end_t: 0,
            complete: false,
            progress_permille: 0,
            unknown_kinds: 0,
            torn_tail: false,
            damaged_records: 0,
            damaged: None,
            marks: Vec::new(),
            seeking: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ui {
    pub mode: LinkMode,
    /// A reconnect function was given (attach).
    pub can_reconnect: bool,
    pub theme: Theme,
    /// The whole screen, as last measured by the driver (key handling pages by it).
    pub screen: Rect,
    pub view: View,
    pub focus: Pane,
    pub overlay: Overlay,
    /// The selected node by name (stable across sorting and updates); `None`: the first row.
    pub selected: Option<String>,
    /// First row shown in the table.
    pub table_offset: usize,
    pub sort: SortKey,
    pub sort_desc: bool,
    pub detail_scroll: u16,
    /// Highlighted entry of the hazards panel, 0 = newest.
    pub hazard_cursor: usize,
    pub log: LogView,
    /// The display is frozen (updates still fold in behind it).
    pub paused: bool,
    /// Events folded in since the display froze.
    pub behind: u64,
    /// Events the link skipped (resyncs after falling behind).
    pub link_dropped: u64,
    pub notice: Option<Notice>,
    pub quitting: Option<Quitting>,
    /// The link closed, with why.
    pub closed: Option<String>,
    /// In-process (`up`, `demo`): every node stopped and the session ended (a stop-all ran its
    /// course), at this session time. The screen stays on the final state, its clock stopped
    /// there, so the end can be read where it happened, until the operator quits.
    pub finished: Option<u64>,
    /// Replaying a journal (`mode` is [`LinkMode::Replay`]).
    pub replay: Option<ReplayView>,
}

impl Ui {
    pub fn new(mode: LinkMode, theme: Theme, screen: Rect) -> Ui {
        Ui {
            mode,
            can_reconnect: false,
            theme,
            screen,
            view: View::Table,
            focus: Pane::Nodes,
            overlay: Overlay::None,
            selected: None,
            table_offset: 0,
            sort: SortKey::Declared,
            sort_desc: false,
            detail_scroll: 0,
            hazard_cursor: 0,
            log: LogView::default(),
            paused: false,
            behind: 0,
            link_dropped: 0,
            notice: None,
            quitting: None,
            closed: None,
            finished: None,
            replay: None,
        }
    }

    /// The replay cockpit: `mode` [`LinkMode::Replay`] and the replay's view.
    pub fn replay(theme: Theme, screen: Rect, view: ReplayView) -> Ui {
        let mut ui = Ui::new(LinkMode::Replay, theme, screen);
        ui.replay = Some(view);
        ui
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { text: text.into(), until: None });
    }

    /// The selected node: the named one if it exists, else the first row.
    pub fn selected_node<'a>(&self, state: &'a State) -> Option<&'a NodeState> {
        if let Some(n) = self.selected.as_deref().and_then(|name| state.node(name)) {
            return Some(n);
        }
        rows(state, self).first().copied()
    }

    /// Holds on to the node shown selected: while nothing was chosen the first row is, and a
    /// sort or a live update that reorders the table must not make that another node. Called
    /// before every sort and after every change of the state on screen.
    pub fn pin_selection(&mut self, state: &State) {
        if self.selected.is_none() {
            self.selected = self.selected_node(state).map(|n| n.name.clone());
        }
    }

    /// The node the log is limited to, if it is.
    pub fn log_filter<'a>(&self, state: &'a State) -> Option<&'a str> {
        if self.log.only_selected { self.selected_node(state).map(|n| n.name.as_str()) } else { None }
    }
}

/// The table's rows in display order.
pub fn rows<'a>(state: &'a State, ui: &Ui) -> Vec<&'a NodeState> {
    let mut rows: Vec<&NodeState> = state.nodes.values().collect();
    let key = ui.sort;
    match key {
        SortKey::Declared => {}
        SortKey::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        // Stable sorts: ties keep manifest order.
        SortKey::State => rows.sort_by_key(|n| state_rank(n)),
        SortKey::Tokens => rows.sort_by_key(|n| std::cmp::Reverse(n.tokens.pending())),
        SortKey::Hazards => rows.sort_by_key(|n| std::cmp::Reverse(n.hazards.len())),
        SortKey::Cpu => rows.sort_by_key(|n| std::cmp::Reverse(n.cpu_permille)),
        SortKey::Mem => rows.sort_by_key(|n| std::cmp::Reverse(n.rss_kib)),
    }
    if ui.sort_desc {
        rows.reverse();
    }
    rows
}

/// Stopping first (they are what the operator is watching), then running, starting, exited.
fn state_rank(n: &NodeState) -> u8 {
    match n.phase {
        Phase::Stopping => 0,
        Phase::Running => 1,
        Phase::Starting => 2,
        Phase::Exited => 3,
    }
}

/// Index of the selected node among `rows` (0 when nothing or something gone is selected).
pub fn selected_index(rows: &[&NodeState], ui: &Ui) -> usize {
    ui.selected.as_deref().and_then(|name| rows.iter().position(|n| n.name == name)).unwrap_or(0)
}

/// The first row to show so that `selected` is visible in `height` rows, starting from `offset`.
pub fn scrolled_offset(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    if height == 0 {
        return selected;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    off
}
