//! racecheck: a deterministic concurrency test harness and model checker for
//! the persistent state of AI-agent orchestrators.
//!
//! Data flows one way: scenario → explore → execution → verdict → report.
//! Modules below only ever use modules further down this list; `bench`
//! sits on top of them all (scenario + explore + report), and nothing
//! imports it.

pub mod bench;
pub mod execution;
pub mod explore;
pub mod history;
pub mod platform;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod storage;
pub mod systems;
