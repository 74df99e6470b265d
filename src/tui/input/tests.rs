//! Keys to actions, without a terminal: a `Ui`, a folded `State`, key events in, actions out.
#![allow(clippy::expect_used)]

use super::*;
use crate::control::protocol::Request;
use crate::event::*;
use crate::manifest::{Manifest, NodeSpec};
use crate::state::Fold;
use crate::stop_engine::{StopRequest, StopTargets};
use crate::tui::action::ReplayCmd;
use crate::tui::app::{Confirm, ConfirmKind, LinkMode, Quitting};
use crate::tui::layout;
use crate::tui::panes::replay::STOP_DISABLED;
use crate::tui::panes::table::SortKey;
use crate::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEventKind, KeyEventState, KeyModifiers, MouseEvent};
use ratatui::layout::Rect;

fn state(names: &[&str]) -> Fold {
    let header = Header {
        format: FORMAT_VERSION,
        format_minor: crate::event::FORMAT_MINOR,
        version: "t".into(),
        session: "s".into(),
        mode: SessionMode::Up,
        host: "h".into(),
        pid: 1,
        started_unix_ms: 0,
        started: String::new(),
        monotonic_ns: 0,
        journal: None,
        manifest: Manifest {
            name: "s".into(),
            path: None,
            nodes: names.iter().map(|n| NodeSpec::with_defaults(n, vec!["x".into()])).collect(),
            hazards: std::collections::BTreeMap::new(),
            probe_interval_ms: 250,
            watch_stop_signal: None,
        },
    };
    let mut s = Fold::new(crate::hazards::lints());
    s.apply(&Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(header)) });
    for (i, n) in names.iter().enumerate() {
        let ev = EventKind::NodeSpawned {
            node: (*n).into(),
            pid: 100 + i as u32,
            pgid: 100 + i as u32,
            argv: vec!["x".into()],
        };
        s.apply(&Event { seq: 1 + i as u64, t: 1_000_000, ev });
    }
    s
}

fn exit(s: &mut Fold, node: &str) {
    let ev = EventKind::NodeExited {
        node: node.into(),
        pid: 0,
        code: Some(0),
        signal: None,
        cause: ExitCause::Exited,
        pending_tokens: vec![],
    };
    s.apply(&Event { seq: 99, t: 2_000_000, ev });
}

fn ui(mode: LinkMode) -> Ui {
    Ui::new(mode, Theme::plain(), Rect::new(0, 0, 160, 45))
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE }
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn press(ui: &mut Ui, s: &State, keys: &[KeyEvent]) -> Vec<Action> {
    keys.iter().filter_map(|k| on_key(*k, ui, s)).collect()
}

fn stop(nodes: &[&str], all: bool, force: bool) -> Action {
    Action::Send(Request::Stop { request: stop_request(nodes, all, force), wait: false })
}

fn stop_request(nodes: &[&str], all: bool, force: bool) -> StopRequest {
    let mode = if force { StopMode::Force } else { StopMode::Graceful };
    if all {
        assert!(nodes.is_empty());
        StopRequest::all(mode, Requester::Operator)
    } else {
        StopRequest::nodes(nodes.iter().map(|n| (*n).to_string()).collect(), mode, Requester::Operator)
    }
}

