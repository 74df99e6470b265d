//! The live loop, driven like a person would: a `TestBackend` for a screen, scripted terminal
//! events for a keyboard, channels for the session. Requests that go out and the way the
//! cockpit ends are checked; the last frame is read as text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use futures_util::Stream;
use gracewatch::control::link::{LinkKind, SessionLink, Update};
use gracewatch::control::protocol::Request;
use gracewatch::event::{Event, EventKind, ExitCause, Requester, Signal, StopMode};
use gracewatch::state::State;
use gracewatch::stop_engine::{StopRequest, StopTargets};
use gracewatch::tui::driver::{FRAME, TICK, drive};
use gracewatch::tui::theme::Theme;
use gracewatch::tui::{TuiExit, TuiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;
use tokio::sync::mpsc;
use tui_support::*;

struct Rig {
    keys: mpsc::UnboundedSender<TermEvent>,
    signals: mpsc::UnboundedSender<Signal>,
    updates: mpsc::Sender<Update>,
    requests: mpsc::Receiver<Request>,
}

fn stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Unpin {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }))
}

fn link(kind: LinkKind, state: State) -> (SessionLink, mpsc::Sender<Update>, mpsc::Receiver<Request>) {
    let (up_tx, up_rx) = mpsc::channel(64);
    let (req_tx, req_rx) = mpsc::channel(64);
    (SessionLink { kind, state, updates: up_rx, requests: req_tx }, up_tx, req_rx)
}

fn options(now: u64) -> TuiOptions {
    TuiOptions { now: Some(Box::new(move || now)), theme: Some(Theme::plain()), ..TuiOptions::default() }
}

/// The running cockpit: how it ended and its last screen.
type Run = tokio::task::JoinHandle<(Result<TuiExit, gracewatch::tui::Error>, String)>;

/// Starts the cockpit on a 120x30 test screen; returns the rig and the running loop.
fn start(kind: LinkKind, state: State, opts: TuiOptions) -> (Rig, Run) {
    let (l, updates, requests) = link(kind, state);
    let (keys, keys_rx) = mpsc::unbounded_channel::<TermEvent>();
    let (signals, sig_rx) = mpsc::unbounded_channel::<Signal>();
    let task = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        let events = futures_util::StreamExt::map(stream(keys_rx), Ok);
        let exit = drive(&mut terminal, events, stream(sig_rx), l, opts).await;
        (exit, terminal.backend().to_string())
    });
    (Rig { keys, signals, updates, requests }, task)
}

fn key(c: char) -> TermEvent {
    TermEvent::Key(KeyEvent {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

async fn settle() {
    // Longer than a frame, so the screen has caught up.
    tokio::time::sleep(Duration::from_millis(150)).await;
}

async fn typed(rig: &Rig, keys: &str) {
    for c in keys.chars() {
        rig.keys.send(key(c)).unwrap();
    }
    settle().await;
}

fn attached() -> LinkKind {
    LinkKind::Attached { socket: "/tmp/none.sock".into() }
}

async fn next_request(rig: &mut Rig) -> Request {
    tokio::time::timeout(Duration::from_secs(2), rig.requests.recv()).await.expect("a request").expect("open")
}

#[tokio::test]
async fn stop_goes_out_after_confirmation_and_q_detaches() {
    let (mut rig, task) = start(attached(), running_system().state.into_state(), options(6 * S));
    typed(&rig, "jsy").await;
    match next_request(&mut rig).await {
        Request::Stop { request, .. } => assert_eq!(
            request,
            StopRequest::nodes(vec!["detector".to_string()], StopMode::Graceful, Requester::Operator)
        ),
        other => panic!("expected a stop, got {other:?}"),
    }
    typed(&rig, "xjj").await;
    rig.keys.send(TermEvent::Key(KeyCode::Enter.into())).unwrap();
    assert_eq!(
        next_request(&mut rig).await,
        Request::Signal { node: "detector".into(), signal: Signal::HUP, by: Requester::Operator }
    );
    typed(&rig, "q").await;
    let (exit, _) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Detached);
}

#[tokio::test]
async fn sorting_keeps_the_selected_node_before_the_cursor_has_moved() {
    let (mut rig, task) = start(attached(), running_system().state.into_state(), options(6 * S));
    settle().await;
    // camera, the first row, is selected; by CPU, trainer comes first and camera third.
    typed(&rig, "ooooo").await;
    typed(&rig, "sy").await;
    match next_request(&mut rig).await {
        Request::Stop { request, .. } => {
            assert_eq!(
                request.targets,
                StopTargets::Nodes(vec!["camera".to_string()]),
                "the selection followed camera"
            );
        }
        other => panic!("expected a stop, got {other:?}"),
    }
    typed(&rig, "q").await;
    let (exit, screen) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Detached);
    assert!(screen.contains("by CPU"), "{screen}");
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("›")).collect();
    assert!(rows.len() == 1 && rows[0].contains("camera"), "{screen}");
}

