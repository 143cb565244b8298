//! The integration tests, as one test binary (the layout of cargo's own
//! `tests/testsuite`): it is linked once instead of once per file, and
//! libtest runs every test of every file on every core, so a test that
//! keeps one core busy (a loom proof, a fuzz run) runs beside the others
//! instead of after them. Each file is a module named after it:
//! `cargo test --release --test suite explorers_agree::` runs one file.
//!
//! `tests/scenarios.rs` (one test per scenario expectation) and
//! `tests/directory_disk_crash.rs` (which kills child processes) have
//! harnesses of their own and stay binaries of their own.

mod support;

mod bench_quick;
mod broken_models;
mod cli;
mod cluster;
mod conditions;
mod counterexamples;
mod explorers_agree;
mod guarded_reads;
mod hunt_props;
mod incomplete;
mod loader_props;
mod manifest_models;
mod plan_models;
mod plan_seeds;
mod runs_models;
mod scenario_errors;
mod scenario_index;
mod state_fingerprints;
mod task_chains;
mod vacuity;
mod workers;
