//! One workload on several set-ups, run in turns: round after round, each set-up runs once,
//! so a change in the machine's speed (this VM's thread wake-ups flip between a fast and a
//! slow mode, sometimes mid-run) hits every set-up alike. Prints each run, then the median
//! wall-clock and CPU time per operation of every set-up and its difference to the first.
//! Also the entry point for profiling one set-up (`perf record … bench-one tell 20 ours`).
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-one -- <workload> <rounds> <set-up>...
//! ```
//! `workload`: ask, tell, fanout. `set-up`: raw, ours, unbounded, batching, per-actor,
//! process-only, kameo, ractor, actix.

use std::time::{Duration, Instant};

use actor_benches::peers::{actix::Actix, kameo::Kameo, ractor::Ractor};
use actor_benches::{
    cpu_time, Ours, OursBatching, OursPerActor, OursProcessOnly, OursUnbounded, Raw, Workload,
};

/// One started set-up, run through a type-erased closure.
struct SetUp {
    name: &'static str,
    run: Box<dyn FnMut() -> (f64, f64)>,
    samples: Vec<(f64, f64)>,
}

fn set_up<W: Workload + 'static>(workload: &str) -> SetUp {
    let (actors, n, op): (usize, u64, fn(&mut W, u64)) = match workload {
        "ask" => (1, 20_000, W::ask_rtt),
        "tell" => (1, 1_000_000, W::tell),
        "fanout" => (4, 1_000_000, W::fanout),
        other => panic!("unknown workload {other}: ask, tell or fanout"),
    };
    let mut w = W::start(actors);
    op(&mut w, n / 10);
    SetUp {
        name: W::NAME,
        run: Box::new(move || {
            let (wall, cpu) = (Instant::now(), cpu_time());
            op(&mut w, n);
            let per = |d: Duration| d.as_nanos() as f64 / n as f64;
            (per(wall.elapsed()), per(cpu_time() - cpu))
        }),
        samples: Vec::new(),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, rounds, names @ ..] = args.as_slice() else {
        eprintln!("usage: bench-one <workload> <rounds> <set-up>...");
        std::process::exit(2);
    };
    let rounds: usize = rounds.parse().expect("rounds: a number");
    let mut setups: Vec<SetUp> = names
        .iter()
        .map(|name| match name.as_str() {
            "raw" => set_up::<Raw>(workload),
            "ours" => set_up::<Ours>(workload),
            "unbounded" => set_up::<OursUnbounded>(workload),
            "batching" => set_up::<OursBatching>(workload),
            "per-actor" => set_up::<OursPerActor>(workload),
            "process-only" => set_up::<OursProcessOnly>(workload),
            "kameo" => set_up::<Kameo>(workload),
            "ractor" => set_up::<Ractor>(workload),
            "actix" => set_up::<Actix>(workload),
            other => panic!("unknown set-up {other}"),
        })
        .collect();
    for round in 0..rounds {
        for s in &mut setups {
            let (wall, cpu) = (s.run)();
            println!(
                "round {round}: {}: {wall:.0} ns/op wall, {cpu:.0} ns/op CPU",
                s.name
            );
            s.samples.push((wall, cpu));
        }
    }
    println!();
    println!("| {workload} | wall ns/op | CPU ns/op | wall − first | CPU − first |");
    println!("|---|---:|---:|---:|---:|");
    let medians: Vec<(f64, f64)> = setups
        .iter()
        .map(|s| {
            (
                median(s.samples.iter().map(|x| x.0).collect()),
                median(s.samples.iter().map(|x| x.1).collect()),
            )
        })
        .collect();
    for (s, (wall, cpu)) in setups.iter().zip(&medians) {
        println!(
            "| {} | {wall:.0} | {cpu:.0} | {:+.0} | {:+.0} |",
            s.name,
            wall - medians[0].0,
            cpu - medians[0].1
        );
    }
}