#[test]
fn arrows_and_jk_move_the_selection_within_bounds() {
    let s = state(&["a", "b", "c"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(u.selected_node(&s).map(|n| n.name.as_str()), Some("a"));
    press(&mut u, &s, &[ch('j'), key(KeyCode::Down)]);
    assert_eq!(u.table.selected.as_deref(), Some("c"));
    press(&mut u, &s, &[ch('j')]);
    assert_eq!(u.table.selected.as_deref(), Some("c"), "stays on the last row");
    press(&mut u, &s, &[ch('k')]);
    assert_eq!(u.table.selected.as_deref(), Some("b"));
    press(&mut u, &s, &[key(KeyCode::Home)]);
    assert_eq!(u.table.selected.as_deref(), Some("a"));
    press(&mut u, &s, &[key(KeyCode::Up)]);
    assert_eq!(u.table.selected.as_deref(), Some("a"), "stays on the first row");
    press(&mut u, &s, &[key(KeyCode::End)]);
    assert_eq!(u.table.selected.as_deref(), Some("c"));
}

#[test]
fn paging_keeps_the_selection_on_screen() {
    let names: Vec<String> = (0..200).map(|i| format!("n{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let s = state(&refs);
    let mut u = ui(LinkMode::InProcess);
    u.screen = Rect::new(0, 0, 80, 24);
    press(&mut u, &s, &[key(KeyCode::PageDown)]);
    let h = layout::table_rows(areas(u.screen, &u, &s).main);
    assert_eq!(u.table.selected.as_deref(), Some(names[h].as_str()));
    assert!(u.table.offset <= h && h < u.table.offset + h);
}

#[test]
fn s_asks_with_the_plan_and_y_sends_a_graceful_stop() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('j'), ch('s')]), vec![]);
    match &u.overlay {
        Overlay::Confirm(c) => {
            assert_eq!(c.kind, ConfirmKind::Stop(stop_request(&["b"], false, false)));
            assert!(c.text.contains("SIGTERM → SIGKILL @10s"), "{}", c.text);
        }
        other => panic!("expected a confirm prompt, got {other:?}"),
    }
    assert_eq!(press(&mut u, &s, &[ch('y')]), vec![stop(&["b"], false, false)]);
    assert_eq!(u.overlay, Overlay::None);
}

#[test]
fn n_and_esc_cancel_a_prompt_without_sending() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('s'), ch('n')]), vec![]);
    assert_eq!(u.overlay, Overlay::None);
    assert_eq!(press(&mut u, &s, &[ch('K'), key(KeyCode::Esc)]), vec![]);
    assert_eq!(u.overlay, Overlay::None);
    // While a prompt is open, other keys do nothing.
    assert_eq!(press(&mut u, &s, &[ch('S'), ch('j'), ch('q'), ch('s')]), vec![]);
    assert!(matches!(
        u.overlay,
        Overlay::Confirm(Confirm { kind: ConfirmKind::Stop(StopRequest { targets: StopTargets::All, .. }), .. })
    ));
}

#[test]
fn k_forces_and_shift_s_stops_everything() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('K'), key(KeyCode::Enter)]), vec![stop(&["a"], false, true)]);
    assert_eq!(press(&mut u, &s, &[ch('S'), ch('y')]), vec![stop(&[], true, false)]);
}

#[test]
fn stopping_an_exited_node_only_says_so() {
    let mut s = state(&["a"]);
    exit(&mut s, "a");
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('s')]), vec![]);
    assert_eq!(u.overlay, Overlay::None);
    assert_eq!(u.notice.as_ref().map(|n| n.text.as_str()), Some("a has already exited"));
    assert_eq!(press(&mut u, &s, &[ch('S')]), vec![]);
    assert_eq!(u.overlay, Overlay::None);
}

#[test]
fn x_picks_a_signal() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    let got = press(&mut u, &s, &[ch('x'), ch('j'), key(KeyCode::Down), key(KeyCode::Enter)]);
    assert_eq!(
        got,
        vec![Action::Send(Request::Signal { node: "a".into(), signal: Signal::HUP, by: Requester::Operator })]
    );
    assert_eq!(press(&mut u, &s, &[ch('x'), key(KeyCode::Esc)]), vec![]);
    assert_eq!(u.overlay, Overlay::None);
}

#[test]
fn space_pauses_and_resumes_the_display() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch(' ')]), vec![Action::Pause]);
    assert!(u.paused);
    assert_eq!(press(&mut u, &s, &[ch(' ')]), vec![Action::Resume]);
    assert!(!u.paused);
}

