//! A disk inside the model: a map from path to contents.

use super::{Contents, Disk};
use crate::platform::Platform;
use crate::runtime::{AccessKind, CellKind, Loop, Runtime, Shared, StateHash, StateHasher};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// The files by path. Their fingerprint is built only when a state's is
/// asked for, from each contents' own (computed once per contents).
#[derive(Default)]
struct Files {
    map: BTreeMap<String, Contents>,
}

impl Files {
    fn insert(&mut self, path: String, contents: Contents) {
        self.map.insert(path, contents);
    }

    fn remove(&mut self, path: &str) -> Option<Contents> {
        self.map.remove(path)
    }
}

impl StateHash for Files {
    fn state_hash(&self, h: &mut StateHasher) {
        h.u64(self.map.len() as u64);
        for (path, contents) in &self.map {
            h.str(path);
            contents.state_hash(h);
        }
    }
}

/// Files held in memory; each access is one atomic step of the model.
pub struct MemoryDisk<P: Platform> {
    files: Shared<P, Files>,
    /// On a controlled loop: each access reports its file, so turns on
    /// different files commute, and what a read found joins the task's chain.
    probe: Option<Arc<Loop>>,
}

impl<P: Platform> MemoryDisk<P> {
    pub fn new(rt: &Runtime<P>) -> Self {
        let files = Shared::reported_by_owner(rt, Files::default(), CellKind::Files);
        MemoryDisk { files, probe: rt.controlled_loop().cloned() }
    }

    fn touch(&self, path: &str, kind: AccessKind) {
        if let Some(lp) = &self.probe {
            lp.touch_named(path, kind);
        }
    }

    /// What the accessing task learned (a file's contents, whether it existed).
    fn observe(&self, what: &impl StateHash) {
        if let Some(lp) = &self.probe {
            lp.observe(what);
        }
    }
}

impl<P: Platform> Disk for MemoryDisk<P> {
    fn read(&self, path: &str) -> io::Result<Option<Contents>> {
        self.touch(path, AccessKind::Read);
        let found = self.files.read(|f| f.map.get(path).cloned());
        self.observe(&("read", path, found.as_ref()));
        Ok(found)
    }
    fn exists(&self, path: &str) -> io::Result<bool> {
        self.touch(path, AccessKind::Read);
        let exists = self.files.read(|f| f.map.contains_key(path));
        self.observe(&("exists", path, exists));
        Ok(exists)
    }
    fn write(&self, path: &str, contents: Contents) -> io::Result<()> {
        self.touch(path, AccessKind::Write);
        self.files.with(|f| f.insert(path.to_string(), contents));
        Ok(())
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.touch(from, AccessKind::Write);
        self.touch(to, AccessKind::Write);
        let moved = self.files.with(|f| match f.remove(from) {
            Some(v) => {
                f.insert(to.to_string(), v);
                true
            }
            None => false,
        });
        // Whether it failed is what the renaming task learns.
        self.observe(&("renamed", from, moved));
        if moved { Ok(()) } else { Err(io::Error::new(io::ErrorKind::NotFound, format!("{from} does not exist"))) }
    }
    fn remove(&self, path: &str) -> io::Result<bool> {
        self.touch(path, AccessKind::Write);
        let existed = self.files.with(|f| f.remove(path).is_some());
        self.observe(&("removed", path, existed));
        Ok(existed)
    }
    fn snapshot(&self) -> io::Result<Vec<(String, Contents)>> {
        Ok(self.files.read(|f| f.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}
