//! `scenarios/README.md` indexes every scenario file, and names no file
//! that does not exist.

use racecheck::scenario;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn every_scenario_is_in_the_index_and_every_row_is_a_scenario() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files: BTreeSet<String> = scenario::discover(std::slice::from_ref(&root))
        .unwrap()
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap().with_extension("").to_string_lossy().replace('\\', "/"))
        .collect();
    let index = std::fs::read_to_string(root.join("README.md")).unwrap();
    let rows: BTreeSet<String> = index
        .lines()
        .filter_map(|l| l.strip_prefix("| ["))
        .filter_map(|l| l.split_once("]("))
        .map(|(name, rest)| {
            let link = rest.split(')').next().unwrap_or_default();
            assert_eq!(link, format!("{name}.toml"), "the row's link names its own file");
            name.to_string()
        })
        .collect();
    let missing: Vec<_> = files.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&files).collect();
    assert!(missing.is_empty(), "scenarios not in scenarios/README.md: {missing:?}");
    assert!(stale.is_empty(), "rows of scenarios/README.md with no file: {stale:?}");
    assert!(files.len() >= 30, "{} scenarios", files.len());
}
