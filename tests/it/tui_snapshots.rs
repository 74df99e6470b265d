//! The cockpit's screens as text, at 160x45 and 80x24, from hand-written sessions folded
//! through `Fold::apply`. Fixed `now`, header clock in UTC: deterministic.
#![allow(clippy::unwrap_used)]

use crate::tui_support;

use gracewatch::event::{Requester, StopMode};
use gracewatch::state::State;
use gracewatch::stop_engine::StopRequest;
use gracewatch::tui::app::{Confirm, ConfirmKind, Overlay, Pane, Ui, View};
use gracewatch::tui::views::confirm::stop_text;
use insta::assert_snapshot;
use tui_support::*;

const SIZES: [(u16, u16); 2] = [(160, 45), (80, 24)];

/// The operator's graceful stop of camera, as the confirm line holds it.
fn camera_stop() -> StopRequest {
    StopRequest::nodes(vec!["camera".into()], StopMode::Graceful, Requester::Operator)
}

fn both(name: &str, state: &State, now: u64, setup: impl Fn(&mut Ui)) {
    for (w, h) in SIZES {
        let mut ui = ui(w, h);
        setup(&mut ui);
        assert_snapshot!(format!("{name}_{w}x{h}"), render(state, &ui, now, w, h));
    }
}

#[test]
fn a_running_system() {
    let f = running_system();
    both("running", &f.state, 6 * S, |_| {});
}

#[test]
fn node_mid_stop_with_its_countdown() {
    let f = mid_stop();
    both("mid_stop", &f.state, MID_STOP_NOW, |ui| ui.table.selected = Some("camera".into()));
}

#[test]
fn exited_nodes_with_each_exit_cause() {
    let f = exited_all_causes();
    both("exits", &f.state, 8 * S, |_| {});
}

#[test]
fn every_hazard_is_visible() {
    let f = all_hazards();
    both("hazards", &f.state, 2500 * MS, |_| {});
}

#[test]
fn every_hazard_in_the_focused_panel() {
    let f = all_hazards();
    both("hazards_panel", &f.state, 2500 * MS, |ui| {
        ui.focus = Pane::Hazards;
        ui.hazards.cursor = 2;
    });
}

#[test]
fn detail_pane_of_a_stopping_node() {
    let f = mid_stop();
    both("detail_mid_stop", &f.state, MID_STOP_NOW, |ui| {
        ui.table.selected = Some("camera".into());
        ui.view = View::Detail;
    });
}

#[test]
fn detail_pane_of_a_failed_claim_and_a_child_tree() {
    let f = running_system();
    both("detail_trainer", &f.state, 6 * S, |ui| {
        ui.table.selected = Some("trainer".into());
        ui.view = View::Detail;
    });
    both("detail_recorder", &f.state, 6 * S, |ui| {
        ui.table.selected = Some("recorder".into());
        ui.view = View::Detail;
    });
}

#[test]
fn detail_pane_of_a_killed_node() {
    let f = exited_all_causes();
    both("detail_killed", &f.state, 8 * S, |ui| {
        ui.table.selected = Some("killed".into());
        ui.view = View::Detail;
    });
}

#[test]
fn detail_pane_says_when_a_fork_was_judged_threaded_by_sampling() {
    use gracewatch::event::{EventKind, ForkSeen, ForkSource};
    let mut f = all_hazards();
    let fork = ForkSeen {
        parent_pid: 6005,
        child_pid: 6101,
        threads: 2,
        runtime: None,
        source: ForkSource::Proc,
        client_tids: Vec::new(),
    };
    f.at(2000, EventKind::Fork { node: "forker".into(), fork });
    let resolved = EventKind::ForkResolved {
        node: "forker".into(),
        child_pid: 6101,
        execd: false,
        threaded: true,
        uncertain: true,
    };
    f.at(2100, resolved);
    let mut ui = ui(160, 45);
    ui.table.selected = Some("forker".into());
    ui.view = View::Detail;
    let screen = render(&f.state, &ui, 2500 * MS, 160, 45);
    // The line wraps: the verdict on one row, where it was seen on the next.
    assert!(screen.contains("6005 → 6101 with 2 threads: no exec, may have been threaded"), "{screen}");
    assert!(screen.contains("(sampled /proc, not exact) ✗ [/proc]"), "{screen}");
    assert!(screen.contains("6005 → 6100 with 9 threads, async runtime running: no exec, threads"), "{screen}");
}

#[test]
fn help_screen() {
    let f = running_system();
    both("help", &f.state, 6 * S, |ui| ui.overlay = Overlay::Help { scroll: 0 });
}

