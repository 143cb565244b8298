//! `racecheck hunt`: runs the searches a [`HuntConfig`] asks for and turns a
//! shrunk violation into a [`Finding`], written as a scenario file that
//! `racecheck check` accepts as it is (its story, the minimal actors, the
//! expectation and the regression schedule).

use super::*;

/// A hunt's settings.
#[derive(Clone, Debug)]
pub struct HuntConfig {
    pub system: String,
    /// `knob=choice,...` as given.
    pub variant: String,
    pub cases: u32,
    pub schedules: usize,
    pub seed: u64,
    /// Time limit of one search (a search cut short fails the case).
    pub max_time: Duration,
    /// Time limit of the exhaustive search tried on the shrunk scenario.
    pub exhaustive_time: Duration,
}

impl HuntConfig {
    pub fn new(system: &str, variant: &str) -> HuntConfig {
        HuntConfig {
            system: system.into(),
            variant: variant.into(),
            cases: 64,
            schedules: 200,
            seed: 1,
            max_time: Duration::from_secs(60),
            exhaustive_time: Duration::from_secs(10),
        }
    }

    /// The command line that runs this hunt.
    pub fn command(&self) -> String {
        format!(
            "racecheck hunt --system {} --variant {} --cases {} --schedules {} --seed {}",
            self.system, self.variant, self.cases, self.schedules, self.seed
        )
    }
}

/// A hunt's result.
#[derive(Clone, Debug)]
pub struct Hunt {
    pub plan: Plan,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// No generated case showed a violation.
    NotFound {
        cases: usize,
    },
    Found(Box<Finding>),
}

/// A shrunk violating scenario, ready to be written.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The scenario file, expectations filled in.
    pub document: Document,
    pub invariant: String,
    pub message: String,
    pub case: usize,
    /// (actors, operations) of the first failing case, after proptest, after the removals.
    pub first_size: (usize, usize),
    pub proptest_size: (usize, usize),
    pub size: (usize, usize),
    pub shrink_steps: usize,
    pub removals: usize,
    /// The explorer the file asks for.
    pub explorer: String,
    /// The counterpart (fixed) variant's verdict on the scenario, if it was checked.
    pub counterpart: Option<(BTreeMap<String, String>, String)>,
}

