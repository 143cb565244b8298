//! The process's allocator: mimalloc (the searches allocate and free small
//! blocks by the million; mimalloc does it in about half the time of the
//! system allocator), counting the bytes in use while `reset` has turned
//! counting on (the growth tables' peak memory of one search; off, it
//! costs one relaxed load per allocation).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

static ON: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while on (frees of older blocks
/// may take it below zero: only differences count).
static IN_USE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static BASE: AtomicIsize = AtomicIsize::new(0);

pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if ON.load(Relaxed) && !p.is_null() {
            let now = IN_USE.fetch_add(layout.size() as isize, Relaxed) + layout.size() as isize;
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if ON.load(Relaxed) && !p.is_null() {
            let grew = new_size as isize - layout.size() as isize;
            let now = IN_USE.fetch_add(grew, Relaxed) + grew;
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        if ON.load(Relaxed) {
            IN_USE.fetch_sub(layout.size() as isize, Relaxed);
        }
    }
}

/// Counts from now on; a new peak starts at what is in use now.
pub fn reset() {
    ON.store(true, Relaxed);
    let now = IN_USE.load(Relaxed);
    BASE.store(now, Relaxed);
    PEAK.store(now, Relaxed);
}

/// The most bytes in use at once since the last reset, above what was in use then.
pub fn peak() -> usize {
    (PEAK.load(Relaxed) - BASE.load(Relaxed)).max(0) as usize
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;
