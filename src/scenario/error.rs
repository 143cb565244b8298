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
        // Spans come from parsers and byte offsets: on a char boundary, or moved back to one.
        let boundary = |mut i: usize| {
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let (start, end) = (boundary(span.start), boundary(span.end));
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("").to_string();
        let width = text[start..end.max(start)].lines().next().map_or(1, |s| s.chars().count().max(1));
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

/// Characters of a found value or a source line a message shows at most:
/// a 5 MB value is not echoed in full.
const SHOWN: usize = 160;

/// `text` cut to its first [`SHOWN`] characters, saying how long it was.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN) {
        None => text.into(),
        Some((end, _)) => format!("{}… ({} characters in all)", &text[..end], text.chars().count()).into(),
    }
}

/// The part of a long source `line` around `column` (1-based), with the
/// column and width of the caret in it.
fn window(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let total = line.chars().count();
    if total <= SHOWN {
        return (line.to_string(), column, width);
    }
    let from = column.saturating_sub(1 + SHOWN / 4);
    let shown: String = line.chars().skip(from).take(SHOWN).collect();
    let (head, tail) = (if from > 0 { "…" } else { "" }, if from + SHOWN < total { "…" } else { "" });
    let column = column - from + head.chars().count();
    (format!("{head}{shown}{tail}"), column, width.min(SHOWN - (column - 1 - head.chars().count())).max(1))
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: expected {}, found {}", self.expected, cut(&self.found))?;
        writeln!(f, "  --> {}", self.location())?;
        if let Some((line, width)) = &self.excerpt {
            let gutter = self.line.to_string().len();
            let (line, column, width) = window(line, self.column, *width);
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, line)?;
            writeln!(f, "{:gutter$} | {}{}", "", " ".repeat(column - 1), "^".repeat(width))?;
        }
        if !self.valid.is_empty() {
            // Each cut, and at most 20 of them: a list of 100,000 jobs is not echoed.
            const LISTED: usize = 20;
            let mut valid: Vec<std::borrow::Cow<'_, str>> = self.valid.iter().take(LISTED).map(|v| cut(v)).collect();
            if self.valid.len() > LISTED {
                valid.push(format!("… ({} in all)", self.valid.len()).into());
            }
            writeln!(f, "  = valid: {}", valid.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_found_value_and_line_are_cut_around_the_error() {
        let long = "x".repeat(5000);
        let line = format!("a = [{long}, y]");
        let column = line.find('y').unwrap() + 1;
        let e = ScenarioError {
            file: "f.toml".into(),
            line: 3,
            column,
            expected: "a number".into(),
            found: format!("{long:?}"),
            valid: Vec::new(),
            excerpt: Some((line, 1)),
        };
        let text = e.to_string();
        assert!(text.len() < 800, "{} bytes:\n{text}", text.len());
        assert!(text.contains("(5002 characters in all)"), "{text}");
        assert!(text.contains("f.toml:3:"), "{text}");
        // The caret still points at the `y`.
        let lines: Vec<&str> = text.lines().collect();
        let caret = lines[4].find('^').unwrap();
        assert_eq!(lines[3].chars().nth(caret), Some('y'), "{text}");
        // Short values are shown whole.
        assert_eq!(cut("\"short\""), "\"short\"");
        assert_eq!(window("a = 1", 5, 1), ("a = 1".to_string(), 5, 1));
    }
}
