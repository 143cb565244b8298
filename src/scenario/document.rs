//! A scenario as a raw, serializable document: the file's tables and values
//! as written (setup and operation arguments as JSON values, the view the
//! systems parse), without the validation's results. Generated scenarios
//! are built as documents, written with [`Document::to_toml`], and read
//! back with [`parse_document`], which runs the full validation first.

use super::ScenarioError;
use super::source::Source;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// A whole scenario file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The comment lines at the top of the file (without `#`), one per line.
    #[serde(skip)]
    pub story: Vec<String>,
    pub title: String,
    pub origin: String,
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantics: Option<String>,
    /// `[setup]`, as the system parses it (empty when absent).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub setup: Map<String, Value>,
    #[serde(rename = "actor")]
    pub actors: Vec<ActorDoc>,
    pub check: CheckDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore: Option<ExploreDoc>,
    #[serde(rename = "expect")]
    pub expects: Vec<ExpectDoc>,
    /// Top-level keys this type does not know (kept, so a document read from
    /// a file with newer sections writes them back).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One `[[actor]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActorDoc {
    pub name: String,
    /// Its operations in order, each a table with `op` and the arguments.
    #[serde(rename = "do")]
    pub ops: Vec<Map<String, Value>>,
}

/// `[check]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckDoc {
    pub invariants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reachable: Vec<String>,
}

/// `[explore]`; a missing field takes the loader's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExploreDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explorer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// One `[[expect]]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpectDoc {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variant: BTreeMap<String, String>,
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariant: Option<String>,
}

/// An operation table: `{ op = name, args... }`.
pub fn op(name: &str, args: &[(&str, Value)]) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("op".into(), Value::String(name.into()));
    for (k, v) in args {
        map.insert((*k).to_string(), v.clone());
    }
    map
}

/// Why a document cannot be written as TOML (a value TOML has no form for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TomlError(pub String);

impl std::fmt::Display for TomlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TomlError {}

impl Document {
    /// Number of operations over all actors.
    pub fn op_count(&self) -> usize {
        self.actors.iter().map(|a| a.ops.len()).sum()
    }

    /// The file's text: story comments, top-level keys, `[setup]`,
    /// `[[actor]]`s with inline operation tables, `[check]`, `[explore]`,
    /// `[[expect]]`s. [`parse_document`] reads it back equal.
    pub fn to_toml(&self) -> Result<String, TomlError> {
        let mut out = String::new();
        for line in &self.story {
            if line.contains('\n') {
                return Err(TomlError(format!("a story line holds a line break: {line:?}")));
            }
            let line = line.trim();
            if line.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {line}");
            }
        }
        let mut top = |key: &str, value: &Value| -> Result<(), TomlError> {
            let _ = writeln!(out, "{} = {}", toml_key(key), inline(value)?);
            Ok(())
        };
        top("title", &Value::String(self.title.clone()))?;
        top("origin", &Value::String(self.origin.clone()))?;
        top("system", &Value::String(self.system.clone()))?;
        if let Some(s) = &self.semantics {
            top("semantics", &Value::String(s.clone()))?;
        }
        // Unknown scalars and arrays of scalars belong before the first table.
        let is_section = |v: &Value| match v {
            Value::Object(_) => true,
            Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_object),
            _ => false,
        };
        for (k, v) in self.extra.iter().filter(|(_, v)| !is_section(v)) {
            top(k, v)?;
        }
        if !self.setup.is_empty() {
            out.push_str("\n[setup]\n");
            table_body(&mut out, &self.setup)?;
        }
        for actor in &self.actors {
            out.push_str("\n[[actor]]\n");
            let _ = writeln!(out, "name = {}", inline(&Value::String(actor.name.clone()))?);
            let ops: Vec<Value> = actor.ops.iter().cloned().map(Value::Object).collect();
            let _ = writeln!(out, "do = {}", multiline_array(&ops, 1)?);
        }
        out.push_str("\n[check]\n");
        let invariants: Vec<Value> = self.check.invariants.iter().cloned().map(Value::String).collect();
        let _ = writeln!(out, "invariants = {}", inline(&Value::Array(invariants))?);
        if !self.check.reachable.is_empty() {
            let reachable: Vec<Value> = self.check.reachable.iter().cloned().map(Value::String).collect();
            let _ = writeln!(out, "reachable = {}", inline(&Value::Array(reachable))?);
        }
        if let Some(explore) = &self.explore {
            out.push_str("\n[explore]\n");
            let value = serde_json::to_value(explore).map_err(|e| TomlError(e.to_string()))?;
            if let Value::Object(map) = value {
                // The explorer first, then its parameters.
                for key in ["explorer", "bound", "schedules", "depth", "seed"] {
                    if let Some(v) = map.get(key) {
                        let _ = writeln!(out, "{key} = {}", inline(v)?);
                    }
                }
            }
        }
        for expect in &self.expects {
            out.push_str("\n[[expect]]\n");
            if !expect.variant.is_empty() {
                let variant: Map<String, Value> =
                    expect.variant.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                let _ = writeln!(out, "variant = {}", inline(&Value::Object(variant))?);
            }
            let _ = writeln!(out, "verdict = {}", inline(&Value::String(expect.verdict.clone()))?);
            if let Some(inv) = &expect.invariant {
                let _ = writeln!(out, "invariant = {}", inline(&Value::String(inv.clone()))?);
            }
        }
        for (k, v) in self.extra.iter().filter(|(_, v)| is_section(v)) {
            match v {
                Value::Object(map) => {
                    let _ = writeln!(out, "\n[{}]", toml_key(k));
                    table_body(&mut out, map)?;
                }
                Value::Array(items) => {
                    for item in items {
                        let _ = writeln!(out, "\n[[{}]]", toml_key(k));
                        if let Value::Object(map) = item {
                            table_body(&mut out, map)?;
                        }
                    }
                }
                _ => unreachable!("only tables are sections"),
            }
        }
        Ok(out)
    }
}