#[test]
fn quitting_attached_detaches_at_once() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::Attached);
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![Action::Quit]);
    let ctrl_c = KeyEvent { modifiers: KeyModifiers::CONTROL, ..ch('c') };
    assert_eq!(press(&mut u, &s, &[ctrl_c]), vec![Action::Quit]);
}

#[test]
fn quitting_in_process_asks_then_stops_everything_then_offers_to_force() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![]);
    assert!(matches!(u.overlay, Overlay::Confirm(Confirm { kind: ConfirmKind::QuitStopAll, .. })));
    assert_eq!(press(&mut u, &s, &[ch('n')]), vec![]);
    assert_eq!(u.link.quitting, None);
    assert_eq!(press(&mut u, &s, &[ch('q'), ch('y')]), vec![stop(&[], true, false)]);
    assert_eq!(u.link.quitting, Some(Quitting::Graceful));
    assert_eq!(press(&mut u, &s, &[ch('q'), ch('y')]), vec![stop(&[], true, true)]);
    assert_eq!(u.link.quitting, Some(Quitting::Forced));
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![]);
    assert!(u.notice.as_ref().is_some_and(|n| n.text.contains("waiting for 2")));
}

#[test]
fn quitting_in_process_with_nothing_left_leaves() {
    let mut s = state(&["a"]);
    exit(&mut s, "a");
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![Action::Quit]);
}

#[test]
fn enter_opens_the_detail_and_esc_closes_it() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::InProcess);
    press(&mut u, &s, &[ch('j'), key(KeyCode::Enter)]);
    assert_eq!(u.view, View::Detail);
    assert_eq!(u.table.selected.as_deref(), Some("b"));
    // In the detail pane, j scrolls instead of moving the selection.
    press(&mut u, &s, &[ch('j')]);
    assert_eq!(u.table.selected.as_deref(), Some("b"));
    press(&mut u, &s, &[key(KeyCode::Esc)]);
    assert_eq!(u.view, View::Table);
}

