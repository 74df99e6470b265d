//! Word wrap for styled spans: hazard sentences and errors are long, and cutting them would
//! cut what they say.

use ratatui::text::{Line, Span};

/// Wraps `spans` to `width` columns; continuation lines start with `indent` spaces. Words
/// longer than a line are split.
pub(crate) fn wrap(spans: &[Span<'_>], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(indent + 8);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for span in spans {
        let style = span.style;
        for word in split_words(&span.content) {
            let mut word = word.to_string();
            loop {
                let w = word.chars().count();
                if used + w <= width {
                    used += w;
                    push(&mut cur, word, style);
                    break;
                }
                let room = width - used;
                if used > indent && w <= width - indent {
                    // Start a new line for this word (its leading space, if any, is dropped).
                    lines.push(Line::from(std::mem::take(&mut cur)));
                    cur.push(Span::raw(" ".repeat(indent)));
                    used = indent;
                    word = word.trim_start().to_string();
                    continue;
                }
                // Too long for any line: split it.
                let head: String = word.chars().take(room).collect();
                let tail: String = word.chars().skip(room).collect();
                push(&mut cur, head, style);
                lines.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(" ".repeat(indent)));
                used = indent;
                word = tail;
                if word.is_empty() {
                    break;
                }
            }
        }
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

fn push(cur: &mut Vec<Span<'static>>, text: String, style: ratatui::style::Style) {
    if let Some(last) = cur.last_mut() {
        if last.style == style {
            last.content.to_mut().push_str(&text);
            return;
        }
    }
    cur.push(Span::styled(text, style));
}

/// Splits into words, each with the spaces before it.
fn split_words(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = true;
    for (i, c) in s.char_indices() {
        if c == ' ' {
            if !in_space && i > start {
                out.push(&s[start..i]);
                start = i;
            }
            in_space = true;
        } else {
            in_space = false;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn wraps_at_words_with_an_indent() {
        let l = wrap(&[Span::raw("⚠ "), Span::raw("camera ignores SIGTERM so only SIGKILL stops it")], 20, 2);
        assert_eq!(text(&l), vec!["⚠ camera ignores", "  SIGTERM so only", "  SIGKILL stops it"]);
    }

    #[test]
    fn splits_words_longer_than_a_line() {
        let l = wrap(&[Span::raw("abcdefghijklmnopqrstuvwxyz")], 10, 0);
        assert_eq!(text(&l), vec!["abcdefghij", "klmnopqrst", "uvwxyz"]);
    }
}
