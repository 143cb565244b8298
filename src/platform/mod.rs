//! The pluggable sync primitives every model is written against.
//!
//! One trait, [`Platform`], with generic associated types for a mutex (with
//! guards), a condition variable, an atomic flag and threads. It is
//! implemented for real threads ([`Std`]), for loom's exhaustive model
//! ([`Loom`]) and for shuttle's randomized scheduler ([`Shuttle`]). Because the
//! choice is a type parameter rather than `--cfg loom`, one test binary runs
//! all three. Loom and shuttle types only work inside their model closures:
//! every value built from these primitives must be created inside the closure.

use std::any::Any;
use std::ops::DerefMut;

/// A panic payload carried out of a joined thread.
pub type Panic = Box<dyn Any + Send + 'static>;

/// Sync primitives of one execution backend.
///
/// Atomics expose read-modify-write operations only: loom treats `SeqCst` as
/// `AcqRel`, so a plain load may legally read a stale value there and report
/// a failure real hardware with `SeqCst` would not show. A read through
/// `fetch_or(false)` always sees the latest value in modification order.
pub trait Platform: Sized + Send + Sync + 'static {
    /// Short name used in reports (`std`, `loom`, `shuttle`).
    const NAME: &'static str;

    type Mutex<T: Send + 'static>: Send + Sync;
    type Guard<'a, T: Send + 'static>: DerefMut<Target = T>;
    type Condvar: Send + Sync;
    type AtomicBool: Send + Sync;
    type JoinHandle: Send;

    fn mutex<T: Send + 'static>(value: T) -> Self::Mutex<T>;
    /// Locks, ignoring poisoning: a panicking model thread is reported by the
    /// explorer, the other threads must still be able to finish.
    fn lock<T: Send + 'static>(mutex: &Self::Mutex<T>) -> Self::Guard<'_, T>;

    fn condvar() -> Self::Condvar;
    fn wait<'a, T: Send + 'static>(cv: &Self::Condvar, guard: Self::Guard<'a, T>) -> Self::Guard<'a, T>;
    fn notify_one(cv: &Self::Condvar);
    fn notify_all(cv: &Self::Condvar);

    fn atomic_bool(value: bool) -> Self::AtomicBool;
    /// Atomically replaces the value and returns the previous one.
    fn swap(atomic: &Self::AtomicBool, value: bool) -> bool;
    /// Reads the latest value (through a read-modify-write, see the trait docs).
    fn load(atomic: &Self::AtomicBool) -> bool;

    /// Starts a thread named `name` (the task it runs, for schedulers that steer by name).
    fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle;
    /// Renames the running thread's task (a spawned task continuing on its
    /// caller's thread). Only shuttle keeps task names; elsewhere a no-op.
    fn name_current_task(_name: &str) {}
    fn join(handle: Self::JoinHandle) -> Result<(), Panic>;
    fn yield_now();
}

/// Stack size of a modeled thread. Shuttle reads it in bytes; loom hands it to
/// the `generator` crate, which reads words, so a loom thread gets 8× this
/// (1 MiB in release, 8 MiB in debug; loom's own default of 32 KiB overflows
/// in serde). Measured: the size makes no difference to executions per second.
pub const MODEL_STACK: usize = if cfg!(debug_assertions) { 1 << 20 } else { 1 << 17 };

