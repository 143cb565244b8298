//! racecheck: a deterministic concurrency test harness and model checker for
//! the persistent state of AI-agent orchestrators.
//!
//! Data flows one way: scenario → explore → execution → verdict → report.
//! Modules below only ever use modules further down this list. `hunt`
//! (generated scenarios) and `bench` (measurements) sit on top: they use
//! scenario, explore, report and systems, and nothing imports them.

pub mod bench;
pub mod execution;
pub mod explore;
pub mod history;
pub mod hunt;
pub mod memory;
pub mod platform;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod storage;
pub mod systems;
