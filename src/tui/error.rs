//! Why the cockpit (live or replay) ended on an error: the terminal could not be set up, drawn
//! on or read, or gracewatch's own exit signals could not be watched. Each is a failure (exit
//! status 1); the terminal is restored before it is said.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SIGTERM and SIGHUP to gracewatch could not be watched.
    #[error("{0}")]
    Signals(#[source] io::Error),
    /// Raw mode, the alternate screen or the backend could not be set up.
    #[error("{0}")]
    Terminal(#[source] io::Error),
    /// The terminal's size could not be read, or a frame could not be drawn (the backend's
    /// own error: any backend can draw the cockpit).
    #[error("{0}")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The terminal's input could not be read.
    #[error("reading the terminal: {0}")]
    Read(#[source] io::Error),
}

impl Error {
    /// A failure, not bad input.
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// A backend's error drawing (or sizing) the screen.
    pub(crate) fn draw(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Draw(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_failed_in_the_system_s_words() {
        assert_eq!(Error::Read(io::Error::other("EIO")).to_string(), "reading the terminal: EIO");
        assert_eq!(Error::draw(io::Error::other("broken pipe")).to_string(), "broken pipe");
        assert_eq!(Error::Terminal(io::Error::other("not a tty")).exit_code(), 1);
    }
}
