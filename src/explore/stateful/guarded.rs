//! Guarded reads: a persistent set of one turn where the locking
//! discipline makes a read commute with everything else.
//!
//! A task that holds a FIFO mutex goes first, and when a turn only read
//! what no other task can write before it (files or cells every write of
//! which, so far, was made under a mutex the reader holds, or that nobody
//! has written so far), it is the only task run from that state: its turn
//! commutes with everything the others do meanwhile, so {it} is a
//! persistent set (Godefroid 1996, ch. 4). The rule rests on the locking
//! discipline, which the search checks as it goes, the way Stoller's model
//! checker does (SPIN 2000): every write is compared with what reads of
//! what it wrote relied on, and a breach starts the search over knowing
//! that write (`Ended::Unguarded`).

use super::{Worker, workers};
use crate::execution::Controlled;
use crate::runtime::{AccessKind, LockId, Resource, Turn};
use std::collections::HashMap;

/// The locking discipline guarded reads rest on, as seen so far.
#[derive(Default)]
pub(super) struct Discipline {
    /// For each resource written so far, the locks held at every write of it.
    guards: HashMap<Resource, Vec<LockId>>,
    /// For each resource read by a guarded read, what it relied on: every
    /// write of it made under this lock, or (`None`) no write of it at all.
    relied: HashMap<Resource, Vec<Option<LockId>>>,
}

/// The guards a search learnt, for the search that starts over knowing them.
pub(super) type Guards = HashMap<Resource, Vec<LockId>>;

impl Discipline {
    /// The discipline as a search starts it: knowing what earlier searches
    /// saw written, with no read relying on anything yet.
    pub(super) fn knowing(guards: Guards) -> Discipline {
        Discipline { guards, relied: HashMap::new() }
    }

    pub(super) fn into_guards(self) -> Guards {
        self.guards
    }
}

impl Worker<'_, '_> {
    /// Records what guards each resource `turn` wrote; a write without a
    /// lock that a guarded read relied on for it is a breach of the locking
    /// discipline (the reduction's premise).
    pub(super) fn note_writes(&mut self, turn: &Turn, exec: &Controlled) -> Result<(), String> {
        let reduction = &self.shared.reduction;
        if !reduction.guarded_reads || turn.accesses.iter().all(|a| a.kind != AccessKind::Write) {
            return Ok(());
        }
        let mut discipline = workers::lock(&self.shared.discipline);
        let Discipline { guards, relied } = &mut *discipline;
        for access in turn.accesses.iter().filter(|a| a.kind == AccessKind::Write) {
            let guard = guards.entry(access.resource.clone()).or_insert_with(|| access.locks.clone());
            guard.retain(|l| access.locks.contains(l));
            let broken = |relied: &Option<LockId>| relied.is_none_or(|l| !access.locks.contains(&l));
            let relied = relied.get(&access.resource).is_some_and(|r| r.iter().any(broken));
            if relied && reduction.check_guards {
                let what = match &access.resource {
                    Resource::Named(name) => name.to_string(),
                    other => format!("{other:?}"),
                };
                let who = exec.task_name(turn.task);
                return Err(format!("{who} wrote {what} without a lock its readers held"));
            }
        }
        Ok(())
    }

    /// Whether `turn` only read, each resource either under a lock that
    /// guards every write of it seen so far, or (held lock or not) never
    /// written so far: then nothing another task does before it can change
    /// what it read. What it relies on is recorded, for
    /// [`Worker::note_writes`] to check. (A turn that touched nothing
    /// qualifies too.)
    pub(super) fn guarded_read(&self, turn: &Turn) -> bool {
        if !turn.started.is_empty() || !turn.woke.is_empty() {
            return false;
        }
        if turn.accesses.iter().any(|a| a.kind != AccessKind::Read) {
            return false;
        }
        // One lock for the decision and the record: a write noted between
        // them could break what is recorded without being seen to.
        let mut discipline = workers::lock(&self.shared.discipline);
        let mut relies = Vec::with_capacity(turn.accesses.len());
        for access in &turn.accesses {
            let relied = match discipline.guards.get(&access.resource) {
                None => access.locks.first().copied(),
                Some(guard) => match access.locks.iter().find(|l| guard.contains(l)) {
                    Some(&lock) => Some(lock),
                    None => return false,
                },
            };
            relies.push((access.resource.clone(), relied));
        }
        for (resource, lock) in relies {
            let relied = discipline.relied.entry(resource).or_default();
            if !relied.contains(&lock) {
                relied.push(lock);
            }
        }
        true
    }
}