/// `key = value` lines of a table, arrays of tables one element a line.
fn table_body(out: &mut String, map: &Map<String, Value>) -> Result<(), TomlError> {
    for (k, v) in map {
        let text = match v {
            Value::Array(items) if items.iter().all(Value::is_object) => multiline_array(items, 1)?,
            _ => inline(v)?,
        };
        let _ = writeln!(out, "{} = {text}", toml_key(k));
    }
    Ok(())
}

/// `[a, b]` on one line when it has at most `one_line` items, else one item a line.
fn multiline_array(items: &[Value], one_line: usize) -> Result<String, TomlError> {
    if items.len() <= one_line {
        let parts: Result<Vec<String>, TomlError> = items.iter().map(inline).collect();
        return Ok(format!("[{}]", parts?.join(", ")));
    }
    let mut s = String::from("[\n");
    for item in items {
        let _ = writeln!(s, "  {},", inline(item)?);
    }
    s.push(']');
    Ok(s)
}

/// A key, bare when TOML allows it, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_string() } else { scalar(&Value::String(key.to_string())).unwrap_or_else(|_| format!("{key:?}")) }
}

/// A value in inline form; tables list `op`, then what they name (`name`,
/// `id`, `run`, `job`, `task`), then `status`, then the rest.
fn inline(value: &Value) -> Result<String, TomlError> {
    match value {
        Value::Object(map) if map.is_empty() => Ok("{}".into()),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| match k.as_str() {
                "op" => 0,
                "name" | "id" | "run" | "job" | "task" => 1,
                "status" => 2,
                _ => 3,
            });
            let parts: Result<Vec<String>, TomlError> =
                keys.iter().map(|k| Ok(format!("{} = {}", toml_key(k), inline(&map[k.as_str()])?))).collect();
            Ok(format!("{{ {} }}", parts?.join(", ")))
        }
        Value::Array(items) => {
            let parts: Result<Vec<String>, TomlError> = items.iter().map(inline).collect();
            Ok(format!("[{}]", parts?.join(", ")))
        }
        other => scalar(other),
    }
}

/// A string, number or boolean, written by the toml crate.
fn scalar(value: &Value) -> Result<String, TomlError> {
    if value.is_null() {
        return Err(TomlError("TOML has no null value".into()));
    }
    let mut s = String::new();
    serde::Serialize::serialize(value, toml::ser::ValueSerializer::new(&mut s))
        .map_err(|e| TomlError(format!("{value} has no TOML form: {e}")))?;
    Ok(s)
}

/// The comment lines at the top of `text`, as the loader reads the story.
pub(super) fn story_lines(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Validates scenario `text` (read from `path`) exactly as [`super::parse`]
/// does, and returns it as a raw document.
pub fn parse_document(path: &Path, text: &str) -> Result<Document, ScenarioError> {
    super::parse(path, text)?;
    let source = Source::parse(text).map_err(|e| ScenarioError::at(path, text, e.span, "valid TOML", e.message))?;
    let mut doc: Document = serde_json::from_value(source.value)
        .map_err(|e| ScenarioError::file(path, "a scenario document", format!("{e}")))?;
    doc.story = story_lines(text);
    Ok(doc)
}

/// Reads and validates one scenario file as a raw document.
pub fn load_document(path: &Path) -> Result<Document, ScenarioError> {
    parse_document(path, &super::read_text(path)?)
}
