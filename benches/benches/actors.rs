//! Criterion benchmarks: ask round trip, tell throughput, fan-out and the per-message cost of
//! tracing, for our framework, the raw channel baseline and peer frameworks, in one run.
//!
//! ```text
//! cargo bench -p actor-benches            # everything
//! cargo bench -p actor-benches -- ask_rtt # one group
//! ```

use std::time::{Duration, Instant};

use actor_benches::peers::{actix::Actix, kameo::Kameo, ractor::Ractor};
use actor_benches::{
    Ours, OursBatching, OursPerActor, OursProcessOnly, OursUnbounded, Raw, RawWithContext, Workload,
};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const BATCH: u64 = 100_000;

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn ask<W: Workload>(group: &mut Group<'_>) {
    let mut w = W::start(1);
    group.bench_function(W::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            w.ask_rtt(iters);
            start.elapsed()
        })
    });
    w.stop();
}

fn batch<W: Workload>(group: &mut Group<'_>, actors: usize, op: fn(&mut W, u64)) {
    let mut w = W::start(actors);
    group.bench_function(W::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                op(&mut w, BATCH);
            }
            start.elapsed()
        })
    });
    w.stop();
}

fn configure(group: &mut Group<'_>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

fn ask_rtt(c: &mut Criterion) {
    let mut group = c.benchmark_group("ask_rtt");
    configure(&mut group);
    ask::<Raw>(&mut group);
    ask::<Ours>(&mut group);
    ask::<Kameo>(&mut group);
    ask::<Ractor>(&mut group);
    ask::<Actix>(&mut group);
    group.finish();
}

fn tell_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("tell_throughput");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH));
    batch::<Raw>(&mut group, 1, Raw::tell);
    batch::<RawWithContext>(&mut group, 1, RawWithContext::tell);
    batch::<Ours>(&mut group, 1, Ours::tell);
    batch::<OursUnbounded>(&mut group, 1, OursUnbounded::tell);
    batch::<Kameo>(&mut group, 1, Kameo::tell);
    batch::<Ractor>(&mut group, 1, Ractor::tell);
    batch::<Actix>(&mut group, 1, Actix::tell);
    group.finish();
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH));
    batch::<Raw>(&mut group, 4, Raw::fanout);
    batch::<RawWithContext>(&mut group, 4, RawWithContext::fanout);
    batch::<Ours>(&mut group, 4, Ours::fanout);
    batch::<Kameo>(&mut group, 4, Kameo::fanout);
    batch::<Ractor>(&mut group, 4, Ractor::fanout);
    batch::<Actix>(&mut group, 4, Actix::fanout);
    group.finish();
}

fn tracing_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracing_cost_tell");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH));
    batch::<Ours>(&mut group, 1, Ours::tell);
    batch::<OursBatching>(&mut group, 1, OursBatching::tell);
    batch::<OursPerActor>(&mut group, 1, OursPerActor::tell);
    batch::<OursProcessOnly>(&mut group, 1, OursProcessOnly::tell);
    group.finish();

    let mut group = c.benchmark_group("tracing_cost_ask");
    configure(&mut group);
    ask::<Ours>(&mut group);
    ask::<OursBatching>(&mut group);
    ask::<OursPerActor>(&mut group);
    ask::<OursProcessOnly>(&mut group);
    group.finish();

    let mut group = c.benchmark_group("tracing_cost_no_sdk");
    configure(&mut group);
    for (in_span, caller) in [
        (true, "caller inside a span"),
        (false, "caller outside any span"),
    ] {
        group.bench_function(caller, |b| {
            b.iter_custom(|iters| {
                let ns = actor_benches::no_sdk_propagation_ns(iters, in_span);
                Duration::from_nanos((ns * iters as f64) as u64)
            })
        });
    }
    group.finish();
}

fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("spawn + shutdown 1000 actors", |b| {
        b.iter(|| actor_benches::ours::spawn_and_shutdown(1_000))
    });
    group.finish();
}

criterion_group!(
    benches,
    ask_rtt,
    tell_throughput,
    fanout,
    tracing_cost,
    spawn
);
criterion_main!(benches);
