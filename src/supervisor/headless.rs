//! `up --headless`: what the fold logs, printed as it happens, one line per event,
//! `HH:MM:SS.mmm node │ text` (node output verbatim, gracewatch's own lines marked).

use crate::event::Event;
use crate::state::{LogSource, State};
use std::io::Write;

pub(crate) struct Printer {
    width: usize,
    started_unix_ms: u64,
    color: bool,
}

impl Printer {
    pub(crate) fn new(node_names: &[String]) -> Printer {
        use std::io::IsTerminal;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer { width: node_names.iter().map(String::len).max().unwrap_or(4).clamp(4, 24), started_unix_ms: 0, color }
    }

    pub(crate) fn print(&mut self, state: &State, event: &Event) {
        if let Some(h) = &state.header {
            self.started_unix_ms = h.started_unix_ms;
        }
        let mut out = std::io::stdout().lock();
        for line in
            state.log.lines.iter().rev().take_while(|l| l.seq == event.seq).collect::<Vec<_>>().into_iter().rev()
        {
            let wall = self.started_unix_ms + line.t / 1_000_000;
            let clock = format!(
                "{:02}:{:02}:{:02}.{:03}",
                (wall / 3_600_000) % 24,
                (wall / 60_000) % 60,
                (wall / 1000) % 60,
                wall % 1000
            );
            let who = line.node.as_deref().unwrap_or("gracewatch");
            let (mark, on, off) = match line.source {
                LogSource::Stdout => ("│", "", ""),
                LogSource::Stderr => ("┃", "", ""),
                LogSource::Event => ("●", "\x1b[36m", "\x1b[0m"),
                LogSource::Problem => ("▲", "\x1b[33m", "\x1b[0m"),
            };
            let (on, off) = if self.color { (on, off) } else { ("", "") };
            // A closed standard output is not the end of the session: a supervisor does not stop
            // its nodes because whoever read its log went away (SIGPIPE is ignored, `cli::out`).
            let _ = writeln!(out, "{clock} {who:<w$} {mark} {on}{}{off}", line.text, w = self.width);
        }
        let _ = out.flush();
    }
}
