//! Churn: spawning and stopping 15,000 actors in waves leaks no thread, file
//! descriptor or memory. Its own test binary, so no other test shares the process counts.

mod common;

use actor_core::ActorSystem;
use common::*;

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
fn churn_of_fifteen_thousand_actors_leaks_nothing() {
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

    let mut rss = Vec::new();
    for wave in 0..30 {
        let actors: Vec<_> = (0..500)
            .map(|i| {
                system
                    .spawn(format!("w{wave}-{i}"), Probe::default)
                    .unwrap()
            })
            .collect();
        for a in &actors {
            a.blocking_tell(Push(wave)).unwrap();
        }
        assert_eq!(actors[499].blocking_ask(Seen).unwrap(), vec![wave]);
        actors.iter().for_each(|a| a.stop());
        eventually("the wave to leave the registry", || {
            system.actor_names().is_empty()
        });
        rss.push(resident_kib());
    }
    eventually("every actor thread to exit", || {
        process_counts().0 <= threads_before
    });
    let (threads_after, fds_after) = process_counts();
    assert!(
        threads_after <= threads_before,
        "threads {threads_before} -> {threads_after}"
    );
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
    // The allocator keeps freed memory around (and grows its arenas over the first waves),
    // so RSS wanders from wave to wave; a leak would make it climb. Compare waves 5-9 with
    // the last five, 10,000 actors later.
    let mean = |w: &[u64]| w.iter().sum::<u64>() / w.len() as u64;
    let (first, last) = (mean(&rss[5..10]), mean(&rss[25..]));
    assert!(
        last <= first + 6 * 1024,
        "RSS climbs from {first} KiB to {last} KiB over 10,000 more actors: {rss:?}"
    );
    system.blocking_shutdown();
}
