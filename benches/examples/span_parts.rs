//! What each part of a span costs in `opentelemetry_sdk` alone: spans started and ended on
//! this thread, batched by the SDK's `BatchSpanProcessor` into a no-op exporter, with 0–8
//! static attributes and with or without a link. CPU time of every thread per span.
//!
//! ```text
//! cargo run --release -p actor-benches --example span_parts
//! ```
//!
//! With glibc the step from 2 to 3 attributes is the largest: the attribute vector then
//! outgrows glibc's "fastbin" sizes (up to 128 bytes), and freeing it on the export thread,
//! not the thread that allocated it, takes the allocating thread's arena lock.

use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};

const SPANS: u64 = 300_000;

/// CPU nanoseconds per span with `attributes` attributes and maybe a link.
fn per_span(attributes: usize, link: bool) -> f64 {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(actor_otel::NoopExporter).build())
        .build();
    let tracer = provider.tracer("span-parts");
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7),
        SpanId::from(7),
        TraceFlags::SAMPLED,
        false,
        Default::default(),
    ));
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let start = actor_benches::cpu_time();
    for _ in 0..SPANS {
        let mut builder = tracer
            .span_builder("process counter-0")
            .with_kind(SpanKind::Consumer);
        if attributes > 0 {
            let values: Vec<KeyValue> = keys[..attributes]
                .iter()
                .map(|k| KeyValue::new(*k, "v"))
                .collect();
            builder = builder.with_attributes(values);
        }
        if link {
            builder = builder.with_links(vec![Link::with_context(
                parent.span().span_context().clone(),
            )]);
        }
        let span = builder.start_with_context(&tracer, &parent);
        drop(parent.with_span(span));
    }
    let _ = provider.force_flush();
    let ns = (actor_benches::cpu_time() - start).as_nanos() as f64 / SPANS as f64;
    let _ = provider.shutdown();
    ns
}

fn main() {
    println!("| attributes | link | CPU per span (ns) |");
    println!("|---:|---|---:|");
    for (attributes, link) in [
        (0, false),
        (2, false),
        (3, false),
        (8, false),
        (0, true),
        (2, true),
        (8, true),
    ] {
        let link_text = if link { "yes" } else { "no" };
        println!(
            "| {attributes} | {link_text} | {:.0} |",
            per_span(attributes, link)
        );
    }
}