#[tokio::test]
async fn quitting_under_up_stops_everything_and_waits_for_the_exits() {
    let feed = running_system();
    let names: Vec<String> = feed.state.nodes.keys().cloned().collect();
    let mut seq = feed.state.last_seq.unwrap() + 1;
    let (mut rig, task) = start(LinkKind::InProcess, feed.state.into_state(), options(6 * S));
    typed(&rig, "qy").await;
    match next_request(&mut rig).await {
        Request::Stop { request, .. } => assert_eq!(request, StopRequest::all(StopMode::Graceful, Requester::Operator)),
        other => panic!("expected stop all, got {other:?}"),
    }
    // Still on screen while nodes exit one by one.
    for (i, name) in names.iter().enumerate() {
        rig.updates.send(stopped_at_7s(seq, name, i)).await.unwrap();
        seq += 1;
        if i + 1 < names.len() {
            settle().await;
            assert!(!task.is_finished(), "left before every node exited");
        }
    }
    let (exit, screen) = tokio::time::timeout(Duration::from_secs(2), task).await.unwrap().unwrap();
    assert_eq!(exit.unwrap(), TuiExit::AllStopped);
    assert!(screen.contains("6 exit"), "{screen}");
}

#[tokio::test]
async fn a_closed_link_says_so_and_r_reconnects() {
    let mut opts = options(MID_STOP_NOW);
    let (fresh, fresh_updates, _fresh_requests) = link(attached(), mid_stop().state.into_state());
    let mut fresh = Some(fresh);
    opts.reconnect =
        Some(Box::new(move || fresh.take().ok_or_else(|| gracewatch::control::Error::Refused("no more links".into()))));
    let (rig, task) = start(attached(), running_system().state.into_state(), opts);
    rig.updates.send(Update::Closed("the supervisor exited".into())).await.unwrap();
    settle().await;
    typed(&rig, "r").await;
    // The fresh link's state (camera stopping) is on screen; its updates are folded.
    fresh_updates.send(Update::Notice("hello again".into())).await.unwrap();
    settle().await;
    typed(&rig, "q").await;
    let (exit, screen) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Detached);
    assert!(screen.contains("stopping"), "{screen}");
    assert!(screen.contains("hello again"), "{screen}");
    assert!(!screen.contains("session closed"), "{screen}");
}

#[tokio::test]
async fn quitting_after_the_link_closed_reports_why() {
    let (rig, task) = start(attached(), running_system().state.into_state(), options(6 * S));
    rig.updates.send(Update::Closed("connection reset".into())).await.unwrap();
    settle().await;
    typed(&rig, "q").await;
    let (exit, screen) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::LinkClosed("connection reset".into()));
    assert!(screen.contains("The session closed: connection reset"), "{screen}");
}

/// A line of webui output, arriving at +6 s.
/// The `i`-th node of a stop-all (pid 4101 + i) stopped, at 7 s.
fn stopped_at_7s(seq: u64, name: &str, i: usize) -> Update {
    let ev = EventKind::NodeExited {
        node: name.to_string(),
        pid: 4101 + i as u32,
        code: Some(0),
        signal: None,
        cause: ExitCause::Stopped,
        pending_tokens: vec![],
    };
    Update::Event(Box::new(Event { seq, t: 7 * S, ev }))
}

fn new_line(seq: u64) -> Update {
    let ev = EventKind::Output {
        node: "webui".into(),
        stream: gracewatch::event::Stream::Stdout,
        line: "NEW LINE".into(),
        truncated_from: None,
    };
    Update::Event(Box::new(Event { seq, t: 6 * S, ev }))
}

#[tokio::test]
async fn pause_freezes_the_screen_while_updates_keep_folding() {
    let feed = running_system();
    let seq = feed.state.last_seq.unwrap() + 1;
    let (rig, task) = start(attached(), feed.state.into_state(), options(6 * S));
    typed(&rig, " ").await;
    rig.updates.send(new_line(seq)).await.unwrap();
    settle().await;
    typed(&rig, "q").await;
    let (exit, screen) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Detached);
    assert!(screen.contains("PAUSED +1 events"), "{screen}");
    assert!(!screen.contains("NEW LINE"), "{screen}");

    // And space again shows it.
    let feed = running_system();
    let (rig, task) = start(attached(), feed.state.into_state(), options(6 * S));
    typed(&rig, " ").await;
    rig.updates.send(new_line(seq)).await.unwrap();
    typed(&rig, " ").await;
    typed(&rig, "q").await;
    let (_, screen) = task.await.unwrap();
    assert!(screen.contains("NEW LINE"), "{screen}");
    assert!(screen.contains("LIVE"), "{screen}");
}

