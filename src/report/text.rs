//! The report as plain text: readable in a terminal, pasteable into an incident ticket.

use super::Report;
use crate::state::sentence::{self, count};
use crate::util::{fmt_ns, fmt_t};
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "gracewatch report · session {} · host {} · gracewatch {}",
        r.session, r.host, r.gracewatch_version
    );
    let _ = writeln!(
        out,
        "started {} · lasted {} · {}",
        r.started,
        fmt_ns(r.duration_ns),
        count(r.events as usize, "event")
    );
    if r.torn {
        let _ =
            writeln!(out, "! the journal is cut off after its last whole record: the supervisor did not end cleanly");
    }
    if let Some(damage) = crate::journal::describe_damage(r.damaged_records, &r.damaged_at) {
        let _ = writeln!(out, "! journal damaged: {damage}; the report is made of the rest");
    }
    if r.unknown_kinds > 0 {
        let _ = writeln!(
            out,
            "! {} this gracewatch does not know {} skipped",
            if r.unknown_kinds == 1 {
                "1 record of a kind".to_string()
            } else {
                format!("{} records of kinds", r.unknown_kinds)
            },
            if r.unknown_kinds == 1 { "was" } else { "were" }
        );
    }
    match &r.ended {
        Some(reason) => {
            let _ = writeln!(out, "ended: {reason}");
        }
        None if !r.torn => {
            let _ = writeln!(
                out,
                "! the journal ends without the session's end: the supervisor was killed or is still running"
            );
        }
        None => {}
    }
    let width = r.nodes.iter().map(|n| n.name.len()).max().unwrap_or(4).max(10);

    let _ = writeln!(out, "\nVERDICTS");
    for n in &r.nodes {
        let _ = writeln!(out, "  {:<width$}  {}", n.name, n.verdict);
    }

    let _ = writeln!(out, "\nNODES");
    for n in &r.nodes {
        let started = n.started_at.map_or_else(|| "never started".to_string(), |t| format!("started {}", fmt_t(t)));
        let pid = n.pid.map_or_else(String::new, |p| format!("pid {p} · "));
        let _ = writeln!(out, "{} · {pid}{started} · {}", n.name, crate::state::shell_join(&n.argv));
        if let Some(s) = &n.stop {
            let mode = if s.mode == crate::event::StopMode::Force { "forced" } else { "graceful" };
            let _ = writeln!(
                out,
                "  stop       requested {} by {} ({mode}): {}",
                fmt_t(s.requested_at),
                s.by.as_str(),
                s.plan
            );
            if !s.stages.is_empty() {
                let stages: Vec<String> = s.stages.iter().map(|st| format!("{} {}", fmt_t(st.t), st.stage)).collect();
                let _ = writeln!(out, "  stages     {}", stages.join(" · "));
            }
            if let Some(a) = s.ack_latency_ns {
                let _ = writeln!(out, "  ack        after {}", fmt_ns(a));
            }
            if s.extensions > 0 {
                let _ = writeln!(out, "  grace      extended {}", sentence::grace_extensions(s.extensions));
            }
        }
        if let Some(e) = &n.exit {
            let after = e.after_stop_ns.map_or_else(String::new, |a| format!(", {} after the request", fmt_ns(a)));
            let status = e.error.clone().unwrap_or_else(|| e.status.text());
            let _ = writeln!(out, "  exit       {} {}{after}", fmt_t(e.t), e.cause.with_status(&status));
        }
        if !n.pending_tokens_at_end.is_empty() {
            let shown: Vec<String> = n
                .pending_tokens_at_end
                .iter()
                .take(5)
                .map(|t| format!("#{} held by {} ({} old)", t.id, t.holders.join(", "), fmt_ns(t.age_ns)))
                .collect();
            let more = n.pending_tokens_at_end.len().saturating_sub(5);
            let more = if more > 0 { format!(", and {more} more") } else { String::new() };
            let _ = writeln!(
                out,
                "  tokens     {} still lent at the end: {}{more}",
                n.pending_tokens_at_end.len(),
                shown.join(", ")
            );
        }
        for h in &n.hazards {
            let _ = writeln!(out, "  hazard     {} {}: {}", fmt_t(h.t), h.id, h.sentence);
        }
        for f in &n.forks {
            let execd = match f.execd {
                Some(true) => "exec'd",
                Some(false) => "no exec",
                None => "exec unknown",
            };
            let _ = writeln!(
                out,
                "  fork       {} pid {} → {}, {}, {execd} (seen by {})",
                fmt_t(f.t),
                f.parent_pid,
                f.child_pid,
                count(f.threads as usize, "thread"),
                f.source.describe()
            );
        }
        if !n.survivors.is_empty() {
            let _ =
                writeln!(out, "  survivors  killed after it exited: {}", sentence::survivors_detached(&n.survivors));
        }
        if n.protocol_errors > 0 {
            let _ = writeln!(
                out,
                "  protocol   {} cut for protocol errors",
                count(n.protocol_errors as usize, "connection")
            );
        }
    }

    if !r.timeline.is_empty() {
        let _ = writeln!(out, "\nTIMELINE OF THE SHUTDOWN");
        for e in &r.timeline {
            let _ = writeln!(
                out,
                "  {:>10}  {:<width$}  {}",
                fmt_t(e.t),
                e.node.as_deref().unwrap_or("gracewatch"),
                e.what
            );
        }
    }
    out
}
