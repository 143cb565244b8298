//! A real directory, written so that a crash leaves every file old or new.

use super::{Contents, Disk};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Files under a root directory. `write` is crash-safe: the contents go to a
/// fresh temp file in the same directory, are fsynced, renamed over the
/// target, and the directory is fsynced so the rename itself is durable.
pub struct DirectoryDisk {
    root: PathBuf,
}

impl DirectoryDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectoryDisk { root: root.into() }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Disk for DirectoryDisk {
    fn read(&self, path: &str) -> io::Result<Option<Contents>> {
        match fs::read_to_string(self.path(path)) {
            Ok(s) => Ok(Some(Contents::text(s))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, path: &str, contents: Contents) -> io::Result<()> {
        let target = self.path(path);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)?;
        // A unique temp name: two writers never share a temp file.
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&dir)?;
        tmp.write_all(contents.as_text().as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target).map_err(|e| e.error)?;
        sync_dir(&dir)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let target = self.path(to);
        fs::rename(self.path(from), &target)?;
        sync_dir(target.parent().unwrap_or(&self.root))
    }

    fn remove(&self, path: &str) -> io::Result<bool> {
        let target = self.path(path);
        match fs::remove_file(&target) {
            Ok(()) => {
                sync_dir(target.parent().unwrap_or(&self.root))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn snapshot(&self) -> io::Result<Vec<(String, Contents)>> {
        let mut out = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if path.is_dir() {
                    dirs.push(path);
                } else if !name.starts_with(".tmp-") {
                    let rel = path.strip_prefix(&self.root).unwrap_or(&path).to_string_lossy().into_owned();
                    out.push((rel, Contents::text(fs::read_to_string(&path)?)));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
