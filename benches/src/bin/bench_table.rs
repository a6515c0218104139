//! The short benchmark run: every workload on every framework, one table with ratios to the
//! raw channel baseline, and the cost of tracing. Well under two minutes.
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-table
//! ```
//!
//! The set-ups of one workload run in turns (see `actor_benches::turns`), so the ratios and
//! differences compare runs that saw the same machine; each figure is a median of 5.

use std::time::{Duration, Instant};

use actor_benches::chart::{Bar, Panel};
use actor_benches::ours::{rss_per_idle_actor, spawn_and_shutdown};
use actor_benches::peers::{actix::Actix, kameo::Kameo, ractor::Ractor};
use actor_benches::turns::{PerOp, Turns};
use actor_benches::{
    Ours, OursBatching, OursPerActor, OursProcessOnly, OursUnbounded, Raw, RawUnbounded,
    RawUnboundedWithContext, RawWithContext,
};

const ROUNDS: usize = 5;

fn main() {
    let started = Instant::now();

    let mut panels = Vec::new();
    println!("| workload | framework | ns/op | msgs/s | ratio to raw | CPU ns/op |");
    println!("|---|---|---:|---:|---:|---:|");
    for (workload, label) in [
        ("ask", "ask_rtt"),
        ("tell", "tell_throughput"),
        ("fanout", "fanout"),
    ] {
        let mut turns = Turns::new(workload).add::<Raw>().add::<Ours>();
        if workload != "ask" {
            turns = turns
                .add::<RawUnbounded>()
                .add::<RawUnboundedWithContext>()
                .add::<RawWithContext>()
                .add::<OursUnbounded>();
        }
        let turns = turns.add::<Kameo>().add::<Ractor>().add::<Actix>();
        let medians = turns.run(ROUNDS, |_, _, _| {});
        let raw = medians[0].1;
        for (framework, p) in &medians {
            println!(
                "| {label} | {framework} | {:.0} | {:.2} M | {:.2}x | {:.0} |",
                p.wall,
                1e3 / p.wall,
                p.wall / raw.wall,
                p.cpu
            );
        }
        panels.push(Panel {
            title: label.to_owned(),
            bars: medians
                .iter()
                .map(|(name, p)| Bar {
                    name: (*name).to_owned(),
                    ns: p.wall,
                })
                .collect(),
        });
    }

    println!();
    println!("| tracing cost per message | tell, wall (ns) | tell, CPU (ns) | tell, busiest thread (ns) | ask, wall (ns) | ask, CPU (ns) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let tracing = |workload: &'static str, ops: u64| -> Vec<(&'static str, PerOp)> {
        let medians = Turns::new(workload)
            .ops(ops)
            .add::<Ours>()
            .add::<OursBatching>()
            .add::<OursPerActor>()
            .add::<actor_benches::OursOtlpEncode>()
            .add::<OursProcessOnly>()
            .add::<actor_benches::OursUnsampled>()
            .add::<actor_benches::OursSdkSpans>()
            .run(ROUNDS, |_, _, _| {});
        let base = medians[0].1;
        medians[1..]
            .iter()
            .map(|&(name, p)| (name, p.minus(base)))
            .collect()
    };
    let tell = tracing("tell", 300_000);
    let ask = tracing("ask", 20_000);
    write_chart(panels);
    for ((framework, t), (_, a)) in tell.iter().zip(&ask) {
        println!(
            "| {framework} | {:+.0} | {:+.0} | {:+.0} | {:+.0} | {:+.0} |",
            t.wall, t.cpu, t.busiest, a.wall, a.cpu
        );
    }
    let metrics = |workload: &'static str, ops: u64| -> PerOp {
        let medians = Turns::new(workload)
            .ops(ops)
            .add::<Ours>()
            .add::<actor_benches::OursMetrics>()
            .run(ROUNDS, |_, _, _| {});
        medians[1].1.minus(medians[0].1)
    };
    let (t, a) = (metrics("tell", 300_000), metrics("ask", 20_000));
    println!(
        "| actor-core + metrics only (per-actor meter providers, durations 1 in 16; target +50 ns a tell) | {:+.0} | {:+.0} | {:+.0} | {:+.0} | {:+.0} |",
        t.wall, t.cpu, t.busiest, a.wall, a.cpu
    );
    for (in_span, caller) in [(true, "inside a span"), (false, "outside any span")] {
        let ns = actor_benches::no_sdk_propagation_ns(2_000_000, in_span);
        println!(
            "| actor-core, no SDK, caller {caller} (capture + restore, one thread) | | {ns:+.1} | | | {ns:+.1} |"
        );
    }

    println!();
    println!("| the floor: `opentelemetry_sdk` alone, one thread, its batch processor, no-op exporter | CPU per span (ns) |");
    println!("|---|---:|");
    for (attributes, link, shape) in [
        (0, false, "a bare span (under a parent)"),
        (
            8,
            true,
            "a span shaped like our `process` span (parent, link, 8 attributes)",
        ),
    ] {
        let ns = actor_benches::sdk_span_floor_ns(300_000, attributes, link);
        println!("| {shape} | {ns:.0} |");
    }

    let mut spawn: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            spawn_and_shutdown(1_000);
            t.elapsed()
        })
        .collect();
    spawn.sort();
    println!();
    println!(
        "spawn + shutdown of 1,000 actors: {:.1} ms (median of 3)",
        spawn[1].as_secs_f64() * 1e3
    );
    match rss_per_idle_actor(1_000) {
        Some(bytes) => println!(
            "resident memory per idle actor: {:.1} KiB",
            bytes as f64 / 1024.0
        ),
        None => println!("resident memory per idle actor: /proc/self/statm not available"),
    }
    println!(
        "allocator: {}",
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "the system's (glibc)"
        }
    );
    println!("(whole run: {:.0} s)", started.elapsed().as_secs_f64());
}

/// Writes the chart of this run's workload tables (`BENCH_CHART`, default
/// `benches/bench-table.svg`).
fn write_chart(panels: Vec<Panel>) {
    let path = std::env::var("BENCH_CHART")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/bench-table.svg").to_owned());
    let subtitle = format!(
        "bench-table: medians of {ROUNDS} rounds, set-ups in turns; {} vCPU; allocator: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "glibc"
        }
    );
    let svg = actor_benches::chart::svg("ns per message, every set-up", &subtitle, &panels);
    match std::fs::write(&path, svg) {
        Ok(()) => println!("(chart: {path})"),
        Err(e) => println!("(chart not written to {path}: {e})"),
    }
}