#[tokio::test]
async fn resync_replaces_the_state_and_counts_dropped_events() {
    let (rig, task) = start(attached(), running_system().state.into_state(), options(MID_STOP_NOW));
    rig.updates.send(Update::Resync(Box::new(mid_stop().state.into_state()), 1234)).await.unwrap();
    settle().await;
    typed(&rig, "q").await;
    let (_, screen) = task.await.unwrap();
    assert!(screen.contains("drop 1234"), "{screen}");
    assert!(screen.contains("stopping"), "{screen}");
}

#[tokio::test]
async fn sigterm_to_gracewatch_ends_the_cockpit() {
    let (rig, task) = start(LinkKind::InProcess, running_system().state.into_state(), options(6 * S));
    settle().await;
    rig.signals.send(Signal::TERM).unwrap();
    let (exit, _) = tokio::time::timeout(Duration::from_secs(2), task).await.unwrap().unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Terminated(Signal::TERM));
}

#[tokio::test]
async fn resize_redraws_at_the_new_size() {
    let (rig, task) = start(attached(), running_system().state.into_state(), options(6 * S));
    rig.keys.send(TermEvent::Resize(80, 24)).unwrap();
    settle().await;
    typed(&rig, "q").await;
    let (_, screen) = task.await.unwrap();
    // TestBackend keeps its size; the layout follows the Ui's screen, which the resize set.
    assert!(screen.contains("6 run"), "{screen}");
}