#[test]
fn confirm_line_shows_the_plan() {
    let f = running_system();
    let camera = f.state.node("camera").unwrap();
    let text = stop_text(camera);
    assert_eq!(
        text,
        "Stop camera: stop message → SIGTERM @2s → SIGINT @5s → SIGKILL @10s (grace 10s, +up to 5s while tokens drain, to its process group, 6 drop tokens lent)?"
    );
    both("confirm_stop", &f.state, 6 * S, |ui| {
        ui.table.selected = Some("camera".into());
        ui.overlay = Overlay::Confirm(Confirm { kind: ConfirmKind::Stop(camera_stop()), text: text.clone() });
    });
}

#[test]
fn signal_picker_paused_header_and_search() {
    let f = mid_stop();
    both("picker_paused", &f.state, MID_STOP_NOW, |ui| {
        ui.table.selected = Some("camera".into());
        ui.overlay = Overlay::Picker { node: "camera".into(), index: 2 };
        ui.paused = true;
        ui.behind = 42;
    });
    both("search", &f.state, MID_STOP_NOW, |ui| {
        ui.log.search = Some("sigterm".into());
        ui.overlay = Overlay::Search { input: "sigterm".into() };
    });
}

#[test]
fn closed_link_offers_reconnect() {
    let f = mid_stop();
    both("closed", &f.state, MID_STOP_NOW, |ui| {
        ui.link.closed = Some("connection reset by peer".into());
        ui.link.can_reconnect = true;
        ui.link.dropped = 17;
    });
}

#[test]
fn every_screen_survives_any_size() {
    let feeds = [running_system(), mid_stop(), exited_all_causes(), all_hazards()];
    let overlays = [
        Overlay::None,
        Overlay::Help { scroll: 3 },
        Overlay::Picker { node: "camera".into(), index: 8 },
        Overlay::Search { input: "x".into() },
        Overlay::Confirm(Confirm {
            kind: ConfirmKind::Stop(StopRequest::all(StopMode::Graceful, Requester::Operator)),
            text: "a very long question ".repeat(20),
        }),
    ];
    for f in &feeds {
        for (w, h) in [(1, 1), (2, 2), (10, 3), (30, 8), (40, 10), (60, 15), (79, 23), (100, 30), (119, 40), (200, 60)]
        {
            for overlay in &overlays {
                for view in [View::Table, View::Detail] {
                    let mut u = ui(w, h);
                    u.view = view;
                    u.overlay = overlay.clone();
                    u.link.closed = (w == 60).then(|| "gone".to_string());
                    u.detail.scroll = 500;
                    u.hazards.cursor = 500;
                    u.table.offset = 500;
                    u.log.anchor = Some(3);
                    render(&f.state, &u, 10 * S, w, h);
                }
            }
        }
    }
}

#[test]
fn a_start_up_shows_what_was_read_as_settling_and_what_was_not_as_unknown() {
    use gracewatch::event::{EventKind, Signal};
    let mut f =
        Feed::new("boot", vec![spec("booting", "python3 app.py"), spec("fresh", "./fresh"), spec("ready", "./ready")]);
    f.at(5, spawned("booting", 4201, "python3 app.py"));
    f.at(6, spawned("fresh", 4202, "./fresh"));
    f.at(7, spawned("ready", 4203, "./ready"));
    // The interpreter caught SIGINT; the script has not set its SIGTERM handler yet.
    let python = sample(4201, "python3", &[Signal::INT], &[], &[("python3", &[])], vec![]);
    f.at(40, EventKind::ProcSettling { node: "booting".into(), sample: python });
    let ready = sample(4203, "ready", &[Signal::TERM], &[], &[("ready", &[])], vec![]);
    f.at(2100, EventKind::ProcSampled { node: "ready".into(), sample: ready });
    f.at(2200, EventKind::Usage { node: "ready".into(), cpu_permille: 0, rss_kib: 2048 });
    both("settling", &f.state, 2300 * MS, |_| {});
    both("settling_detail", &f.state, 2300 * MS, |ui| {
        ui.table.selected = Some("booting".into());
        ui.view = View::Detail;
    });
}

#[test]
fn paused_nodes_and_an_exit_signalled_by_the_operator() {
    let f = paused_and_signalled();
    both("paused", &f.state, 3 * S, |_| {});
    both("detail_paused", &f.state, 3 * S, |ui| {
        ui.table.selected = Some("held".into());
        ui.view = View::Detail;
    });
    both("detail_signalled", &f.state, 3 * S, |ui| {
        ui.table.selected = Some("victim".into());
        ui.view = View::Detail;
    });
}
