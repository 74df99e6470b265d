//! Fold + full frame of the cockpit: 1,000 nodes and 100,000 pending drop tokens into a
//! 160x45 `TestBackend`. Target (DESIGN.md): ≤ 5 ms per frame in release.
//!
//! - `frame/render`: the full screen, nothing new folded.
//! - `frame/fold_1000+render`: 1,000 events folded (30,000 events/s at 30 frames/s), then the
//!   frame.
//! - `frame/render_80x24`, `frame/render_sorted_by_tokens`: a small screen, a sorted table.
//! - `detail/100k_on_selected`: the detail pane of a node holding all 100,000 tokens.
//! - `detail/stale_issue_order`: the same node after 100,000 more tokens were issued and
//!   returned behind one that is never returned (the ledger's issue order keeps them).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gracewatch::event::{
    ChildInfo, Event, EventKind, FORMAT_VERSION, Header, PlanStage, ProcSample, Requester, SessionMode, SigSet, Signal,
    StageAction, StopMode, StopPlan, Stream, ThreadSample,
};
use gracewatch::manifest::{Manifest, NodeSpec};
use gracewatch::state::{Fold, State};
use gracewatch::tui::app::{LinkMode, Ui, View};
use gracewatch::tui::panes::table::SortKey;
use gracewatch::tui::theme::Theme;
use gracewatch::tui::views::Screen;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::hint::black_box;

const NODES: usize = 1_000;
const TOKENS: u64 = 100_000;
const MS: u64 = 1_000_000;

struct Sim {
    state: Fold,
    feed: Feed,
}

/// Where the next events come from: sequence, time, token ids per node.
struct Feed {
    seq: u64,
    t: u64,
    /// Per node: the oldest pending token id and the next id to issue.
    window: Vec<(u64, u64)>,
    names: Vec<String>,
}

impl Sim {
    fn apply(&mut self, ev: EventKind) {
        self.state.apply(&Event { seq: self.feed.seq, t: self.feed.t, ev });
        self.feed.seq += 1;
    }
}

impl Feed {
    /// A batch of what a busy session sends between two frames: tokens issued and returned
    /// (keeping the pending count), usage samples and output lines.
    fn batch(&mut self, n: usize) -> Vec<Event> {
        let mut out = Vec::with_capacity(n);
        let mut k = (self.seq as usize) % NODES;
        while out.len() < n {
            self.t += 10_000;
            let node = self.names[k].clone();
            let (lo, hi) = self.window[k];
            let mut push = |ev: EventKind| {
                out.push(Event { seq: self.seq, t: self.t, ev });
                self.seq += 1;
            };
            push(EventKind::TokenIssued {
                node: node.clone(),
                id: hi,
                receivers: vec!["sink-a".into(), "sink-b".into()],
            });
            push(EventKind::TokenReleased { node: node.clone(), id: lo, receiver: "sink-a".into() });
            push(EventKind::TokenReleased { node: node.clone(), id: lo, receiver: "sink-b".into() });
            push(EventKind::Usage { node: node.clone(), cpu_permille: (hi % 1000) as u32, rss_kib: 10_000 + hi });
            if hi % 8 == 0 {
                push(EventKind::Output {
                    node,
                    stream: Stream::Stdout,
                    line: format!("frame {hi} done"),
                    truncated_from: None,
                });
            }
            self.window[k] = (lo + 1, hi + 1);
            k = (k + 1) % NODES;
        }
        out
    }
}

fn header() -> Header {
    Header {
        format: FORMAT_VERSION,
        format_minor: gracewatch::event::FORMAT_MINOR,
        version: "bench".into(),
        session: "bench".into(),
        mode: SessionMode::Up,
        host: "h".into(),
        pid: 1,
        started_unix_ms: 1_777_638_896_000,
        started: String::new(),
        monotonic_ns: 0,
        journal: None,
        manifest: Manifest {
            name: "bench".into(),
            path: None,
            nodes: (0..NODES).map(|i| NodeSpec::with_defaults(&format!("node-{i:04}"), vec!["run".into()])).collect(),
            hazards: std::collections::BTreeMap::new(),
            probe_interval_ms: 250,
            watch_stop_signal: None,
        },
    }
}

fn sample(pid: u32) -> ProcSample {
    let sigs = |l: &[Signal]| l.iter().copied().collect::<SigSet>();
    ProcSample {
        pid,
        ppid: 1,
        name: "run".into(),
        caught: sigs(&[Signal::INT, Signal::TERM]),
        ignored: SigSet::EMPTY,
        threads: (0..4)
            .map(|i| ThreadSample { tid: pid + i, name: format!("worker-{i}"), blocked: SigSet::EMPTY })
            .collect(),
        children: vec![ChildInfo { pid: pid + 100_000, name: "helper".into(), execd: true }],
        ..ProcSample::default()
    }
}

