//! A disk inside the model: a map from path to contents.

use super::Disk;
use crate::platform::Platform;
use crate::runtime::{AccessKind, Footprint, Runtime, Shared};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// Files held in memory; each access is one atomic step of the model.
pub struct MemoryDisk<P: Platform> {
    files: Shared<P, BTreeMap<String, Arc<str>>>,
    /// On a controlled loop: each access reports its file, so turns on
    /// different files commute.
    footprint: Option<Arc<Footprint>>,
}

impl<P: Platform> MemoryDisk<P> {
    pub fn new(rt: &Runtime<P>) -> Self {
        MemoryDisk { files: Shared::unprobed(rt, BTreeMap::new()), footprint: rt.footprint().cloned() }
    }

    fn touch(&self, path: &str, kind: AccessKind) {
        if let Some(f) = &self.footprint {
            f.touch_named(path, kind);
        }
    }
}

impl<P: Platform> Disk for MemoryDisk<P> {
    fn read(&self, path: &str) -> io::Result<Option<Arc<str>>> {
        self.touch(path, AccessKind::Read);
        Ok(self.files.read(|f| f.get(path).cloned()))
    }
    fn write(&self, path: &str, contents: &str) -> io::Result<()> {
        self.touch(path, AccessKind::Write);
        self.files.with(|f| f.insert(path.to_string(), contents.into()));
        Ok(())
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.touch(from, AccessKind::Write);
        self.touch(to, AccessKind::Write);
        self.files.with(|f| match f.remove(from) {
            Some(v) => {
                f.insert(to.to_string(), v);
                Ok(())
            }
            None => Err(io::Error::new(io::ErrorKind::NotFound, format!("{from} does not exist"))),
        })
    }
    fn remove(&self, path: &str) -> io::Result<bool> {
        self.touch(path, AccessKind::Write);
        Ok(self.files.with(|f| f.remove(path).is_some()))
    }
    fn snapshot(&self) -> io::Result<Vec<(String, Arc<str>)>> {
        Ok(self.files.with(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}
