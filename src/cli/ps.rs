//! `gracewatch ps`: one snapshot of a running session.

use super::args::PsArgs;
use crate::Error;
use crate::control::{
    self,
    protocol::{Answer, Request},
};
use crate::event::{Disposition, Signal};
use crate::state::{PsNode, PsSnapshot};
use std::fmt::Write;
use std::process::ExitCode;

pub(super) fn ps(args: &PsArgs) -> Result<ExitCode, Error> {
    let session = crate::control::session::resolve(args.session.session.as_deref())?;
    let snapshot = match crate::control::client::ask(&session.socket, &Request::Ps)? {
        Answer::Ps { snapshot } => snapshot,
        Answer::Error { message } => return Err(control::Error::Refused(message).into()),
        other => return Err(control::Error::Unexpected(Box::new(other)).into()),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&snapshot)?;
        super::out::line(&text)?;
    } else {
        super::out::print(&table(&snapshot))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn glyph(node: &PsNode, sig: Signal) -> char {
    if node.blocked.is_some_and(|b| b.contains(sig)) {
        return 'B';
    }
    let judged = node.handlers.as_ref().and_then(|h| h.get(&sig.name()));
    let letter = match judged.or_else(|| node.settling_handlers.as_ref().and_then(|h| h.get(&sig.name()))) {
        Some(Disposition::Caught) => 'C',
        Some(Disposition::Ignored) => 'I',
        Some(Disposition::Default) => 'D',
        None => '?',
    };
    // Lower case: read while it starts up, not judged yet.
    if judged.is_none() { letter.to_ascii_lowercase() } else { letter }
}

/// The human table: one line per node.
pub(super) fn table(s: &PsSnapshot) -> String {
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
            n.threads.map_or_else(|| "?".to_string(), |t| t.to_string()),
            n.pending_tokens,
            stop,
            if hazards.is_empty() { "-".to_string() } else { hazards.join(",") }
        );
    }
    out += "handlers: D default · C caught · I ignored · B blocked on every thread · ? not sampled yet (THR too) · \
            lower case: read while it starts up, not judged yet\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventKind, Header, ProcSample, SigSet};
    use crate::manifest::NodeSpec;

    #[test]
    fn the_table_says_question_marks_until_sampled_and_lower_case_while_settling() {
        let specs = ["fresh", "booting", "ready"].map(|n| NodeSpec::with_defaults(n, vec!["x".into()])).to_vec();
        let mut state = crate::state::Fold::new(crate::hazards::lints());
        let mut seq = 0;
        let mut push = |state: &mut crate::state::Fold, ev: EventKind| {
            state.apply(&Event { seq, t: seq * 1_000_000, ev });
            seq += 1;
        };
        push(&mut state, EventKind::SessionStarted(Box::new(Header::synthetic("s", specs))));
        for (node, pid) in [("fresh", 10), ("booting", 11), ("ready", 12)] {
            push(&mut state, EventKind::NodeSpawned { node: node.into(), pid, pgid: pid, argv: vec![] });
        }
        let int: SigSet = [Signal::INT].into_iter().collect();
        let both: SigSet = [Signal::INT, Signal::TERM].into_iter().collect();
        let sample = |pid, caught| ProcSample {
            pid,
            caught,
            threads: vec![crate::event::ThreadSample::default()],
            ..Default::default()
        };
        push(&mut state, EventKind::ProcSettling { node: "booting".into(), sample: sample(11, int) });
        push(&mut state, EventKind::ProcSampled { node: "ready".into(), sample: sample(12, both) });
        let text = table(&PsSnapshot::from_state(&state, 10_000_000));
        let row =
            |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap().split_whitespace().collect::<Vec<_>>();
        // NAME PID STATE INT TERM QUIT HUP THR TOKENS ...
        assert_eq!(row("fresh")[3..8], ["?", "?", "?", "?", "?"], "{text}");
        assert_eq!(row("booting")[3..8], ["c", "d", "d", "d", "?"], "{text}");
        assert_eq!(row("ready")[3..8], ["C", "C", "D", "D", "1"], "{text}");
    }
}
