//! A bad scenario file, reported like a compiler error: file, line and
//! column, the offending line with a caret, what was expected, what was
//! found, and the valid names when there is a closed list.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub expected: String,
    pub found: String,
    pub valid: Vec<String>,
    /// The source line and the caret's width (for display).
    pub excerpt: Option<(String, usize)>,
}

impl ScenarioError {
    /// An error at `span` of `text`.
    pub fn at(
        file: &std::path::Path,
        text: &str,
        span: Range<usize>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("").to_string();
        let width =
            text[start..span.end.min(text.len()).max(start)].lines().next().map_or(1, |s| s.chars().count().max(1));
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            expected: expected.into(),
            found: found.into(),
            valid: Vec::new(),
            excerpt: Some((line_text, width)),
        }
    }

    /// An error about the file as a whole (unreadable, say).
    pub fn file(file: &std::path::Path, expected: impl Into<String>, found: impl Into<String>) -> Self {
        ScenarioError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            expected: expected.into(),
            found: found.into(),
            valid: Vec::new(),
            excerpt: None,
        }
    }

    pub fn with_valid(mut self, valid: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.valid = valid.into_iter().map(Into::into).collect();
        self
    }

    /// `file:line:col`
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: expected {}, found {}", self.expected, self.found)?;
        writeln!(f, "  --> {}", self.location())?;
        if let Some((line, width)) = &self.excerpt {
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, line)?;
            writeln!(f, "{:gutter$} | {}{}", "", " ".repeat(self.column - 1), "^".repeat(*width))?;
        }
        if !self.valid.is_empty() {
            writeln!(f, "  = valid: {}", self.valid.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}
