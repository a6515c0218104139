//! Soak (not run by default): minutes of steady mixed traffic — tells, asks, a
//! pool, panics and restarts, full tracing — with a stable resident set.
//!
//! ```text
//! SOAK_SECS=600 cargo test --release --test soak -- --ignored --nocapture
//! ```

mod common;

use std::time::{Duration, Instant};

use actor_core::{ActorSystem, AskError, Supervision};
use actor_otel::{Exporter, Telemetry};
use common::*;

#[test]
#[ignore = "minutes long: run explicitly (see the module docs)"]
fn steady_mixed_traffic_keeps_memory_flat() {
    // Thousands of deliberate panics: keep the log readable.
    std::panic::set_hook(Box::new(|_| {}));
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let telemetry = Telemetry::builder()
        .exporter(Exporter::noop())
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .supervision(Supervision::restart(u32::MAX, Duration::from_secs(1)))
        .build();
    let single = system.spawn("single", Probe::default).unwrap();
    let pool = system.pool("pool", 3).spawn(Probe::default).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let mut warm_rss = None;
    let mut peak_after_warm = 0;
    let mut round = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        runtime.block_on(async {
            for i in 0..1_000 {
                pool.tell(Push(i)).await.unwrap();
                if i % 100 == 0 {
                    assert!(matches!(single.ask(Boom).await, Err(AskError::Panicked(_))));
                }
            }
            single.tell(Push(round)).await.unwrap();
            // Keep the state small: the probe's list is reset by the restarts above.
            assert!(single.ask(Seen).await.unwrap().len() <= 1);
            for w in pool.workers() {
                w.ask(Seen).await.unwrap();
            }
        });
        // Pool workers keep what they saw; restart them through a panic every few rounds.
        if round.is_multiple_of(10) {
            for w in pool.workers() {
                let _ = w.blocking_ask(Boom);
            }
        }
        round += 1;
        let rss = resident_kib();
        match warm_rss {
            None if started.elapsed() > Duration::from_secs(secs / 10) => warm_rss = Some(rss),
            Some(_) => peak_after_warm = peak_after_warm.max(rss),
            None => {}
        }
        if round.is_multiple_of(500) {
            eprintln!(
                "{:>5.0}s round {round}: rss {rss} KiB",
                started.elapsed().as_secs_f64()
            );
        }
    }
    system.blocking_shutdown();
    let stats = telemetry.stats();
    eprintln!("{round} rounds; {stats:?}");
    assert_eq!(stats.spans_lost(), 0);
    let warm = warm_rss.unwrap();
    assert!(
        peak_after_warm <= warm + warm / 4 + 8 * 1024,
        "RSS grew from {warm} KiB to {peak_after_warm} KiB"
    );
}
