//! Every command's output goes through here, never through `println!` (which panics when the
//! reader has gone: `gracewatch report J --json | head -1`).
//!
//! gracewatch runs with SIGPIPE ignored (Rust's runtime sets that up before `main`; its nodes
//! get the default back between fork and exec, `sys::child_setup`), so a write to a closed pipe
//! fails with `BrokenPipe` instead of killing the process. That error ends the command quietly
//! with exit status 0, as ripgrep and the other line tools do: the reader had what it wanted.
//! Any other write error (a full disk behind `>`) is an error worth saying.
//!
//! Diagnostics on standard error go through [`note`], which never panics and never fails.

use crate::Error;
use std::io::Write;

/// Writes `text` to standard output and flushes it.
pub(crate) fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(write_error)
}

/// Writes `line` and a newline to standard output.
pub(crate) fn line(line: &str) -> Result<(), Error> {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    print(&text)
}

/// What a failed write to standard output means for the command.
pub(crate) fn write_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe { Error::StdoutClosed } else { Error::Stdout(e) }
}

/// A line on standard error (gracewatch's own messages). A closed or broken standard error is
/// ignored: there is nowhere left to say anything.
pub(crate) fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_a_quiet_success_and_other_errors_are_failures() {
        let closed = write_error(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!((closed.exit_code(), closed.is_quiet()), (0, true));
        let full = write_error(std::io::Error::other("no space left on device"));
        assert_eq!((full.exit_code(), full.is_quiet()), (1, false));
        assert_eq!(full.to_string(), "cannot write to standard output: no space left on device");
    }
}
