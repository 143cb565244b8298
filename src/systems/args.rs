//! Reading a system's part of a scenario (a JSON view of the TOML), with
//! errors that name the field by path so the scenario layer can point at its
//! line and column.

use serde_json::{Map, Value};

/// An operation's arguments.
pub type Args = Map<String, Value>;

/// One step of a path into the scenario document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// A field that is not what the system expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where, relative to the table being parsed (`[setup]` or one operation).
    pub path: Vec<PathSeg>,
    pub expected: String,
    pub found: String,
    /// The valid names, when the value should have been one of them.
    pub valid: Vec<String>,
}

impl FieldError {
    pub fn new(path: &[PathSeg], expected: impl Into<String>, found: impl Into<String>) -> Self {
        FieldError { path: path.to_vec(), expected: expected.into(), found: found.into(), valid: Vec::new() }
    }

    pub fn one_of(path: &[PathSeg], what: &str, found: impl Into<String>, valid: &[impl AsRef<str>]) -> Self {
        let mut e = FieldError::new(path, what, found);
        e.valid = valid.iter().map(|v| v.as_ref().to_string()).collect();
        e
    }
}

/// How a value looks in an error message: `"abc"`, `3`, `a table`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "a table".into(),
    }
}

/// A cursor over a table, tracking the path for errors.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: Vec<PathSeg>,
}

impl<'a> Fields<'a> {
    /// `value` must be a table whose keys are all in `allowed`.
    pub fn new(value: &'a Value, path: Vec<PathSeg>, allowed: &[&str]) -> Result<Self, FieldError> {
        let Value::Object(map) = value else {
            return Err(FieldError::new(&path, "a table", describe(value)));
        };
        Self::of_map(map, path, allowed)
    }

    pub fn of_map(map: &'a Map<String, Value>, path: Vec<PathSeg>, allowed: &[&str]) -> Result<Self, FieldError> {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let mut p = path.clone();
                p.push(PathSeg::Key(key.clone()));
                return Err(FieldError::one_of(&p, "a known field", format!("{key:?}"), allowed));
            }
        }
        Ok(Fields { map, path })
    }

    pub fn path_to(&self, key: &str) -> Vec<PathSeg> {
        let mut p = self.path.clone();
        p.push(PathSeg::Key(key.to_string()));
        p
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(FieldError::new(&self.path_to(key), "a string", describe(v))),
        }
    }

    /// The error for a required `key` that is absent; `valid` lists what it
    /// could have been (empty when there is no closed list).
    pub fn missing(&self, key: &str, valid: &[&str]) -> FieldError {
        FieldError::one_of(&self.path_to(key), &format!("a `{key}` field"), "none", valid)
    }

    pub fn required_string(&self, key: &str) -> Result<String, FieldError> {
        self.string(key)?.ok_or_else(|| self.missing(key, &[]))
    }

    /// A string that must name something defined elsewhere, e.g. a job of
    /// `[setup]`: `what` says what (`"a job defined in [setup]"`), and the
    /// error lists the `valid` names.
    pub fn name_in(&self, key: &str, what: &str, valid: &[&str]) -> Result<Option<String>, FieldError> {
        match self.string(key)? {
            Some(s) if !valid.contains(&s.as_str()) => {
                Err(FieldError::one_of(&self.path_to(key), what, format!("{s:?}"), valid))
            }
            other => Ok(other),
        }
    }

    /// [`Fields::name_in`], required (absent: the error of [`Fields::required_string`]).
    pub fn required_name_in(&self, key: &str, what: &str, valid: &[&str]) -> Result<String, FieldError> {
        self.name_in(key, what, valid)?.ok_or_else(|| self.missing(key, &[]))
    }

    /// A string that must be one of `valid`.
    pub fn choice(&self, key: &str, valid: &[&str]) -> Result<Option<String>, FieldError> {
        self.name_in(key, &format!("one of the `{key}` values"), valid)
    }

    /// [`Fields::choice`], required (absent: an error that lists `valid`).
    pub fn required_choice(&self, key: &str, valid: &[&str]) -> Result<String, FieldError> {
        self.choice(key, valid)?.ok_or_else(|| self.missing(key, valid))
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(v) => Err(FieldError::new(&self.path_to(key), "an integer", describe(v))),
        }
    }

    /// An integer of at least 1; `what` says so in the error (`"a positive integer"`).
    pub fn positive(&self, key: &str, what: &str) -> Result<Option<u64>, FieldError> {
        match self.integer(key)? {
            Some(n) if n < 1 => Err(FieldError::new(&self.path_to(key), what, n.to_string())),
            other => Ok(other.map(|n| n as u64)),
        }
    }

    /// An integer that must not be negative.
    pub fn unsigned(&self, key: &str) -> Result<Option<u64>, FieldError> {
        match self.integer(key)? {
            Some(n) if n < 0 => Err(FieldError::new(&self.path_to(key), "a non-negative integer", n.to_string())),
            other => Ok(other.map(|n| n as u64)),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(FieldError::new(&self.path_to(key), "true or false", describe(v))),
        }
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, FieldError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => {
                        let mut p = self.path_to(key);
                        p.push(PathSeg::Index(i));
                        Err(FieldError::new(&p, "a string", describe(v)))
                    }
                })
                .collect(),
            Some(v) => Err(FieldError::new(&self.path_to(key), "an array of strings", describe(v))),
        }
    }

    /// An array of tables, each handed to `f` with its path.
    pub fn tables<T>(
        &self,
        key: &str,
        mut f: impl FnMut(&'a Value, Vec<PathSeg>) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let mut p = self.path_to(key);
                    p.push(PathSeg::Index(i));
                    f(v, p)
                })
                .collect(),
            Some(v) => Err(FieldError::new(&self.path_to(key), "an array of tables", describe(v))),
        }
    }
}

/// Each entry of the array `list` names itself by `field` (`names`, in
/// order) and no two share a name; the first repeat is located at its entry.
pub fn check_unique(list: &str, field: &str, what: &str, names: &[&str]) -> Result<(), FieldError> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if !seen.insert(name) {
            let path = [PathSeg::Key(list.into()), PathSeg::Index(i), PathSeg::Key(field.into())];
            return Err(FieldError::new(&path, what, format!("{name:?} again")));
        }
    }
    Ok(())
}