#[test]
fn sorting_keeps_the_selected_node() {
    let mut s = state(&["b", "c", "a"]);
    let ev = EventKind::Usage { node: "a".into(), cpu_permille: 900, rss_kib: 1 };
    s.apply(&Event { seq: 50, t: 3, ev });
    let mut u = ui(LinkMode::InProcess);
    press(&mut u, &s, &[ch('j')]);
    assert_eq!(u.table.selected.as_deref(), Some("c"));
    press(&mut u, &s, &[ch('o')]);
    assert_eq!(u.table.sort, SortKey::Name);
    assert_eq!(u.table.rows(&s).iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
    assert_eq!(u.table.selected.as_deref(), Some("c"));
    press(&mut u, &s, &[ch('O')]);
    assert_eq!(u.table.rows(&s).iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["c", "b", "a"]);
    for _ in 0..4 {
        press(&mut u, &s, &[ch('o')]);
    }
    assert_eq!(u.table.sort, SortKey::Cpu);
    assert_eq!(u.table.rows(&s)[0].name, "a");
}

#[test]
fn sorting_before_the_cursor_moved_keeps_the_node_shown_selected() {
    // Nothing chosen yet: the first row is the selected one, and a sort must not change which
    // node that is (s, K and x act on it).
    let mut s = state(&["b", "c", "a"]);
    let ev = EventKind::Usage { node: "a".into(), cpu_permille: 900, rss_kib: 1 };
    s.apply(&Event { seq: 50, t: 3, ev });
    let mut u = ui(LinkMode::InProcess);
    assert_eq!(u.selected_node(&s).map(|n| n.name.as_str()), Some("b"));
    press(&mut u, &s, &[ch('o')]);
    assert_eq!(u.table.rows(&s)[0].name, "a", "sorted by name");
    assert_eq!(u.selected_node(&s).map(|n| n.name.as_str()), Some("b"), "still b, now on the second row");
    // Reversing, too.
    let mut u = ui(LinkMode::InProcess);
    press(&mut u, &s, &[ch('O')]);
    assert_eq!(u.table.rows(&s)[0].name, "a", "manifest order reversed");
    assert_eq!(u.selected_node(&s).map(|n| n.name.as_str()), Some("b"));
    // And `s` stops the node that was selected, not the new first row.
    assert_eq!(press(&mut u, &s, &[ch('s'), ch('y')]), vec![stop(&["b"], false, false)]);
}

#[test]
fn a_live_reorder_does_not_move_the_first_rows_selection() {
    let mut s = state(&["a", "b", "c"]);
    let mut u = ui(LinkMode::InProcess);
    for _ in 0..5 {
        press(&mut u, &s, &[ch('o')]);
    }
    assert_eq!(u.table.sort, SortKey::Cpu);
    u.pin_selection(&s); // what the driver does after every update
    assert_eq!(u.table.selected.as_deref(), Some("a"));
    let ev = EventKind::Usage { node: "c".into(), cpu_permille: 900, rss_kib: 1 };
    s.apply(&Event { seq: 50, t: 3, ev });
    u.pin_selection(&s);
    assert_eq!(u.table.rows(&s)[0].name, "c", "c took the first row by CPU");
    assert_eq!(u.selected_node(&s).map(|n| n.name.as_str()), Some("a"), "the selection stayed on a");
}

#[test]
fn search_types_commits_and_moves_between_matches() {
    let mut s = state(&["a"]);
    for (i, text) in ["boot ok", "error one", "fine", "error two", "done"].iter().enumerate() {
        let ev =
            EventKind::Output { node: "a".into(), stream: Stream::Stdout, line: (*text).into(), truncated_from: None };
        s.apply(&Event { seq: 10 + i as u64, t: 5, ev });
    }
    let mut u = ui(LinkMode::InProcess);
    // Typed letters go into the search, not to their bindings (s would stop, q would quit).
    let typed = press(&mut u, &s, &[ch('/'), ch('E'), ch('r'), ch('x'), key(KeyCode::Backspace), ch('r'), ch('q')]);
    assert_eq!(typed, vec![]);
    assert_eq!(u.overlay, Overlay::Search { input: "Errq".into() });
    press(&mut u, &s, &[key(KeyCode::Backspace), key(KeyCode::Enter)]);
    assert_eq!(u.log.search.as_deref(), Some("Err"));
    let newest = u.log.anchor.expect("anchored on the newest match");
    assert_eq!(s.log.lines[(newest - s.log.dropped) as usize].text, "error two");
    press(&mut u, &s, &[ch('n')]);
    let older = u.log.anchor.expect("an older match");
    assert_eq!(s.log.lines[(older - s.log.dropped) as usize].text, "error one");
    press(&mut u, &s, &[ch('N')]);
    assert_eq!(u.log.anchor, Some(newest));
    press(&mut u, &s, &[ch('G')]);
    assert_eq!(u.log.anchor, None);
}

#[test]
fn log_filter_toggles_to_the_selected_node() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::InProcess);
    press(&mut u, &s, &[ch('j'), ch('f')]);
    assert_eq!(u.log_filter(&s), Some("b"));
    press(&mut u, &s, &[ch('f')]);
    assert_eq!(u.log_filter(&s), None);
}

#[test]
fn tab_cycles_panes_and_skips_hidden_hazards() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    press(&mut u, &s, &[key(KeyCode::Tab)]);
    assert_eq!(u.focus, Pane::Log);
    press(&mut u, &s, &[key(KeyCode::Tab)]);
    assert_eq!(u.focus, Pane::Hazards);
    press(&mut u, &s, &[key(KeyCode::BackTab)]);
    assert_eq!(u.focus, Pane::Log);
    // Narrow screen, detail view: no hazards panel.
    u.screen = Rect::new(0, 0, 80, 24);
    u.view = View::Detail;
    press(&mut u, &s, &[key(KeyCode::Tab)]);
    assert_eq!(u.focus, Pane::Nodes);
}

