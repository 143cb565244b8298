//! `racecheck new`: a scenario file to start from, for one system: a shipped
//! scenario of the system (so it is valid, and checks as it is), under a
//! header that says what to change and lists what the system offers.

use crate::systems::SystemSpec;

/// The text of a new scenario of `spec`'s system.
pub fn template(spec: &SystemSpec) -> String {
    let (path, example) = spec.example;
    let mut out = format!(
        "# A new scenario of the {name} system: {about}.\n\
         # Started from scenarios/{path}; make it the race you are reporting:\n\
         #   - the comment above `title`: what happens, in which order, and why it breaks;\n\
         #   - `origin`: the repository, commit and issue or PR it comes from;\n\
         #   - [setup]: the state before the race; each [[actor]]: who runs what, at once;\n\
         #   - [check]: the invariants to judge, and the race window a proof must reach;\n\
         #   - one [[expect]] per variant: `violation` where the race shows, `proved` where\n\
         #     the fix removes it.\n\
         # `racecheck explain --system {name}` describes every field, operation and argument;\n\
         # CONTRIBUTING.md walks through the rest. `racecheck check` accepts this file as it is.\n#\n",
        name = spec.name,
        about = spec.about,
    );
    let names = |names: Vec<&str>| names.join(", ");
    out += &format!("# Operations: {}\n", names(spec.ops.iter().map(|o| o.name).collect()));
    out += "# Knobs (the origin's code choices; the default is the fixed code):\n";
    for knob in spec.knobs {
        let choices = names(knob.choices.iter().map(|(c, _)| *c).collect());
        out += &format!("#   {} = {choices} (default {})\n", knob.name, knob.default);
    }
    out += &format!("# Invariants: {}\n", names(spec.invariants.iter().map(|i| i.name).collect()));
    out +=
        &format!("# Conditions ([check] reachable): {}\n\n", names(spec.conditions.iter().map(|c| c.name).collect()));
    out + &without_regressions(example)
}

/// `text` without its `[[regression]]` tables and the comments just above
/// them: their schedules belong to the race they were found in.
fn without_regressions(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("[[regression]]") {
            while kept.last().is_some_and(|l| l.trim_start().starts_with('#') || l.trim().is_empty()) {
                kept.pop();
            }
            skipping = true;
            continue;
        }
        if skipping && trimmed.starts_with('[') {
            skipping = false;
            kept.push("");
        }
        if !skipping {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    text.truncate(text.trim_end().len());
    text + "\n"
}

#[cfg(test)]
mod tests {
    use super::without_regressions;

    #[test]
    fn regressions_and_their_comments_are_left_out() {
        let text = "a = 1\n\n# found when written\n[[regression]]\nschedule = \"x\"\n\n[[expect]]\nb = 2\n";
        assert_eq!(without_regressions(text), "a = 1\n\n[[expect]]\nb = 2\n");
        assert_eq!(without_regressions("a = 1\n# why\n[[regression]]\nx = 1\n"), "a = 1\n");
    }
}
