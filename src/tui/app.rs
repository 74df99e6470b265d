//! `Ui`: everything the cockpit remembers that is not the session's state: which pane has
//! focus, each pane's own state (see [`super::panes`]: the table's selection and sort, the
//! log's scroll), which prompt is open. Keys change it (see `super::input`); views read it.

use super::panes::detail::DetailPane;
use super::panes::hazards::HazardsPane;
use super::panes::log::LogPane;
use super::panes::table::TablePane;
use super::theme::Theme;
use crate::control::link::LinkKind;
use crate::replay::{Mark, Speed};
use crate::state::{NodeState, State};
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
    /// The signal picker of `x`: the node and the highlighted entry of
    /// `PICKER_SIGNALS`.
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

/// A message shown in the footer for a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    /// Session time it disappears at; set by the driver when it first shows it.
    pub until: Option<u64>,
}

/// How long a notice stays, ns.
pub(crate) const NOTICE_NS: u64 = 4_000_000_000;

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
    pub theme: Theme,
    /// The whole screen, as last measured by the driver (key handling pages by it).
    pub screen: Rect,
    pub view: View,
    pub focus: Pane,
    pub overlay: Overlay,
    pub table: TablePane,
    pub detail: DetailPane,
    pub log: LogPane,
    pub hazards: HazardsPane,
    /// The display is frozen (updates still fold in behind it).
    pub paused: bool,
    /// Events folded in since the display froze.
    pub behind: u64,
    pub notice: Option<Notice>,
    pub link: LinkStatus,
    /// Replaying a journal (`link.mode` is [`LinkMode::Replay`]).
    pub replay: Option<ReplayView>,
}

/// The link to the session as the cockpit knows it, and how the cockpit is ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub mode: LinkMode,
    /// A reconnect function was given (attach).
    pub can_reconnect: bool,
    /// Events the link skipped (resyncs after falling behind).
    pub dropped: u64,
    /// The link closed, with why.
    pub closed: Option<String>,
    /// In-process (`up`, `demo`): every node stopped and the session ended (a stop-all ran its
    /// course), at this session time. The screen stays on the final state, its clock stopped
    /// there, so the end can be read where it happened, until the operator quits.
    pub finished: Option<u64>,
    pub quitting: Option<Quitting>,
}

impl Ui {
    pub fn new(mode: LinkMode, theme: Theme, screen: Rect) -> Ui {
        Ui {
            theme,
            screen,
            view: View::Table,
            focus: Pane::Nodes,
            overlay: Overlay::None,
            table: TablePane::default(),
            detail: DetailPane::default(),
            log: LogPane::default(),
            hazards: HazardsPane::default(),
            paused: false,
            behind: 0,
            notice: None,
            link: LinkStatus { mode, can_reconnect: false, dropped: 0, closed: None, finished: None, quitting: None },
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
        self.table.selected_node(state)
    }

    /// Holds on to the node shown selected: while nothing was chosen the first row is, and a
    /// sort or a live update that reorders the table must not make that another node. Called
    /// before every sort and after every change of the state on screen.
    pub fn pin_selection(&mut self, state: &State) {
        if self.table.selected.is_none() {
            self.table.selected = self.selected_node(state).map(|n| n.name.clone());
        }
    }

    /// The node the log is limited to, if it is.
    pub fn log_filter<'a>(&self, state: &'a State) -> Option<&'a str> {
        if self.log.only_selected { self.selected_node(state).map(|n| n.name.as_str()) } else { None }
    }
}
