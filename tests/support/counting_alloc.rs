//! A global allocator that counts the allocations of each thread, for the tests that hold
//! what the hot path allocates (`tests/allocations.rs`, `actor-nats/tests/allocations.rs`).
//! Each declares it: `#[global_allocator] static ALLOCATOR: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting each thread's allocations.
pub struct Counting;

thread_local! {
    static HERE: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the count is a const thread-local cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = HERE.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: allocated by `System` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The allocations counted so far on this thread.
pub fn here() -> u64 {
    HERE.with(|n| n.get())
}