#[test]
fn closed_link_offers_reconnect_and_quit() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::Attached);
    u.link.closed = Some("gone".into());
    assert_eq!(press(&mut u, &s, &[ch('r')]), vec![], "no reconnect function: only a notice");
    u.link.can_reconnect = true;
    assert_eq!(press(&mut u, &s, &[ch('r')]), vec![Action::Reconnect]);
    // Navigation still works on the last state.
    press(&mut u, &s, &[ch('j')]);
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![Action::Quit]);
}

#[test]
fn key_releases_are_ignored() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::Attached);
    let release = KeyEvent { kind: KeyEventKind::Release, ..ch('q') };
    assert_eq!(on_key(release, &mut u, &s), None);
}

#[test]
fn help_opens_scrolls_and_closes() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    u.screen = Rect::new(0, 0, 80, 24);
    press(&mut u, &s, &[ch('?'), ch('j'), ch('j'), key(KeyCode::Up)]);
    assert_eq!(u.overlay, Overlay::Help { scroll: 1 });
    press(&mut u, &s, &[ch('q')]);
    assert_eq!(u.overlay, Overlay::None, "q closes help instead of quitting");
}

#[test]
fn mouse_click_selects_a_row_and_the_wheel_scrolls_the_log() {
    let mut s = state(&["a", "b", "c"]);
    for i in 0..100u64 {
        let ev = EventKind::Output {
            node: "a".into(),
            stream: Stream::Stdout,
            line: format!("line {i}"),
            truncated_from: None,
        };
        s.apply(&Event { seq: 10 + i, t: 5, ev });
    }
    let mut u = ui(LinkMode::InProcess);
    let a = areas(u.screen, &u, &s);
    let click = |x, y| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    // Border, header row, then a, b, c.
    on_mouse(click(5, a.main.y + 4), &mut u, &s);
    assert_eq!(u.table.selected.as_deref(), Some("c"));
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: a.log.x + 3,
        row: a.log.y + 3,
        modifiers: KeyModifiers::NONE,
    };
    on_mouse(wheel, &mut u, &s);
    assert_eq!(u.focus, Pane::Log);
    let anchor = u.log.anchor.expect("scrolled");
    assert_eq!(anchor, s.log.dropped + s.log.lines.len() as u64 - 1 - WHEEL as u64);
    let down = MouseEvent { kind: MouseEventKind::ScrollDown, ..wheel };
    on_mouse(down, &mut u, &s);
    assert_eq!(u.log.anchor, None, "back at the end: following again");
}

#[test]
fn no_key_is_bound_twice_in_one_context() {
    for ctx in Context::ALL {
        let keys: Vec<Key> = keymap::bindings(ctx).flat_map(|b| b.keys.iter().copied()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k:?} bound twice in {ctx:?}");
        }
    }
}

#[test]
fn the_key_bar_comes_from_the_keymap() {
    let s = state(&["a"]);
    let mut u = ui(LinkMode::InProcess);
    let bar = keymap::bar(&u);
    assert!(bar.contains(&("s".to_string(), "stop")));
    assert!(bar.contains(&("Enter".to_string(), "detail")));
    press(&mut u, &s, &[ch('s')]);
    assert_eq!(keymap::bar(&u), vec![("y".to_string(), "confirm"), ("n".to_string(), "cancel")]);
}

