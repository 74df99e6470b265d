//! Reading a node's stdout and stderr line by line into `Output` events.

use crate::event::{EventKind, Stream};
use std::os::fd::OwnedFd;
use tokio::io::AsyncReadExt;

/// Longest line kept; longer lines are cut and marked with their original length.
pub(crate) const MAX_OUTPUT_LINE: usize = 4096;

/// Splits a byte stream into lines, cutting long ones. Pure: fed chunks, returns lines.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    /// Length of the current line so far when it is already over the limit.
    overflow: Option<usize>,
}

/// A finished line: text and, if cut, the original length.
pub(crate) type Line = (String, Option<u32>);

impl LineSplitter {
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Line>) {
        while !chunk.is_empty() {
            let nl = memchr(chunk);
            let (part, rest) = match nl {
                Some(i) => (&chunk[..i], Some(&chunk[i + 1..])),
                None => (chunk, None),
            };
            if let Some(total) = &mut self.overflow {
                *total += part.len();
            } else {
                let room = MAX_OUTPUT_LINE - self.buf.len();
                if part.len() > room {
                    self.buf.extend_from_slice(&part[..room]);
                    self.overflow = Some(MAX_OUTPUT_LINE + part.len() - room);
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            match rest {
                Some(rest) => {
                    out.push(self.take());
                    chunk = rest;
                }
                None => break,
            }
        }
    }

    /// The last unterminated line, at end of stream.
    pub(crate) fn finish(&mut self, out: &mut Vec<Line>) {
        if !self.buf.is_empty() || self.overflow.is_some() {
            out.push(self.take());
        }
    }

    fn take(&mut self) -> Line {
        let mut bytes = std::mem::take(&mut self.buf);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let cut = self.overflow.take().map(|n| n as u32);
        (text, cut)
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|b| *b == b'\n')
}

/// Reads one stream of a node until it closes, then says so (the session holds the node's exit
/// until its streams have closed: see `session::exits`).
pub(crate) async fn pump(
    node: String,
    stream: Stream,
    fd: OwnedFd,
    sink: tokio::sync::mpsc::Sender<super::input::Input>,
    clock: crate::clock::Clock,
) {
    read_lines(&node, stream, fd, &sink, clock).await;
    let _ = sink.send(super::input::Input::StreamClosed { node }).await;
}

async fn read_lines(
    node: &str,
    stream: Stream,
    fd: OwnedFd,
    sink: &tokio::sync::mpsc::Sender<super::input::Input>,
    clock: crate::clock::Clock,
) {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut splitter = LineSplitter::default();
    let mut chunk = vec![0u8; 4096];
    let mut lines = Vec::new();
    loop {
        let n = match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n == 0 {
            splitter.finish(&mut lines);
        } else {
            splitter.feed(&chunk[..n], &mut lines);
        }
        for (line, truncated_from) in lines.drain(..) {
            let ev = EventKind::Output { node: node.to_string(), stream, line, truncated_from };
            if sink.send(super::input::Input::Event(clock.now(), ev)).await.is_err() {
                return;
            }
        }
        if n == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks_and_cuts_long_ones() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"hel", &mut out);
        s.feed(b"lo\r\nwor", &mut out);
        s.feed(b"ld\n", &mut out);
        assert_eq!(out, vec![("hello".to_string(), None), ("world".to_string(), None)]);
        out.clear();
        let long = vec![b'x'; MAX_OUTPUT_LINE + 100];
        s.feed(&long, &mut out);
        s.feed(b"yy\nnext", &mut out);
        s.finish(&mut out);
        assert_eq!(out[0].0.len(), MAX_OUTPUT_LINE);
        assert_eq!(out[0].1, Some((MAX_OUTPUT_LINE + 102) as u32));
        assert_eq!(out[1], ("next".to_string(), None));
        out.clear();
        s.feed(&[0xff, b'a', b'\n'], &mut out);
        assert_eq!(out[0].0, "\u{fffd}a");
    }
}
