//! A scenario file's text as a JSON value plus the span of every value and
//! key, so an error found anywhere (here or in a system's parser) can point
//! at its line and column.

use crate::systems::args::PathSeg;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// A parsed file: values, and where each one (and each key) sits.
pub struct Source {
    pub text: String,
    pub value: Value,
    /// By path; the fast hash, because a file may hold 100,000 values and
    /// loading counts against `--max-time`.
    values: FxHashMap<Vec<PathSeg>, Range<usize>>,
    keys: FxHashMap<Vec<PathSeg>, Range<usize>>,
}

/// A TOML syntax error: message and byte span.
pub struct SyntaxError {
    pub message: String,
    pub span: Range<usize>,
}

impl Source {
    pub fn parse(text: &str) -> Result<Source, SyntaxError> {
        let doc = DeTable::parse(text)
            .map_err(|e| SyntaxError { message: e.message().trim().to_string(), span: e.span().unwrap_or(0..0) })?;
        let mut source = Source {
            text: text.to_string(),
            value: Value::Null,
            values: FxHashMap::default(),
            keys: FxHashMap::default(),
        };
        let span = doc.span();
        let value = source.table(doc.get_ref(), &mut Vec::new());
        source.values.insert(Vec::new(), span);
        source.value = value;
        Ok(source)
    }

    fn table(&mut self, table: &DeTable<'_>, path: &mut Vec<PathSeg>) -> Value {
        let mut map = Map::new();
        for (key, value) in table.iter() {
            path.push(PathSeg::Key(key.get_ref().to_string()));
            self.keys.insert(path.clone(), key.span());
            let v = self.value(value.get_ref(), value.span(), path);
            map.insert(key.get_ref().to_string(), v);
            path.pop();
        }
        Value::Object(map)
    }

    fn value(&mut self, value: &DeValue<'_>, span: Range<usize>, path: &mut Vec<PathSeg>) -> Value {
        self.values.insert(path.clone(), span);
        match value {
            DeValue::String(s) => Value::String(s.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str().replace('_', "").trim_start_matches('+'), i.radix())
                .map_or(Value::Null, Value::from),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok().map_or(Value::Null, Value::from),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(d) => Value::String(d.to_string()),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSeg::Index(i));
                    out.push(self.value(item.get_ref(), item.span(), path));
                    path.pop();
                }
                Value::Array(out)
            }
            DeValue::Table(t) => self.table(t, path),
        }
    }

    /// The span of the value at `path`, or of its nearest existing parent
    /// (a missing field is reported at the table that lacks it).
    pub fn span_of(&self, path: &[PathSeg]) -> Range<usize> {
        (0..=path.len()).rev().find_map(|n| self.values.get(&path[..n]).cloned()).unwrap_or(0..0)
    }

    /// The span of the key at `path` (for unknown keys), else its value's.
    pub fn key_span(&self, path: &[PathSeg]) -> Range<usize> {
        self.keys.get(path).cloned().unwrap_or_else(|| self.span_of(path))
    }
}
