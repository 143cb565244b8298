//! Keeps loom's and shuttle's unwinding quiet while a search runs.
//!
//! Shuttle installs a process-wide panic hook on its first run and prints
//! through it for every later panic, even one from loom. So shuttle is run
//! once first, and then a hook is installed that stays silent on threads
//! inside a search and defers to the default hook everywhere else.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static SEARCHING: Cell<usize> = const { Cell::new(0) };
}

static INSTALL: Once = Once::new();

fn install() {
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        // Let shuttle install (and keep) its hook now, so ours goes on top.
        let mut config = shuttle::Config::new();
        config.failure_persistence = shuttle::FailurePersistence::None;
        shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new_from_seed(0, 1), config).run(|| {});
        let _shuttle_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if SEARCHING.with(|s| s.get()) == 0 {
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
