//! Churn: spawning and stopping 20,000 actors in waves leaks no thread, file
//! descriptor or memory. Its own test binary, so no other test shares the process counts,
//! and it counts live heap bytes with its own global allocator: RSS wanders with the
//! allocator's arenas (by 15 MiB between waves on a 2-core CI machine), live bytes do not.

mod common;

use actor_core::ActorSystem;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting the bytes it has handed out and not yet got back.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes allocated and not yet freed, in KiB.
fn live_kib() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed) / 1024
}

/// Counts of this process's threads and open file descriptors.
fn process_counts() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    (threads, fds)
}

#[test]
fn churn_of_twenty_thousand_actors_leaks_nothing() {
    let system = ActorSystem::builder().build();
    // One warm-up wave so lazily made process-wide state is not counted as a leak.
    let warm: Vec<_> = (0..500)
        .map(|i| system.spawn(format!("warm-{i}"), Probe::default).unwrap())
        .collect();
    warm.iter().for_each(|a| a.blocking_tell(Push(1)).unwrap());
    warm.iter().for_each(|a| a.stop());
    eventually("the warm-up wave to leave", || {
        system.actor_names().is_empty()
    });
    let (threads_before, fds_before) = process_counts();
    eventually("warm-up threads to exit", || {
        process_counts().0 <= threads_before
    });

    // 40 waves of 500: the system keeps the last `ShutdownReport::HISTORY` (10,000) actor
    // reports, so that history is full from wave 19 on and live memory must stay flat after.
    let mut live = Vec::new();
    for wave in 0..40 {
        let actors: Vec<_> = (0..500)
            .map(|i| {
                system
                    .spawn(format!("w{wave:02}-{i:03}"), Probe::default)
                    .unwrap()
            })
            .collect();
        for a in &actors {
            a.blocking_tell(Push(wave)).unwrap();
        }
        assert_eq!(actors[499].blocking_ask(Seen).unwrap(), vec![wave]);
        actors.iter().for_each(|a| a.stop());
        drop(actors);
        eventually("the wave to leave the registry", || {
            system.actor_names().is_empty()
        });
        eventually("the wave's threads to exit", || {
            process_counts().0 <= threads_before
        });
        live.push(live_kib());
    }
    let (threads_after, fds_after) = process_counts();
    assert!(
        threads_after <= threads_before,
        "threads {threads_before} -> {threads_after}"
    );
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
    // Compare waves 21-25 with the last five, 7,000 actors later: 64 KiB is 9 bytes an actor.
    let mean = |w: &[isize]| w.iter().sum::<isize>() / w.len() as isize;
    let (first, last) = (mean(&live[21..26]), mean(&live[35..]));
    assert!(
        last <= first + 64,
        "live heap climbs from {first} KiB to {last} KiB over 7,000 more actors: {live:?}"
    );
    system.blocking_shutdown();
}
