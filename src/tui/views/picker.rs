//! The signal picker of `x`: a small box of signals to send to the selected node.

use super::Ctx;
use crate::tui::panes::picker::PICKER_SIGNALS;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

fn what(sig: crate::event::Signal) -> &'static str {
    use crate::event::Signal;
    match sig {
        s if s == Signal::TERM => "terminate (the usual stop signal)",
        s if s == Signal::INT => "interrupt (Ctrl-C)",
        s if s == Signal::HUP => "hang up (often: reload)",
        s if s == Signal::QUIT => "quit (often: dump core)",
        s if s == Signal::USR1 => "user signal 1",
        s if s == Signal::USR2 => "user signal 2",
        s if s == Signal::KILL => "kill now, no cleanup",
        s if s == Signal::STOP => "pause the process",
        s if s == Signal::CONT => "resume a paused process",
        _ => "",
    }
}

pub(crate) fn render(cx: Ctx, node: &str, index: usize, screen: Rect, buf: &mut Buffer) {
    let t = cx.theme;
    let w = 46.min(screen.width);
    let h = (PICKER_SIGNALS.len() as u16 + 2).min(screen.height);
    let area = Rect::new(screen.x + (screen.width - w) / 2, screen.y + (screen.height - h) / 2, w, h);
    Clear.render(area, buf);
    let pid = cx.state.node(node).and_then(|n| n.pid).map(|p| format!(" (pid {p})")).unwrap_or_default();
    let block =
        Block::bordered().border_style(t.border_focus).title(Line::styled(format!(" send to {node}{pid} "), t.title));
    let lines: Vec<Line> = PICKER_SIGNALS
        .iter()
        .enumerate()
        .map(|(i, sig)| {
            let sel = i == index;
            let line = Line::from(vec![
                Span::styled(if sel { "› " } else { "  " }, t.key),
                Span::styled(format!("{:<8}", sig.name()), t.key),
                Span::styled(what(*sig), t.dim),
            ]);
            if sel { line.patch_style(t.selected) } else { line }
        })
        .collect();
    Paragraph::new(lines).block(block).render(area, buf);
}
