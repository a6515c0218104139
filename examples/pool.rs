//! A pool of worker actors fed by many concurrent requests: each request is its own trace,
//! spread over the pool's threads (the Rust counterpart of a Piscina worker pool).
//!
//! ```text
//! cargo run --example pool
//! ```

use actor_core::{Actor, ActorSystem, Ctx, Dispatch, Handler, Message};
use actor_otel::{Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue};

/// A thumbnailer: CPU-bound work on its own thread.
struct Resizer;
impl Actor for Resizer {}

/// Resize an image of `pixels` pixels.
struct Resize {
    image: u32,
    pixels: u64,
}
impl Message for Resize {
    type Reply = u64;
}

impl Handler<Resize> for Resizer {
    async fn handle(&mut self, job: Resize, cx: &mut Ctx<Self>) -> u64 {
        let mut span = cx.tracer().start("resize");
        span.set_attribute(KeyValue::new("image", job.image as i64));
        let checksum = (0..job.pixels).fold(0u64, |acc, p| acc.wrapping_mul(31).wrapping_add(p));
        span.end();
        checksum
    }
}

const REQUESTS: u32 = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder()
        .service_name("pool-example")
        .exporter(Exporter::from_env())
        .build()?;
    let system = ActorSystem::builder()
        .name("pool-example")
        .instrumentation(telemetry.clone())
        .build();
    let pool = system
        .pool("resizer", 4)
        .dispatch(Dispatch::LeastLoaded)
        .spawn(|| Resizer)?;

    let requests: Vec<_> = (0..REQUESTS)
        .map(|image| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut span = global::tracer("http").start("GET /thumbnail");
                span.set_attribute(KeyValue::new("image", image as i64));
                let cx = Context::current_with_span(span);
                let job = Resize {
                    image,
                    pixels: 2_000_000,
                };
                let reply = pool.ask(job).with_context(cx.clone()).await;
                cx.span().end();
                reply
            })
        })
        .collect();
    for request in requests {
        request.await??;
    }

    let report = system.shutdown().await;
    let stats = telemetry.stats();
    println!(
        "{REQUESTS} requests, {REQUESTS} traces, spread over {} worker threads; exported {} of {} spans",
        report.actors.iter().filter(|a| a.handled > 0).count(),
        stats.spans_exported,
        stats.spans_ended
    );
    Ok(())
}
