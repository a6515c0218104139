//! The short benchmark run: every workload on every framework, medians of a few runs,
//! one table with ratios to the raw channel baseline. Well under two minutes.
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-table
//! ```

use std::time::{Duration, Instant};

use actor_benches::ours::{rss_per_idle_actor, spawn_and_shutdown};
use actor_benches::peers::{actix::Actix, kameo::Kameo, ractor::Ractor};
use actor_benches::{
    Ours, OursBatching, OursPerActor, OursProcessOnly, OursUnbounded, Raw, Workload,
};

const RUNS: usize = 5;
const ASKS: u64 = 20_000;
const TELLS: u64 = 1_000_000;

/// Median nanoseconds per operation of `RUNS` runs of `op` (each doing `n` operations).
fn median_ns<W: Workload>(w: &mut W, n: u64, op: fn(&mut W, u64)) -> f64 {
    op(w, n / 10); // warm-up
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            op(w, n);
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

struct Row {
    workload: &'static str,
    framework: &'static str,
    ns: f64,
}

fn measure<W: Workload>(rows: &mut Vec<Row>, workloads: &[&'static str]) {
    for &workload in workloads {
        let (actors, n, op): (usize, u64, fn(&mut W, u64)) = match workload {
            "ask_rtt" => (1, ASKS, W::ask_rtt),
            "tell_throughput" => (1, TELLS, W::tell),
            "fanout" => (4, TELLS, W::fanout),
            _ => unreachable!(),
        };
        let mut w = W::start(actors);
        let ns = median_ns(&mut w, n, op);
        w.stop();
        rows.push(Row {
            workload,
            framework: W::NAME,
            ns,
        });
    }
}

fn main() {
    let started = Instant::now();
    let all = ["ask_rtt", "tell_throughput", "fanout"];
    let mut rows = Vec::new();
    measure::<Raw>(&mut rows, &all);
    measure::<Ours>(&mut rows, &all);
    measure::<OursUnbounded>(&mut rows, &["tell_throughput", "fanout"]);
    measure::<Kameo>(&mut rows, &all);
    measure::<Ractor>(&mut rows, &all);
    measure::<Actix>(&mut rows, &all);
    measure::<OursBatching>(&mut rows, &["ask_rtt", "tell_throughput"]);
    measure::<OursPerActor>(&mut rows, &["ask_rtt", "tell_throughput"]);
    measure::<OursProcessOnly>(&mut rows, &["ask_rtt", "tell_throughput"]);

    println!("| workload | framework | ns/op | msgs/s | ratio to raw |");
    println!("|---|---|---:|---:|---:|");
    for row in &rows {
        let raw = rows
            .iter()
            .find(|r| r.workload == row.workload && r.framework == Raw::NAME)
            .map_or(f64::NAN, |r| r.ns);
        println!(
            "| {} | {} | {:.0} | {:.2} M | {:.2}x |",
            row.workload,
            row.framework,
            row.ns,
            1e3 / row.ns,
            row.ns / raw
        );
    }

    let traced = |framework: &str, workload: &str| {
        rows.iter()
            .find(|r| r.framework == framework && r.workload == workload)
            .map_or(f64::NAN, |r| r.ns)
    };
    println!();
    println!("| tracing cost per message | tell (ns) | ask (ns) |");
    println!("|---|---:|---:|");
    for framework in [
        OursBatching::NAME,
        OursPerActor::NAME,
        OursProcessOnly::NAME,
    ] {
        println!(
            "| {framework} | +{:.0} | +{:.0} |",
            traced(framework, "tell_throughput") - traced(Ours::NAME, "tell_throughput"),
            traced(framework, "ask_rtt") - traced(Ours::NAME, "ask_rtt"),
        );
    }

    for (in_span, caller) in [(true, "inside a span"), (false, "outside any span")] {
        let ns = actor_benches::no_sdk_propagation_ns(2_000_000, in_span);
        println!(
            "| actor-core, no SDK, caller {caller} (capture + restore) | +{ns:.1} | +{ns:.1} |"
        );
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
    println!("(whole run: {:.0} s)", started.elapsed().as_secs_f64());
}