fn size(doc: &Document) -> (usize, usize) {
    (doc.actors.len(), doc.op_count())
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

/// Searches `config.system` under `config.variant` and, on a violation,
/// builds the shrunk scenario file.
pub fn hunt(config: &HuntConfig) -> Result<Hunt, String> {
    let start = Instant::now();
    let sys = systems::find(&config.system).ok_or_else(|| {
        let names: Vec<&str> = systems::registry().iter().map(|s| s.spec().name).collect();
        format!("expected a modeled system, found {:?}\n  = valid: {}", config.system, names.join(", "))
    })?;
    let spec = sys.spec();
    let plan = plan(spec.name, &parse_variant(spec, &config.variant)?)?;
    let choices = plan.variant.clone();
    let limits = Limits::time(config.max_time);
    let sampling = Sampling { schedules: config.schedules, seed: config.seed, depth: 3 };
    let c2 = choices.clone();
    let found = search(&plan.vocabulary, move |d| as_property(d, &c2, sampling), config.cases, config.seed, &limits)?;
    let shrunk = match found {
        Search::Held { cases } => {
            return Ok(Hunt { plan, elapsed: start.elapsed(), outcome: Outcome::NotFound { cases } });
        }
        Search::Failed(s) => s,
    };
    let fails = |d: &Document| matches!(probe(d, &limits), Probe::Violates { .. });
    let (minimal, removals) = minimize(shrunk.minimal.clone(), fails);
    let finding = finish(config, &plan, &choices, &shrunk, minimal, removals, &limits)?;
    Ok(Hunt { plan, elapsed: start.elapsed(), outcome: Outcome::Found(Box::new(finding)) })
}

/// The scenario file of a shrunk violation: the explorer that shows it
/// (stateful on an event loop, exhaustive at bound 3 under threads, if it
/// does so in time; else the sampling that found it), its `[[expect]]`, and
/// one for the counterpart variant.
fn finish(
    config: &HuntConfig,
    plan: &Plan,
    choices: &BTreeMap<String, String>,
    shrunk: &Shrunk,
    minimal: Document,
    removals: usize,
    limits: &Limits,
) -> Result<Finding, String> {
    let mut doc = minimal;
    let scenario = load(&doc)?;
    let spec = scenario.model.system.spec();
    let variant = Variant::complete(spec, choices);
    let sampled = doc.explore.clone().expect("a property has [explore]");
    let pct = Explorer::Pct { depth: 3, schedules: config.schedules, seed: config.seed };
    let mut explorer = pct.clone();
    let mut report = explore(&scenario.model, &variant, &pct, limits);
    // An explorer that can prove the counterpart: every state of an event
    // loop, or loom at bound 3 under threads.
    let proving = match scenario.model.semantics {
        crate::runtime::Semantics::EventLoop => Some(Explorer::Stateful),
        crate::runtime::Semantics::Threads if scenario.model.actor_count() <= crate::explore::MAX_EXHAUSTIVE_ACTORS => {
            Some(Explorer::Exhaustive { bound: Some(3) })
        }
        crate::runtime::Semantics::Threads => None,
    };
    if let Some(proving) = proving {
        let tried = explore(&scenario.model, &variant, &proving, &Limits::time(config.exhaustive_time));
        if matches!(tried.verdict, Verdict::Violation(_)) {
            explorer = proving;
            report = tried;
        }
    }
    let Verdict::Violation(failure) = &report.verdict else {
        let why = match &report.verdict {
            Verdict::Incomplete { reason } => format!("incomplete: {reason}"),
            v => v.name().to_string(),
        };
        let text = doc.to_toml().unwrap_or_default();
        return Err(format!("the shrunk scenario does not show a violation ({why}):\n{text}"));
    };
    let (invariant, message) = (failure.violation.invariant.clone(), failure.violation.message.clone());
    doc.explore = match &explorer {
        // The default for an event loop: the file needs no [explore].
        Explorer::Stateful => None,
        Explorer::Exhaustive { bound } => Some(ExploreDoc {
            explorer: Some("exhaustive".into()),
            bound: bound.map(|b| b as u64),
            ..Default::default()
        }),
        _ => Some(sampled),
    };
    doc.expects =
        vec![ExpectDoc { variant: choices.clone(), verdict: "violation".into(), invariant: Some(invariant.clone()) }];
    // The counterpart: the same scenario with each scoped knob fixed.
    let mut counterpart = None;
    let fixed = Variant::complete(spec, &plan.counterpart);
    if fixed != variant {
        let r = explore(&scenario.model, &fixed, &explorer, limits);
        let verdict = match &r.verdict {
            Verdict::Proved { .. } => Some(("proved", None)),
            Verdict::NotFound => Some(("not-found", None)),
            Verdict::Violation(f) => Some(("violation", Some(f.violation.invariant.clone()))),
            Verdict::Incomplete { .. } | Verdict::Vacuous { .. } => None,
        };
        let shown = match &r.verdict {
            Verdict::Violation(f) => format!("violation of {}: {}", f.violation.invariant, f.violation.message),
            Verdict::Proved { bound: Some(b) } => format!("proved within bound {b}"),
            Verdict::Proved { bound: None } => "proved".into(),
            Verdict::NotFound => format!("not found in {} schedules", config.schedules),
            Verdict::Incomplete { reason } => format!("incomplete: {reason}"),
            Verdict::Vacuous { unreached } => format!("vacuous: never reached {}", unreached.join(", ")),
        };
        if let Some((verdict, inv)) = verdict {
            doc.expects.push(ExpectDoc { variant: plan.counterpart.clone(), verdict: verdict.into(), invariant: inv });
        }
        counterpart = Some((plan.counterpart.clone(), shown));
    }
    let variant_text = choices.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    doc.title = format!("Hunted: {variant_text} violates {invariant}");
    doc.origin = format!("generated by racecheck hunt (seed {})", config.seed);
    let (a0, o0) = size(&shrunk.first);
    let (a1, o1) = size(&shrunk.minimal);
    let (a2, o2) = size(&doc);
    let mut story = vec![format!("Found by `{}`.", config.command())];
    story.extend(wrap(
        &format!(
            "Generated case {} of {} showed a violation with {} and {}; proptest shrank it to {} and {} in {} \
             steps; then {} left {} and {}.",
            shrunk.case,
            config.cases,
            plural(a0, "actor"),
            plural(o0, "operation"),
            plural(a1, "actor"),
            plural(o1, "operation"),
            shrunk.shrink_steps,
            plural(removals, "change"),
            plural(a2, "actor"),
            plural(o2, "operation"),
        ),
        88,
    ));
    match plan.scopes.as_slice() {
        [] => story.push("Scope: the whole system (no scope covers this variant).".into()),
        scopes => {
            for s in scopes {
                story.extend(wrap(&format!("Scope {}: {}.", s.label(), s.about), 88));
            }
        }
    }
    story.extend(wrap(&format!("{} finds {invariant}: {message}", explorer.describe()), 88));
    if let Some((choices, shown)) = &counterpart {
        let text = choices.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        story.extend(wrap(&format!("The counterpart {text}: {shown}."), 88));
        if shown.starts_with("violation") {
            story.push("EXPECTED VIOLATION of the counterpart too: a race its fix does not cover.".into());
        }
    }
    doc.story = story;
    Ok(Finding {
        invariant,
        message,
        case: shrunk.case,
        first_size: (a0, o0),
        proptest_size: (a1, o1),
        size: (a2, o2),
        shrink_steps: shrunk.shrink_steps,
        removals,
        explorer: explorer.describe(),
        counterpart,
        document: doc,
    })
}

/// `text` in lines of at most `width` characters (words kept whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `hunted-<8 hex digits>`: FNV-1a of the scenario's body, so the same
/// finding gets the same name.
pub fn file_stem(doc: &Document) -> String {
    let body = Document { story: Vec::new(), ..doc.clone() }.to_toml().unwrap_or_default();
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in body.bytes() {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("hunted-{:08x}", hash as u32)
}

/// Writes `finding` to `out`, or to `<root>/<system>/hunted-<hash>.toml`.
/// A file already there is never overwritten: the same finding found again
/// (the same text) is left as it is, anything else is an error.
pub fn write(finding: &Finding, out: Option<&Path>, root: &Path) -> Result<PathBuf, String> {
    let doc = &finding.document;
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => root.join(&doc.system).join(format!("{}.toml", file_stem(doc))),
    };
    let text = doc.to_toml().map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&path);
    match created {
        Ok(mut file) => std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
                return Err(format!(
                    "cannot write {}: the file exists and holds something else; it is left as it is (choose another --out)",
                    path.display()
                ));
            }
        }
        Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
    }
    Ok(path)
}
