//! Scratch directories for executions on a real directory (the stress
//! explorer, `hit-rate`), all under one `racecheck` directory in the
//! system's temp dir, so that what a killed process left behind is found and
//! removed by the next one.
//!
//! Each process keeps its runs in a directory of its own, `p-XXXXXX`, next to
//! a lock file `p-XXXXXX.lock` it holds locked while it lives. The OS lets go
//! of a dead process's locks, so a lock file that can be locked marks a
//! leftover: [`Scratch::new`] removes those before it makes its own. Creating
//! and cleaning both hold `racecheck/.lock`, so a cleaner never takes a lock
//! file that its creator has not locked yet.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// This process's scratch directory; removed when dropped.
pub struct Scratch {
    dir: PathBuf,
    lock_path: PathBuf,
    /// Held locked while the directory is in use.
    _lock: File,
}

impl Scratch {
    /// A new scratch directory under `<temp dir>/racecheck`, after removing
    /// the leftovers of processes that died.
    pub fn new() -> io::Result<Scratch> {
        Scratch::under(&std::env::temp_dir().join("racecheck"))
    }

    /// A new scratch directory under `root`, after removing the leftovers of
    /// processes that died.
    pub fn under(root: &Path) -> io::Result<Scratch> {
        fs::create_dir_all(root)?;
        let guard = lock_file(&root.join(".lock"))?;
        guard.lock()?;
        remove_leftovers(root);
        // A unique name: the lock file is created new, and locked before
        // the root's lock is let go.
        let lock_file = tempfile::Builder::new().prefix("p-").suffix(".lock").tempfile_in(root)?;
        let (lock, lock_path) = lock_file.keep().map_err(|e| e.error)?;
        lock.lock()?;
        let dir = lock_path.with_extension("");
        fs::create_dir(&dir)?;
        drop(guard);
        Ok(Scratch { dir, lock_path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A fresh directory for one run, removed when the returned value drops.
    pub fn run_dir(&self) -> io::Result<tempfile::TempDir> {
        tempfile::Builder::new().prefix("run-").tempdir_in(&self.dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The directory first: a lock file left alone marks a leftover.
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

fn lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

/// Removes every `p-*` directory whose lock file no live process holds
/// (and that lock file). A directory with no lock file at all is left: its
/// owner may be making it.
fn remove_leftovers(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_lock = path.extension().is_some_and(|e| e == "lock")
            && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("p-"));
        if !is_lock {
            continue;
        }
        let Ok(file) = lock_file(&path) else { continue };
        // Held (its owner lives) or not lockable: left alone.
        if file.try_lock().is_ok() {
            let _ = fs::remove_dir_all(path.with_extension(""));
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_scratch_directory_goes_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let scratch = Scratch::under(root.path()).unwrap();
        let run = scratch.run_dir().unwrap();
        fs::write(run.path().join("plan.json"), "{}").unwrap();
        assert_eq!(entries(root.path()).len(), 2, "the directory and its lock file");
        drop(run);
        drop(scratch);
        assert!(entries(root.path()).is_empty(), "{:?}", entries(root.path()));
    }

    #[test]
    fn a_live_directory_is_kept_and_a_dead_ones_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let live = Scratch::under(root.path()).unwrap();
        // A leftover: a directory and a lock file nobody holds.
        fs::create_dir(root.path().join("p-dead")).unwrap();
        fs::write(root.path().join("p-dead/jobs.json"), "{}").unwrap();
        fs::write(root.path().join("p-dead.lock"), "").unwrap();
        // Not ours: a lock file of another name is left alone, with its directory.
        fs::create_dir(root.path().join("other")).unwrap();
        fs::write(root.path().join("other.lock"), "").unwrap();
        let next = Scratch::under(root.path()).unwrap();
        let names = entries(root.path());
        assert!(!names.iter().any(|n| n.starts_with("p-dead")), "{names:?}");
        assert!(live.path().exists() && next.path().exists());
        assert!(root.path().join("other").exists() && root.path().join("other.lock").exists(), "{names:?}");
        assert_eq!(names.len(), 6, "two live directories with their lock files, and another's: {names:?}");
    }
}