#[test]
fn no_key_or_click_panics_at_any_size() {
    let s = state(&["a", "b"]);
    let keys: Vec<KeyEvent> = "jkgGsynKSxq?o/fnN rx"
        .chars()
        .map(ch)
        .chain(
            [
                KeyCode::PageDown,
                KeyCode::PageUp,
                KeyCode::End,
                KeyCode::Home,
                KeyCode::Tab,
                KeyCode::Enter,
                KeyCode::Esc,
            ]
            .map(key),
        )
        .collect();
    for (w, h) in [(0, 0), (1, 1), (5, 3), (20, 6), (80, 24)] {
        let mut u = ui(LinkMode::InProcess);
        u.screen = Rect::new(0, 0, w, h);
        for round in 0..3 {
            for k in &keys {
                on_key(*k, &mut u, &s);
                for kind in
                    [MouseEventKind::ScrollUp, MouseEventKind::ScrollDown, MouseEventKind::Down(MouseButton::Left)]
                {
                    let m = MouseEvent {
                        kind,
                        column: (round * 7) % w.max(1),
                        row: (round * 5) % h.max(1),
                        modifiers: KeyModifiers::NONE,
                    };
                    on_mouse(m, &mut u, &s);
                }
            }
        }
    }
}

// ---- replay ----

fn replay_ui() -> Ui {
    use crate::replay::Speed;
    use crate::tui::app::ReplayView;
    Ui::replay(Theme::plain(), Rect::new(0, 0, 160, 45), ReplayView::new("j.jsonl", Speed::Times(1.0)))
}

fn typed(u: &mut Ui, s: &State, text: &str) -> Vec<Action> {
    text.chars().filter_map(|c| on_key(ch(c), u, s)).collect()
}

#[test]
fn replay_keys_move_the_replay() {
    let s = state(&["a", "b"]);
    let mut u = replay_ui();
    let r = |c| Action::Replay(c);
    assert_eq!(press(&mut u, &s, &[ch(' ')]), vec![r(ReplayCmd::PlayPause)]);
    assert_eq!(
        press(&mut u, &s, &[ch('+'), ch('='), ch('-')]),
        vec![r(ReplayCmd::Faster), r(ReplayCmd::Faster), r(ReplayCmd::Slower)]
    );
    assert_eq!(
        press(&mut u, &s, &[key(KeyCode::Right), key(KeyCode::Left)]),
        vec![r(ReplayCmd::Step { forward: true }), r(ReplayCmd::Step { forward: false })]
    );
    assert_eq!(
        press(&mut u, &s, &[ch(']'), ch('[')]),
        vec![r(ReplayCmd::Mark { forward: true }), r(ReplayCmd::Mark { forward: false })]
    );
    // g/G move the replay, not the table's selection or the log, whichever pane has focus.
    for focus in [Pane::Nodes, Pane::Log, Pane::Hazards] {
        u.focus = focus;
        assert_eq!(press(&mut u, &s, &[ch('g'), ch('G')]), vec![r(ReplayCmd::ToStart), r(ReplayCmd::ToEnd)]);
    }
    u.focus = Pane::Nodes;
    // The panes' other keys still work.
    press(&mut u, &s, &[ch('j')]);
    assert_eq!(u.table.selected.as_deref(), Some("b"));
    assert_eq!(press(&mut u, &s, &[ch('q')]), vec![Action::Quit], "quitting a replay stops nothing");
}

