//! The seed article's scenario in Rust: a `process_data` span on the caller's side hands a
//! CPU-heavy job to a worker on another OS thread; the worker's `worker_process` span must
//! land in the same trace.
//!
//! ```text
//! cargo run --example worker_offload                 # the fix: one connected trace
//! cargo run --example worker_offload -- --plain-thread   # the problem: an orphaned trace
//! ```
//!
//! Without a collector the traces are printed as waterfalls; set
//! `OTEL_EXPORTER_OTLP_ENDPOINT` to send them to one instead.

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::{Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue};

/// The CPU-heavy work: sums of squares, deliberately slow.
fn heavy_computation(n: u64) -> u64 {
    (0..n).fold(0u64, |acc, i| acc.wrapping_add(i.wrapping_mul(i) % 7919))
}

/// The worker actor, on its own OS thread.
struct Worker;
impl Actor for Worker {}

/// A job for the worker.
struct Job(u64);
impl Message for Job {
    type Reply = u64;
}

impl Handler<Job> for Worker {
    async fn handle(&mut self, Job(n): Job, cx: &mut Ctx<Self>) -> u64 {
        // The sender's context is active here: this span joins the caller's trace.
        let mut span = cx.tracer().start("worker_process");
        let result = heavy_computation(n);
        span.set_attribute(KeyValue::new("job.size", n as i64));
        span.end();
        result
    }
}

const JOB: u64 = 30_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plain_thread = std::env::args().any(|a| a == "--plain-thread");
    let telemetry = Telemetry::builder()
        .service_name("worker-offload")
        .exporter(Exporter::from_env())
        .build()?;
    let tracer = global::tracer("main");

    if plain_thread {
        println!("The problem: a plain OS thread does not carry the caller's context.\n");
        let span = tracer.start("process_data");
        let cx = Context::current_with_span(span);
        let _guard = cx.clone().attach();
        let result = std::thread::spawn(|| {
            // No context crossed the thread boundary: this span starts a new trace.
            let mut span = global::tracer("worker").start("worker_process");
            let result = heavy_computation(JOB);
            span.end();
            result
        })
        .join()
        .map_err(|_| "worker thread panicked")?;
        cx.span().end();
        println!("result {result}");
        drop(_guard);
        telemetry.shutdown()?;
        println!("Two traces: `worker_process` is orphaned, not a child of `process_data`.");
        return Ok(());
    }

    println!("The fix: an actor's mailbox carries the caller's context.\n");
    let system = ActorSystem::builder()
        .name("worker-offload")
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || Worker)?;

    let span = tracer.start("process_data");
    let cx = Context::current_with_span(span);
    let result = worker.ask(Job(JOB)).with_context(cx.clone()).await?;
    cx.span().end();
    println!("result {result}");

    let report = system.shutdown().await;
    let stats = telemetry.stats();
    println!(
        "One trace: `worker_process` (thread `worker`) is a grandchild of `process_data` (thread `main`).\n\
         drained {} messages, exported {} of {} spans, lost {}",
        report.drained(),
        stats.spans_exported,
        stats.spans_ended,
        stats.spans_lost()
    );
    Ok(())
}
