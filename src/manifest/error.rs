//! Manifest errors that point at the file, line, column and key.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub column: usize,
    /// Dotted key path (`nodes.camera.grace`); empty when there is none.
    pub key: String,
    pub message: String,
    /// The offending source line, for the caret display.
    pub source_line: Option<String>,
    pub span_len: usize,
}

impl ManifestError {
    /// An error at a byte range of `source`.
    pub(crate) fn at(
        file: &Path,
        source: &str,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        let (line, column, source_line, span_len) = match span {
            Some(span) => {
                let start = span.start.min(source.len());
                let before = &source[..start];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = source[line_start..start].chars().count() + 1;
                let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
                let text = source[line_start..line_end].trim_end_matches('\r').to_string();
                let len = span.end.min(line_end).saturating_sub(start).max(1);
                (line, column, Some(text), len)
            }
            None => (0, 0, None, 0),
        };
        ManifestError {
            file: file.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
            source_line,
            span_len,
        }
    }

    /// An error about the whole file (unreadable, empty).
    pub(crate) fn whole(file: &Path, message: impl Into<String>) -> Self {
        ManifestError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: message.into(),
            source_line: None,
            span_len: 0,
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(text) = &self.source_line {
            let gutter = self.line.to_string();
            write!(f, "\n {gutter} | {text}")?;
            let pad: String =
                text.chars().take(self.column.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            write!(f, "\n {} | {pad}{}", " ".repeat(gutter.len()), "^".repeat(self.span_len.min(80)))?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

/// Several manifest errors, one after the other (each with its place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestErrors(pub Vec<ManifestError>);

impl From<ManifestError> for ManifestErrors {
    fn from(e: ManifestError) -> Self {
        ManifestErrors(vec![e])
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}