/// Implements [`Platform`] for a backend whose `sync` and `thread` modules
/// mirror `std`'s API (std itself, loom and shuttle all do).
macro_rules! std_like_platform {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl Platform for $name {
            const NAME: &'static str = $label;
            type Mutex<T: Send + 'static> = $crate::platform::paths::$name::Mutex<T>;
            type Guard<'a, T: Send + 'static> = $crate::platform::paths::$name::MutexGuard<'a, T>;
            type Condvar = $crate::platform::paths::$name::Condvar;
            type AtomicBool = $crate::platform::paths::$name::AtomicBool;
            type JoinHandle = $crate::platform::paths::$name::JoinHandle<()>;

            fn mutex<T: Send + 'static>(value: T) -> Self::Mutex<T> {
                Self::Mutex::new(value)
            }
            fn lock<T: Send + 'static>(mutex: &Self::Mutex<T>) -> Self::Guard<'_, T> {
                mutex.lock().unwrap_or_else(|e| e.into_inner())
            }
            fn condvar() -> Self::Condvar {
                Self::Condvar::new()
            }
            fn wait<'a, T: Send + 'static>(cv: &Self::Condvar, guard: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
                cv.wait(guard).unwrap_or_else(|e| e.into_inner())
            }
            fn notify_one(cv: &Self::Condvar) {
                cv.notify_one()
            }
            fn notify_all(cv: &Self::Condvar) {
                cv.notify_all()
            }
            fn atomic_bool(value: bool) -> Self::AtomicBool {
                Self::AtomicBool::new(value)
            }
            fn swap(atomic: &Self::AtomicBool, value: bool) -> bool {
                atomic.swap(value, std::sync::atomic::Ordering::SeqCst)
            }
            fn load(atomic: &Self::AtomicBool) -> bool {
                atomic.fetch_or(false, std::sync::atomic::Ordering::SeqCst)
            }
            fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Self::JoinHandle {
                $crate::platform::paths::$name::spawn(name, f)
            }
            fn name_current_task(name: &str) {
                $crate::platform::paths::$name::name_current_task(name)
            }
            fn join(handle: Self::JoinHandle) -> Result<(), Panic> {
                handle.join()
            }
            fn yield_now() {
                $crate::platform::paths::$name::yield_now()
            }
        }
    };
}

/// Where each backend keeps its std-like types.
mod paths {
    #[allow(non_snake_case)]
    pub mod Std {
        pub use std::sync::atomic::AtomicBool;
        pub use std::sync::{Condvar, Mutex, MutexGuard};
        pub use std::thread::{JoinHandle, yield_now};

        pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
            std::thread::Builder::new().name(name.to_string()).spawn(f).expect("the OS starts a thread")
        }
        pub fn name_current_task(_name: &str) {}
    }
    #[allow(non_snake_case)]
    pub mod Loom {
        pub use loom::sync::atomic::AtomicBool;
        pub use loom::sync::{Condvar, Mutex, MutexGuard};
        pub use loom::thread::{JoinHandle, yield_now};

        /// Loom threads are coroutines with 32 KiB stacks by default, too
        /// small for serde in a debug build.
        pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
            loom::thread::Builder::new()
                .name(name.to_string())
                .stack_size(super::super::MODEL_STACK)
                .spawn(f)
                .expect("loom spawns model threads")
        }
        pub fn name_current_task(_name: &str) {}
    }
    #[allow(non_snake_case)]
    pub mod Shuttle {
        pub use shuttle::sync::atomic::AtomicBool;
        pub use shuttle::sync::{Condvar, Mutex, MutexGuard};
        pub use shuttle::thread::{JoinHandle, yield_now};

        pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
            shuttle::thread::Builder::new().name(name.to_string()).spawn(f).expect("shuttle spawns model threads")
        }
        pub fn name_current_task(name: &str) {
            shuttle::current::set_name_for_task(shuttle::current::me(), name);
            super::super::shuttle_names::set(usize::from(shuttle::current::me()), name);
        }
    }
}

std_like_platform!(
    /// Real operating-system threads: the `stress` explorer, on the real-directory disk.
    Std, "std"
);
std_like_platform!(
    /// Loom's modeled threads: exhaustive exploration, inside `loom::model` only.
    Loom, "loom"
);
std_like_platform!(
    /// Shuttle's modeled threads: seeded random and PCT schedules, inside a shuttle runner only.
    Shuttle, "shuttle"
);

/// Shuttle task names as our runtime last set them. `Task::name()` keeps the
/// name given at spawn; a task that continues on its caller's thread renames
/// it here. Shuttle runs every task of an execution on one OS thread, so a
/// thread-local map is per execution.
pub mod shuttle_names {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static NAMES: RefCell<HashMap<usize, String>> = RefCell::new(HashMap::new());
    }

    pub fn set(task: usize, name: &str) {
        NAMES.with(|n| n.borrow_mut().insert(task, name.to_string()));
    }

    pub fn get(task: usize) -> Option<String> {
        NAMES.with(|n| n.borrow().get(&task).cloned())
    }

    /// Forgets every name (at the start of an execution: task ids are reused).
    pub fn clear() {
        NAMES.with(|n| n.borrow_mut().clear());
    }
}