#[test]
fn replay_go_to_prompt_reads_times_and_says_what_it_cannot_read() {
    let s = state(&["a"]);
    let mut u = replay_ui();
    assert!(press(&mut u, &s, &[ch(':')]).is_empty());
    assert_eq!(u.overlay, Overlay::Goto { input: String::new() });
    assert_eq!(keymap::bar(&u), vec![("Enter".to_string(), "go"), ("Esc".to_string(), "cancel")]);
    // Typed text goes to the prompt, not to the keymap (`g`, space, `s` are plain letters here).
    assert!(typed(&mut u, &s, "1m3s").is_empty());
    assert_eq!(press(&mut u, &s, &[key(KeyCode::Enter)]), vec![Action::Replay(ReplayCmd::Seek(63_000_000_000))]);
    assert_eq!(u.overlay, Overlay::None);
    // The session started at 1970-01-01 00:00:00 UTC in this state.
    press(&mut u, &s, &[ch(':')]);
    typed(&mut u, &s, "00:00:12.5");
    assert_eq!(press(&mut u, &s, &[key(KeyCode::Enter)]), vec![Action::Replay(ReplayCmd::Seek(12_500_000_000))]);
    press(&mut u, &s, &[ch(':')]);
    typed(&mut u, &s, "soonx");
    press(&mut u, &s, &[key(KeyCode::Backspace)]);
    assert_eq!(u.overlay, Overlay::Goto { input: "soon".into() });
    assert!(press(&mut u, &s, &[key(KeyCode::Enter)]).is_empty());
    assert!(u.notice.as_ref().expect("a notice").text.starts_with("cannot read \"soon\""));
    press(&mut u, &s, &[ch(':'), ch('9'), key(KeyCode::Esc)]);
    assert_eq!(u.overlay, Overlay::None);
}

#[test]
fn replay_refuses_stop_actions_and_says_so() {
    let s = state(&["a"]);
    for c in ['s', 'K', 'S', 'x'] {
        let mut u = replay_ui();
        assert!(press(&mut u, &s, &[ch(c)]).is_empty(), "{c} did something");
        assert_eq!(u.overlay, Overlay::None, "{c} opened a prompt");
        assert_eq!(u.notice.as_ref().map(|n| n.text.as_str()), Some(STOP_DISABLED), "{c}");
        assert_eq!(STOP_DISABLED, "replay: stop actions are disabled — this is a recording");
    }
    // The key bar does not offer them; it offers the replay's keys.
    let bar = keymap::bar(&replay_ui());
    for (key, what) in [("s", "stop"), ("K", "kill"), ("S", "stop all"), ("x", "signal"), ("space", "pause")] {
        assert!(!bar.contains(&(key.to_string(), what)), "{key} {what} on the replay's key bar");
    }
    for item in [("space", "play/pause"), ("+", "faster"), ("]", "next stop"), (":", "go to"), ("q", "quit")] {
        assert!(bar.contains(&(item.0.to_string(), item.1)), "{item:?} missing from {bar:?}");
    }
    // And the live cockpit's bar is as it was: no replay keys.
    let live = keymap::bar(&ui(LinkMode::InProcess));
    assert!(live.contains(&("s".to_string(), "stop")) && live.contains(&("space".to_string(), "pause")));
    assert!(!live.iter().any(|(_, what)| *what == "play/pause" || *what == "go to"));
}

#[test]
fn replay_keys_in_the_live_cockpit_do_nothing_of_replay() {
    let s = state(&["a", "b"]);
    let mut u = ui(LinkMode::Attached);
    let actions = press(&mut u, &s, &[ch(']'), ch('['), ch('+'), ch('-'), ch(':'), key(KeyCode::Right)]);
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(u.overlay, Overlay::None);
    // g is still the table's first node, space still freezes the display.
    press(&mut u, &s, &[ch('j'), ch('g')]);
    assert_eq!(u.table.selected.as_deref(), Some("a"));
    assert_eq!(press(&mut u, &s, &[ch(' ')]), vec![Action::Pause]);
}

#[test]
fn help_in_replay_lists_only_keys_that_work_there() {
    use keymap::live_keys;
    let global_stop = keymap::bindings(Context::Global).find(|b| b.cmd == Command::Stop).expect("s");
    assert!(live_keys(global_stop, true).is_empty());
    assert_eq!(live_keys(global_stop, false), vec![Key::Char('s')]);
    let table_home = keymap::bindings(Context::Table).find(|b| b.cmd == Command::Home).expect("home");
    assert_eq!(live_keys(table_home, true), vec![Key::Home], "g belongs to the replay");
    assert!(Context::Replay.applies(true) && !Context::Replay.applies(false));
    assert!(!Context::Confirm.applies(true) && !Context::Picker.applies(true));
}
