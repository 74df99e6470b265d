//! The integration tests, as one test binary (as ripgrep does): each former `tests/*.rs` is a
//! module here, so the crate is linked once for the suite instead of once per file.
//! Helpers shared by the modules: `common` (the real binary against real processes),
//! `pty_support` (the binary in a pseudo-terminal), `tui_support` (hand-written sessions).

mod common;
mod pty_support;
mod tui_support;

mod attach_pty;
mod broken_pipe;
mod demo;
mod demo_pty;
mod formats;
mod fuzz_corpus;
mod hazards;
mod journal_roundtrip;
mod manifest_errors;
mod nothing_escapes;
mod probe_live;
mod python_client;
mod replay;
mod replay_pty;
mod report;
mod stop_causes;
mod stop_follow;
mod tui_driver;
mod tui_pty;
mod tui_snapshots;
mod watch;
mod wire_protocol;
