//! The log pane's window onto `state.log`: which lines show for a filter and a scroll anchor,
//! and where search matches are. Pure; shared by the log view and the keys that scroll it.
//!
//! Lines are named by their absolute number, `log.dropped + index`, which stays the same as
//! new lines arrive and old ones fall off: a scrolled log does not move under the reader.

use crate::state::{Log, LogLine};

fn keep(line: &LogLine, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| line.node.as_deref() == Some(f))
}

/// Index into `log.lines` of the bottom line for `anchor` (None: the last line).
fn bottom_index(log: &Log, filter: Option<&str>, anchor: Option<u64>) -> Option<usize> {
    let len = log.lines.len();
    if len == 0 {
        return None;
    }
    let start = match anchor {
        None => len - 1,
        Some(abs) => (abs.saturating_sub(log.dropped) as usize).min(len - 1),
    };
    (0..=start).rev().find(|i| keep(&log.lines[*i], filter))
}

/// The lines to show, oldest first, at most `height`, each with its absolute number.
pub(crate) fn window<'a>(
    log: &'a Log,
    filter: Option<&str>,
    anchor: Option<u64>,
    height: usize,
) -> Vec<(u64, &'a LogLine)> {
    let Some(bottom) = bottom_index(log, filter, anchor) else { return Vec::new() };
    let mut out: Vec<(u64, &LogLine)> = (0..=bottom)
        .rev()
        .filter(|i| keep(&log.lines[*i], filter))
        .take(height)
        .map(|i| (log.dropped + i as u64, &log.lines[i]))
        .collect();
    out.reverse();
    out
}

/// The anchor after scrolling `by` lines towards older (`up`) or newer lines. Reaching the end
/// of the log returns `None`: follow again.
pub(crate) fn scroll(log: &Log, filter: Option<&str>, anchor: Option<u64>, by: usize, up: bool) -> Option<u64> {
    let bottom = bottom_index(log, filter, anchor)?;
    let len = log.lines.len();
    if up {
        // Never scroll so far that fewer lines than the step remain: stop at the first line.
        let target = (0..bottom).rev().filter(|i| keep(&log.lines[*i], filter)).take(by).last();
        Some(log.dropped + target.unwrap_or(bottom) as u64)
    } else {
        let target = (bottom + 1..len).filter(|i| keep(&log.lines[*i], filter)).take(by).last();
        let last = (0..len).rev().find(|i| keep(&log.lines[*i], filter));
        match target {
            Some(t) if Some(t) != last => Some(log.dropped + t as u64),
            _ => None,
        }
    }
}

/// The anchor for the oldest line (`Home`).
pub(crate) fn top(log: &Log, filter: Option<&str>) -> Option<u64> {
    (0..log.lines.len()).find(|i| keep(&log.lines[*i], filter)).map(|i| log.dropped + i as u64)
}

/// The next line matching `query`, searching older lines from just above the bottom line shown
/// (`older`), or newer lines from just below it. Wraps around once.
pub(crate) fn find(log: &Log, filter: Option<&str>, anchor: Option<u64>, query: &str, older: bool) -> Option<u64> {
    let len = log.lines.len();
    if len == 0 || query.is_empty() {
        return None;
    }
    let bottom = bottom_index(log, filter, anchor).unwrap_or(len - 1);
    let hit = |i: &usize| keep(&log.lines[*i], filter) && !matches(&log.lines[*i].text, query).is_empty();
    let found = if older {
        (0..bottom).rev().find(hit).or_else(|| (bottom..len).rev().find(hit))
    } else {
        (bottom + 1..len).find(hit).or_else(|| (0..=bottom).find(hit))
    };
    found.map(|i| log.dropped + i as u64)
}

/// The newest line matching `query` (committing a search).
pub(crate) fn newest(log: &Log, filter: Option<&str>, query: &str) -> Option<u64> {
    (0..log.lines.len())
        .rev()
        .find(|i| keep(&log.lines[*i], filter) && !matches(&log.lines[*i].text, query).is_empty())
        .map(|i| log.dropped + i as u64)
}

/// Byte ranges of `query` in `text`, ASCII case-insensitive, not overlapping.
pub(crate) fn matches(text: &str, query: &str) -> Vec<(usize, usize)> {
    let (t, q) = (text.as_bytes(), query.as_bytes());
    let mut out = Vec::new();
    if q.is_empty() || q.len() > t.len() {
        return out;
    }
    let mut i = 0;
    while i + q.len() <= t.len() {
        if t[i..i + q.len()].eq_ignore_ascii_case(q) && text.is_char_boundary(i) && text.is_char_boundary(i + q.len()) {
            out.push((i, i + q.len()));
            i += q.len();
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LogSource;

    fn log(lines: &[(&str, &str)], dropped: u64) -> Log {
        let mut l = Log::default();
        for (i, (node, text)) in lines.iter().enumerate() {
            l.lines.push_back(LogLine {
                t: i as u64,
                seq: i as u64,
                node: (!node.is_empty()).then(|| (*node).to_string()),
                source: LogSource::Stdout,
                text: (*text).to_string(),
            });
        }
        l.dropped = dropped;
        l
    }

    #[test]
    fn follows_the_end_and_filters_by_node() {
        let l = log(&[("a", "1"), ("b", "2"), ("a", "3"), ("", "4")], 10);
        let w: Vec<_> = window(&l, None, None, 2).into_iter().map(|(n, x)| (n, x.text.as_str())).collect();
        assert_eq!(w, vec![(12, "3"), (13, "4")]);
        let w: Vec<_> = window(&l, Some("a"), None, 5).into_iter().map(|(n, x)| (n, x.text.as_str())).collect();
        assert_eq!(w, vec![(10, "1"), (12, "3")]);
    }

    #[test]
    fn scrolls_and_returns_to_follow_at_the_end() {
        let l = log(&[("a", "1"), ("a", "2"), ("a", "3"), ("a", "4")], 0);
        let up = scroll(&l, None, None, 2, true);
        assert_eq!(up, Some(1));
        assert_eq!(scroll(&l, None, up, 10, true), Some(0));
        assert_eq!(scroll(&l, None, up, 1, false), Some(2));
        assert_eq!(scroll(&l, None, up, 5, false), None);
        assert_eq!(top(&l, None), Some(0));
    }

    #[test]
    fn search_is_case_insensitive_and_wraps() {
        let l = log(&[("a", "Error one"), ("a", "fine"), ("a", "an error")], 0);
        assert_eq!(matches("Error one error", "error"), vec![(0, 5), (10, 15)]);
        assert_eq!(find(&l, None, None, "error", true), Some(0));
        assert_eq!(find(&l, None, Some(0), "error", true), Some(2));
        assert_eq!(find(&l, None, Some(0), "error", false), Some(2));
        assert_eq!(find(&l, None, None, "nothing", true), None);
        assert_eq!(newest(&l, None, "ERROR"), Some(2));
    }
}
