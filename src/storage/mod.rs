//! Persistent state: files on a [`Disk`], and [`Files`], which makes every
//! access an await of the modeled program and an event of the history.
//!
//! Two disks: [`MemoryDisk`] lives inside the model (each access a scheduling
//! point under threads semantics) and [`DirectoryDisk`] is a real directory
//! written crash-safely (temp file, fsync, rename, fsync of the directory),
//! in a [`Scratch`] directory that the next process cleans if this one is killed.

mod contents;
mod directory;
mod list;
mod memory;
mod scratch;
mod table;
mod text;

pub use contents::{Contents, FileShape};
pub use directory::DirectoryDisk;
pub use list::List;
pub use memory::MemoryDisk;
pub use scratch::Scratch;
pub use table::Table;
pub use text::Text;

use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::Cx;
use std::io;
use std::sync::Arc;

/// A file system as the origins use it: whole-file reads, atomic replacement.
pub trait Disk: Send + Sync {
    /// The file's contents, or `None` if it does not exist.
    fn read(&self, path: &str) -> io::Result<Option<Contents>>;
    /// Whether the file exists (a read that learns nothing more).
    fn exists(&self, path: &str) -> io::Result<bool> {
        Ok(self.read(path)?.is_some())
    }
    /// Replaces the file atomically (write a temp file, then rename).
    fn write(&self, path: &str, contents: Contents) -> io::Result<()>;
    /// Renames `from` over `to` atomically (for models that split a write
    /// into its temp-file write and its rename).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Deletes the file; `false` if it did not exist.
    fn remove(&self, path: &str) -> io::Result<bool>;
    /// Every file, sorted by path (for final-state reports).
    fn snapshot(&self) -> io::Result<Vec<(String, Contents)>>;
}

/// A [`Disk`] seen from a task: awaits, performs, records.
pub struct Files {
    disk: Arc<dyn Disk>,
}

impl Files {
    pub fn new(disk: Arc<dyn Disk>) -> Self {
        Files { disk }
    }

    pub fn disk(&self) -> &Arc<dyn Disk> {
        &self.disk
    }

    /// `await fs.readFile(path)`: the read happens when the task resumes.
    pub fn read<P: Platform>(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        path: &str,
    ) -> io::Result<(usize, Option<Contents>)> {
        cx.await_point();
        let value = self.disk.read(path)?;
        let step = cx.record(func, Effect::Read { res: path.into(), value: value.clone() });
        Ok((step, value))
    }

    /// `await file.exists()`: whether the file is there when the task
    /// resumes (its contents are not read).
    pub fn exists<P: Platform>(&self, cx: &mut Cx<'_, P>, func: &'static str, path: &str) -> io::Result<bool> {
        cx.await_point();
        let exists = self.disk.exists(path)?;
        let data = serde_json::json!({ "path": path, "exists": exists });
        cx.record(func, Effect::Note { kind: "exists", data });
        Ok(exists)
    }

    /// `await atomicWrite(path, contents)`: the temp file is written during
    /// the await and renamed over `path` when the task resumes. `contents`:
    /// text, or a value of a file shape (`Contents::of`).
    pub fn write<P: Platform>(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        path: &str,
        contents: impl Into<Contents>,
        meta: serde_json::Value,
    ) -> io::Result<usize> {
        cx.await_point();
        let value = contents.into();
        self.disk.write(path, value.clone())?;
        Ok(cx.record(func, Effect::Wrote { res: path.into(), value, meta }))
    }

    /// MC's `atomicWrite(path, data)` as it is, for writers of `path` that
    /// share no lock: `await Bun.write(path + '.tmp', data)` lands the temp
    /// file, `await import('fs')` lets other tasks run, then
    /// `renameSync(tmp, path)`. The temp name is the same for every writer,
    /// so of two overlapping writers the first to rename publishes whatever
    /// temp file is there (possibly the other's), and the second's rename
    /// finds none and throws ENOENT. Writers that all hold one lock cannot
    /// overlap, and nobody else touches the temp file, so for them
    /// [`Files::write`]'s one step is the same and keeps the search smaller.
    pub fn write_through_shared_tmp<P: Platform>(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        path: &str,
        contents: impl Into<Contents>,
        meta: serde_json::Value,
    ) -> io::Result<usize> {
        let tmp = format!("{path}.tmp");
        self.write(cx, func, &tmp, contents, meta.clone())?;
        cx.await_point(); // await import('fs')
        self.rename_sync(cx, func, &tmp, path, meta)
    }

    /// `await fsp.rename(from, to)`: the rename lands when the task resumes.
    pub fn rename<P: Platform>(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        from: &str,
        to: &str,
        meta: serde_json::Value,
    ) -> io::Result<usize> {
        cx.await_point();
        self.rename_sync(cx, func, from, to, meta)
    }

    /// `fs.renameSync(from, to)`: ENOENT when `from` is gone.
    fn rename_sync<P: Platform>(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        from: &str,
        to: &str,
        meta: serde_json::Value,
    ) -> io::Result<usize> {
        let value = self.disk.read(from)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("ENOENT: no such file or directory, rename '{from}'"))
        })?;
        self.disk.rename(from, to)?;
        Ok(cx.record(func, Effect::Wrote { res: to.into(), value, meta }))
    }

    /// `fs.unlinkSync(path)`: synchronous, no await.
    pub fn remove_sync<P: Platform>(&self, cx: &mut Cx<'_, P>, func: &'static str, path: &str) -> io::Result<bool> {
        let existed = self.disk.remove(path)?;
        if existed {
            cx.record(func, Effect::Removed { res: path.into() });
        }
        Ok(existed)
    }
}
