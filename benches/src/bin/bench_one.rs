//! One workload on several set-ups, run in turns (see `actor_benches::turns`): prints each
//! run, then the median wall-clock and CPU time per operation of every set-up and its
//! difference to the first. Also the entry point for profiling one set-up
//! (`perf record -g target/release/bench-one tell 20 ours`).
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-one -- <workload> <rounds> <set-up>...
//! ```
//! `workload`: ask, tell, fanout. `set-up`: raw, raw-unbounded, raw-unbounded-context, raw-context, raw-88, raw-unbounded-88, ours, unbounded, batching, per-actor, unsampled, sdk-spans,
//! process-only, metrics, otlp-encode, otlp-http, kameo, ractor, actix.

use actor_benches::peers::{actix::Actix, kameo::Kameo, ractor::Ractor};
use actor_benches::turns::Turns;
use actor_benches::{
    Ours, OursBatching, OursPerActor, OursProcessOnly, OursUnbounded, Raw, RawWithContext,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, rounds, names @ ..] = args.as_slice() else {
        eprintln!("usage: bench-one <workload> <rounds> <set-up>...");
        std::process::exit(2);
    };
    let workload: &'static str = match workload.as_str() {
        "ask" => "ask",
        "tell" => "tell",
        "fanout" => "fanout",
        other => panic!("unknown workload {other}: ask, tell or fanout"),
    };
    let rounds: usize = rounds.parse().expect("rounds: a number");
    let mut turns = Turns::new(workload);
    for name in names {
        turns = match name.as_str() {
            "raw" => turns.add::<Raw>(),
            "raw-unbounded" => turns.add::<actor_benches::RawUnbounded>(),
            "raw-unbounded-context" => turns.add::<actor_benches::RawUnboundedWithContext>(),
            "raw-context" => turns.add::<RawWithContext>(),
            "raw-88" => turns.add::<actor_benches::raw::RawPadded>(),
            "raw-unbounded-88" => turns.add::<actor_benches::raw::RawUnboundedPadded>(),
            "ours" => turns.add::<Ours>(),
            "unbounded" => turns.add::<OursUnbounded>(),
            "batching" => turns.add::<OursBatching>(),
            "per-actor" => turns.add::<OursPerActor>(),
            "process-only" => turns.add::<OursProcessOnly>(),
            "metrics" => turns.add::<actor_benches::OursMetrics>(),
            "unsampled" => turns.add::<actor_benches::OursUnsampled>(),
            "sdk-spans" => turns.add::<actor_benches::OursSdkSpans>(),
            "otlp-http" => turns.add::<actor_benches::OursOtlpHttp>(),
            "otlp-encode" => turns.add::<actor_benches::OursOtlpEncode>(),
            "kameo" => turns.add::<Kameo>(),
            "ractor" => turns.add::<Ractor>(),
            "actix" => turns.add::<Actix>(),
            other => panic!("unknown set-up {other}"),
        };
    }
    let medians = turns.run(rounds, |round, name, p| {
        println!(
            "round {round}: {name}: {:.0} ns/op wall, {:.0} ns/op CPU, busiest thread {:.0}",
            p.wall, p.cpu, p.busiest
        )
    });
    let Some(&(_, first)) = medians.first() else {
        return;
    };
    println!();
    println!(
        "| {workload} | wall ns/op | CPU ns/op | busiest thread | wall − first | CPU − first | busiest − first |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, p) in &medians {
        let d = p.minus(first);
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:+.0} | {:+.0} | {:+.0} |",
            p.wall, p.cpu, p.busiest, d.wall, d.cpu, d.busiest
        );
    }
}