/// 1,000 running nodes with `per_node` pending tokens each (or all on node 0 with `skewed`),
/// ten of them stopping, some output and hazards.
fn build(per_node: u64, skewed: bool) -> Sim {
    let names: Vec<String> = (0..NODES).map(|i| format!("node-{i:04}")).collect();
    let feed = Feed { seq: 0, t: 0, window: vec![(0, 0); NODES], names: names.clone() };
    let mut sim = Sim { state: Fold::new(gracewatch::hazards::lints()), feed };
    sim.apply(EventKind::SessionStarted(Box::new(header())));
    for (i, n) in names.iter().enumerate() {
        sim.feed.t = MS;
        let pid = 10_000 + i as u32;
        sim.apply(EventKind::NodeSpawned { node: n.clone(), pid, pgid: pid, argv: vec!["run".into()] });
        sim.apply(EventKind::ProcSampled { node: n.clone(), sample: sample(pid) });
        sim.apply(EventKind::Usage { node: n.clone(), cpu_permille: (i % 1000) as u32, rss_kib: 50_000 });
        if i % 50 == 7 {
            let ignored = ProcSample { ignored: [Signal::TERM].into_iter().collect(), ..sample(pid) };
            sim.apply(EventKind::ProcSampled { node: n.clone(), sample: ignored });
        }
    }
    let receivers = vec!["sink-a".to_string(), "sink-b".to_string()];
    for i in 0..TOKENS {
        sim.feed.t = 2 * MS + i * 1000;
        let k = if skewed { 0 } else { (i / per_node) as usize % NODES };
        let (lo, hi) = sim.feed.window[k];
        sim.apply(EventKind::TokenIssued { node: names[k].clone(), id: hi, receivers: receivers.clone() });
        sim.feed.window[k] = (lo, hi + 1);
    }
    let plan = StopPlan {
        grace_ms: 10_000,
        stages: vec![
            PlanStage { at_ms: 0, action: StageAction::Signal(Signal::TERM) },
            PlanStage { at_ms: 10_000, action: StageAction::Kill },
        ],
        drain_extension_ms: 0,
        group: true,
    };
    for n in names.iter().step_by(100) {
        sim.feed.t = 500 * MS;
        sim.apply(EventKind::StopRequested {
            node: n.clone(),
            by: Requester::Operator,
            mode: StopMode::Graceful,
            plan: plan.clone(),
            kill_at: None,
        });
        sim.apply(EventKind::StageEntered {
            node: n.clone(),
            stage: StageAction::Signal(Signal::TERM),
            deadline: Some(10_500 * MS),
        });
    }
    for i in 0..2_000u64 {
        sim.feed.t = 600 * MS + i * MS;
        let node = names[(i as usize * 7) % NODES].clone();
        sim.apply(EventKind::Output {
            node,
            stream: Stream::Stdout,
            line: format!("line {i}: something happened"),
            truncated_from: None,
        });
    }
    sim
}

fn ui(w: u16, h: u16) -> Ui {
    let mut ui = Ui::new(LinkMode::InProcess, Theme::colored(), Rect::new(0, 0, w, h));
    ui.table.selected = Some("node-0500".into());
    ui
}

fn draw(term: &mut Terminal<TestBackend>, state: &State, ui: &Ui, now: u64) {
    term.draw(|f| f.render_widget(&Screen::new(state, ui, now), f.area())).ok();
}

fn frames(c: &mut Criterion) {
    let mut sim = build(TOKENS / NODES as u64, false);
    assert_eq!(sim.state.nodes.values().map(|n| n.tokens.pending()).sum::<usize>(), TOKENS as usize);
    let now = 3_000 * MS;
    let mut g = c.benchmark_group("frame");
    let mut term = Terminal::new(TestBackend::new(160, 45)).ok().unwrap_or_else(|| unreachable!());
    let wide = ui(160, 45);
    g.bench_function("render", |b| b.iter(|| draw(&mut term, black_box(&sim.state), &wide, now)));
    g.bench_function("fold_1000+render", |b| {
        b.iter_batched(
            || sim.feed.batch(1000),
            |batch| {
                for ev in &batch {
                    sim.state.apply(ev);
                }
                draw(&mut term, &sim.state, &wide, now);
            },
            BatchSize::SmallInput,
        );
    });
    let mut small = Terminal::new(TestBackend::new(80, 24)).ok().unwrap_or_else(|| unreachable!());
    let narrow = ui(80, 24);
    g.bench_function("render_80x24", |b| b.iter(|| draw(&mut small, black_box(&sim.state), &narrow, now)));
    let mut sorted = ui(160, 45);
    sorted.table.sort = SortKey::Tokens;
    g.bench_function("render_sorted_by_tokens", |b| b.iter(|| draw(&mut term, black_box(&sim.state), &sorted, now)));
    g.finish();
}

fn detail(c: &mut Criterion) {
    let mut sim = build(TOKENS, true);
    let now = 3_000 * MS;
    let mut g = c.benchmark_group("detail");
    let mut term = Terminal::new(TestBackend::new(160, 45)).ok().unwrap_or_else(|| unreachable!());
    let mut u = ui(160, 45);
    u.table.selected = Some("node-0000".into());
    u.view = View::Detail;
    assert_eq!(sim.state.node("node-0000").map(|n| n.tokens.pending()), Some(TOKENS as usize));
    g.bench_function("100k_on_selected", |b| b.iter(|| draw(&mut term, black_box(&sim.state), &u, now)));

    // Return every token but the first, then lend and return 100,000 more: one pending token,
    // 200,000 entries behind it in the ledger's issue order.
    let node = "node-0000".to_string();
    for id in 1..TOKENS {
        for r in ["sink-a", "sink-b"] {
            sim.apply(EventKind::TokenReleased { node: node.clone(), id, receiver: r.into() });
        }
    }
    for id in TOKENS..2 * TOKENS {
        sim.apply(EventKind::TokenIssued { node: node.clone(), id, receivers: vec!["sink-a".into()] });
        sim.apply(EventKind::TokenReleased { node: node.clone(), id, receiver: "sink-a".into() });
    }
    assert_eq!(sim.state.node(&node).map(|n| n.tokens.pending()), Some(1));
    g.bench_function("stale_issue_order", |b| b.iter(|| draw(&mut term, black_box(&sim.state), &u, now)));
    g.finish();
}

criterion_group!(benches, frames, detail);
criterion_main!(benches);