/// A `TestBackend` that counts frames.
struct Counting {
    inner: TestBackend,
    frames: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ratatui::backend::Backend for Counting {
    type Error = std::convert::Infallible;
    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

/// At most how many frames a cockpit drawing every `every` may have drawn in `elapsed`: the
/// first frame, one per period begun, and one for a period cut short at the end. Bounds are
/// taken against the time that really passed (a loaded machine sleeps longer than asked).
fn at_most(elapsed: Duration, every: Duration) -> usize {
    2 + (elapsed.as_nanos() / every.as_nanos()) as usize
}

/// Frames drawn while `during` runs against the cockpit, and how long that took.
async fn frames_while<F: std::future::Future<Output = ()>>(
    state: State,
    during: impl FnOnce(mpsc::Sender<Update>) -> F,
) -> (usize, Duration) {
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (l, updates, _requests) = link(attached(), state);
    let (keys, keys_rx) = mpsc::unbounded_channel::<TermEvent>();
    let (_signals, sig_rx) = mpsc::unbounded_channel::<Signal>();
    let counter = frames.clone();
    let task = tokio::spawn(async move {
        let mut terminal = Terminal::new(Counting { inner: TestBackend::new(120, 30), frames: counter }).unwrap();
        let events = futures_util::StreamExt::map(stream(keys_rx), Ok);
        // A clock that moves, as the session's does.
        let t0 = std::time::Instant::now();
        let opts = TuiOptions {
            now: Some(Box::new(move || MID_STOP_NOW + t0.elapsed().as_nanos() as u64)),
            theme: Some(Theme::plain()),
            ..TuiOptions::default()
        };
        drive(&mut terminal, events, stream(sig_rx), l, opts).await
    });
    let start = std::time::Instant::now();
    during(updates).await;
    let n = frames.load(std::sync::atomic::Ordering::Relaxed);
    let elapsed = start.elapsed();
    keys.send(key('q')).unwrap();
    task.await.unwrap().unwrap();
    (n, elapsed)
}

#[tokio::test]
async fn idle_means_no_redraws_but_the_clock_second() {
    let (n, elapsed) =
        frames_while(running_system().state.into_state(), |_| tokio::time::sleep(Duration::from_millis(1500))).await;
    // The first frame, then at most one per second for the header clock.
    assert!(n <= at_most(elapsed, Duration::from_secs(1)), "{n} frames in {elapsed:?} of nothing");
}

#[tokio::test]
async fn a_running_stop_ticks_at_about_ten_hertz() {
    let (n, elapsed) =
        frames_while(mid_stop().state.into_state(), |_| tokio::time::sleep(Duration::from_secs(1))).await;
    // It does tick (more than the idle clock's once a second), and not faster than 10 Hz.
    assert!(n >= 3 && n <= at_most(elapsed, TICK), "{n} frames in {elapsed:?} of a countdown");
}

#[tokio::test]
async fn a_burst_of_updates_is_drawn_at_most_thirty_times_a_second() {
    let feed = running_system();
    let seq0 = feed.state.last_seq.unwrap() + 1;
    let (n, elapsed) = frames_while(feed.state.into_state(), |updates| async move {
        for i in 0..2000u64 {
            let ev = EventKind::Usage { node: "webui".into(), cpu_permille: (i % 1000) as u32, rss_kib: 1 };
            updates.send(Update::Event(Box::new(Event { seq: seq0 + i, t: 6 * S, ev }))).await.unwrap();
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    // 2000 updates would be 2000 frames if each were drawn.
    assert!(n <= at_most(elapsed, FRAME), "{n} frames for a burst of 2000 updates over {elapsed:?}");
}

#[tokio::test]
async fn after_a_stop_all_under_up_the_final_table_stays_until_q() {
    let feed = running_system();
    let names: Vec<String> = feed.state.nodes.keys().cloned().collect();
    let mut seq = feed.state.last_seq.unwrap() + 1;
    let (mut rig, task) = start(LinkKind::InProcess, feed.state.into_state(), options(6 * S));
    typed(&rig, "Sy").await;
    assert!(matches!(
        next_request(&mut rig).await,
        Request::Stop { request: StopRequest { targets: StopTargets::All, mode: StopMode::Graceful, .. }, .. }
    ));
    for (i, name) in names.iter().enumerate() {
        rig.updates.send(stopped_at_7s(seq, name, i)).await.unwrap();
        seq += 1;
    }
    let ended = EventKind::SessionEnded { reason: "every node stopped".into() };
    rig.updates.send(Update::Event(Box::new(Event { seq, t: 7 * S, ev: ended }))).await.unwrap();
    rig.updates.send(Update::Closed("the session ended".into())).await.unwrap();
    settle().await;
    settle().await;
    assert!(!task.is_finished(), "the cockpit left before q");
    // Keys still work on the final state; stopping says there is nothing left.
    typed(&rig, "jS").await;
    assert!(!task.is_finished(), "the cockpit left before q");
    typed(&rig, "q").await;
    let (exit, screen) = tokio::time::timeout(Duration::from_secs(2), task).await.unwrap().unwrap();
    assert_eq!(exit.unwrap(), TuiExit::AllStopped);
    assert!(screen.contains("6 exited"), "{screen}");
    assert!(screen.contains("■ ENDED") && !screen.contains("CLOSED"), "{screen}");
    assert!(!screen.contains("session closed"), "no closed-link box: {screen}");
    assert!(screen.contains("nothing to stop"), "{screen}");
}

#[tokio::test]
async fn quitting_under_up_ends_when_the_session_closes_first() {
    let (mut rig, task) = start(LinkKind::InProcess, running_system().state.into_state(), options(6 * S));
    typed(&rig, "qy").await;
    assert!(matches!(
        next_request(&mut rig).await,
        Request::Stop { request: StopRequest { targets: StopTargets::All, .. }, .. }
    ));
    rig.updates.send(Update::Closed("the session ended".into())).await.unwrap();
    let (exit, _) = tokio::time::timeout(Duration::from_secs(2), task).await.unwrap().unwrap();
    assert_eq!(exit.unwrap(), TuiExit::LinkClosed("the session ended".into()));
}

/// SIGKILL from the `x` picker asks first, like `K`; the signal then goes out as the
/// operator's (not a stop: the exit will say "signalled by the operator (SIGKILL)").
#[tokio::test]
async fn sigkill_from_the_picker_asks_first_and_goes_out_as_the_operators() {
    let (mut rig, task) = start(attached(), running_system().state.into_state(), options(6 * S));
    // detector, then KILL (the seventh entry of the picker).
    typed(&rig, "jxjjjjjj").await;
    rig.keys.send(TermEvent::Key(KeyCode::Enter.into())).unwrap();
    settle().await;
    assert!(rig.requests.try_recv().is_err(), "nothing sent before the confirmation");
    typed(&rig, "n").await;
    assert!(rig.requests.try_recv().is_err(), "declined: nothing sent");
    typed(&rig, "xjjjjjj").await;
    rig.keys.send(TermEvent::Key(KeyCode::Enter.into())).unwrap();
    typed(&rig, "y").await;
    assert_eq!(
        next_request(&mut rig).await,
        Request::Signal { node: "detector".into(), signal: Signal::KILL, by: Requester::Operator }
    );
    typed(&rig, "q").await;
    let (exit, _) = task.await.unwrap();
    assert_eq!(exit.unwrap(), TuiExit::Detached);
}
