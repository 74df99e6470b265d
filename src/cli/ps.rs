//! `gracewatch ps`: one snapshot of a running session.

use super::args::PsArgs;
use super::{CliError, CliResult};
use crate::control::protocol::{Answer, Request};
use crate::event::{Disposition, Signal};
use crate::state::{PsNode, PsSnapshot};
use std::fmt::Write;
use std::process::ExitCode;

pub fn ps(args: &PsArgs) -> CliResult {
    let session = crate::control::session::resolve(args.session.session.as_deref()).map_err(CliError::failed)?;
    let snapshot = match crate::control::client::ask(&session.socket, &Request::Ps).map_err(CliError::failed)? {
        Answer::Ps { snapshot } => snapshot,
        Answer::Error { message } => return Err(CliError::failed(message)),
        other => return Err(CliError::failed(format!("unexpected answer: {other:?}"))),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&snapshot).map_err(|e| CliError::failed(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table(&snapshot));
    }
    Ok(ExitCode::SUCCESS)
}

fn glyph(node: &PsNode, sig: Signal) -> char {
    if node.blocked.contains(sig) {
        return 'B';
    }
    match node.handlers.get(&sig.name()) {
        Some(Disposition::Caught) => 'C',
        Some(Disposition::Ignored) => 'I',
        Some(Disposition::Default) => 'D',
        None => '?',
    }
}

/// The human table: one line per node.
pub fn table(s: &PsSnapshot) -> String {
    let width = s.nodes.iter().map(|n| n.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!("session {} · journal {}\n", s.session, s.journal.as_deref().unwrap_or("-"));
    let _ = writeln!(
        out,
        "{:<width$}  {:>7}  {:<8}  INT TERM QUIT HUP  {:>3}  {:>6}  {:<22}  HAZARDS",
        "NAME", "PID", "STATE", "THR", "TOKENS", "STOP / EXIT"
    );
    for n in &s.nodes {
        let pid = n.pid.map_or_else(|| "-".into(), |p| p.to_string());
        let stop = match (&n.stop, &n.exit) {
            (_, Some(e)) => e.cause.with_status(&e.status()),
            (Some(st), None) => format!(
                "{} {}",
                st.stage.as_deref().unwrap_or("requested"),
                st.remaining_ms
                    .map_or_else(String::new, |ms| format!("{}s left", crate::util::fmt_ms(ms).trim_end_matches('s')))
            ),
            (None, None) => "-".into(),
        };
        let hazards: Vec<&str> = n.hazards.iter().map(|h| h.as_str()).collect();
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:<8}   {}   {}    {}    {}   {:>3}  {:>6}  {:<22}  {}",
            n.name,
            pid,
            if n.paused.is_some() && n.state == "running" { "paused" } else { n.state.as_str() },
            glyph(n, Signal::INT),
            glyph(n, Signal::TERM),
            glyph(n, Signal::QUIT),
            glyph(n, Signal::HUP),
            n.threads,
            n.pending_tokens,
            stop,
            if hazards.is_empty() { "-".to_string() } else { hazards.join(",") }
        );
    }
    out += "handlers: D default · C caught · I ignored · B blocked on every thread · ? not sampled yet\n";
    out
}
