//! The worker_offload scenario, exported over OTLP to a real collector: its spans, the
//! actors' metrics, and a log record per request (a `tracing` event in the handler, on the
//! request's trace).
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example otlp
//! OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example otlp
//! ```

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::{Exporter, OtlpProtocol, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue};

struct Worker;
impl Actor for Worker {}

struct Job(u64);
impl Message for Job {
    type Reply = u64;
}

impl Handler<Job> for Worker {
    async fn handle(&mut self, Job(n): Job, cx: &mut Ctx<Self>) -> u64 {
        let mut span = cx.tracer().start("worker_process");
        let result = (0..n).fold(0u64, |acc, i| acc.wrapping_add(i.wrapping_mul(i) % 7919));
        span.set_attribute(KeyValue::new("job.size", n as i64));
        span.end();
        // A log record in the worker's pipeline, on this request's trace.
        tracing::info!(job.size = n, result, "job done");
        result
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protocol = OtlpProtocol::from_env();
    let endpoint =
        std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|_| "(default)".into());
    println!("exporting over OTLP ({protocol:?}) to {endpoint}");
    let telemetry = Telemetry::builder()
        .service_name("worker-offload")
        .exporter(Exporter::otlp(protocol, None))
        .build()?;
    // `tracing` events become log records (spans made through `tracing` would join the
    // traces with `.with(telemetry.tracing_layer())`).
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(telemetry.log_layer()),
    )?;
    let system = ActorSystem::builder()
        .name("worker-offload")
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || Worker)?;

    let cx = Context::current_with_span(global::tracer("main").start("process_data"));
    let trace_id = cx.span().span_context().trace_id();
    let result = worker.ask(Job(10_000_000)).with_context(cx.clone()).await?;
    cx.span().end();

    system.shutdown().await;
    let stats = telemetry.stats();
    println!("result {result}; trace {trace_id}");
    println!(
        "exported {} of {} spans ({} failed: {})",
        stats.spans_exported,
        stats.spans_ended,
        stats.spans_lost(),
        stats.last_error.unwrap_or_else(|| "none".into())
    );
    println!(
        "exported {} of {} log records, {} metric collections",
        stats.logs_exported, stats.logs_emitted, stats.metric_exports
    );
    Ok(())
}
