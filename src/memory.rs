//! The process's allocator: mimalloc (the searches allocate and free small
//! blocks by the million; mimalloc does it in about half the time of the
//! system allocator), counting the bytes in use on a thread while `reset`
//! has turned counting on there (the growth tables' peak memory of one
//! search, which runs on one thread; off, it costs one thread-local load
//! per allocation).
//!
//! The counters are the thread's own: a process-wide counter would count
//! every other thread's blocks into a search's peak, and its one cache line,
//! written on every allocation of every thread, made the whole test suite
//! (one binary, a bench test among the others) three times slower.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

/// Counting on this thread: bytes allocated minus bytes freed since the
/// last reset (frees of older blocks may take it below zero: only
/// differences count), the most of it, and what it was at the reset.
struct Count {
    on: Cell<bool>,
    in_use: Cell<isize>,
    peak: Cell<isize>,
    base: Cell<isize>,
}

thread_local! {
    // Const-initialized and without a destructor: reading it allocates
    // nothing, as an allocator must.
    static COUNT: Count = const {
        Count { on: Cell::new(false), in_use: Cell::new(0), peak: Cell::new(0), base: Cell::new(0) }
    };
}

/// Adds `bytes` (negative: freed) to this thread's count, if counting.
fn count(bytes: isize) {
    let _ = COUNT.try_with(|c| {
        if c.on.get() {
            let now = c.in_use.get() + bytes;
            c.in_use.set(now);
            c.peak.set(c.peak.get().max(now));
        }
    });
}

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

/// Counts on this thread from now on; a new peak starts at what is in use now.
pub fn reset() {
    COUNT.with(|c| {
        c.on.set(true);
        c.base.set(c.in_use.get());
        c.peak.set(c.in_use.get());
    });
}

/// The most bytes in use at once on this thread since its last reset, above
/// what was in use then.
pub fn peak() -> usize {
    COUNT.with(|c| (c.peak.get() - c.base.get()).max(0) as usize)
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[cfg(test)]
mod tests {
    use super::{peak, reset};

    #[test]
    fn a_threads_peak_counts_its_own_blocks_only() {
        reset();
        let other = std::thread::spawn(|| {
            reset();
            let block = vec![1u8; 8 << 20];
            (peak(), block.len())
        });
        let mine = vec![1u8; 1 << 20];
        let (others_peak, others_len) = other.join().unwrap();
        let my_peak = peak();
        assert!(others_peak >= others_len, "the other thread counts its own 8 MiB: {others_peak}");
        assert!((1 << 20..4 << 20).contains(&my_peak), "this thread's 1 MiB, not the other's 8: {my_peak}");
        drop(mine);
    }
}
