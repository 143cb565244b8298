//! Keeps loom's and shuttle's unwinding quiet while a search runs.
//!
//! Shuttle installs a process-wide panic hook on its first run and prints
//! through it for every later panic, even one from loom. So shuttle is run
//! once first, and then a hook is installed that stays silent on threads
//! inside a search and defers to the default hook everywhere else.
//!
//! Timely's communication threads panic when a process of a cluster search
//! is lost; their messages are kept for the search's verdict instead.

use crate::history::OutOfTime;
use std::cell::Cell;
use std::sync::{Mutex, Once};

thread_local! {
    static SEARCHING: Cell<usize> = const { Cell::new(0) };
}

static INSTALL: Once = Once::new();

/// What timely's communication threads panicked with, not yet reported.
static CONNECTIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The panics of timely's communication threads since the last call.
pub fn connection_errors() -> Vec<String> {
    std::mem::take(&mut *CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner()))
}

pub(crate) fn install() {
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        // Let shuttle install (and keep) its hook now, so ours goes on top.
        let mut config = shuttle::Config::new();
        config.failure_persistence = shuttle::FailurePersistence::None;
        shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new_from_seed(0, 1), config).run(|| {});
        let _shuttle_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_some_and(|n| n.starts_with("timely:")) {
                let payload = info.payload();
                let message = payload.downcast_ref::<&str>().map(|s| s.to_string());
                let message = message.or_else(|| payload.downcast_ref::<String>().cloned());
                CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner()).push(message.unwrap_or_default());
            } else if SEARCHING.with(|s| s.get()) == 0 && !info.payload().is::<OutOfTime>() {
                // (An execution stopped at its deadline is a cut, reported
                // as one, on whatever thread it stopped: the stress
                // explorer's are real threads.)
                default(info);
            }
        }));
    });
}

/// Runs `f` with panics on this thread kept quiet.
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    install();
    SEARCHING.with(|s| s.set(s.get() + 1));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SEARCHING.with(|s| s.set(s.get() - 1));
        }
    }
    let _reset = Reset;
    f()
}
