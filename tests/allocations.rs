//! What a traced message allocates on the hot path, counted by a global allocator on the
//! sending thread and on the actor's thread (the export thread is not the hot path): with
//! compact span records, only the two `Context`s the OpenTelemetry API allocates (the one
//! the message carries with its `send` span's identity, unless it is sent from a sampled
//! span, and the one its handler runs in) and
//! the handler's view of its `process` span (the API boxes every span a `Context` holds;
//! it is what lets `Context::current().span()` enrich the record), no attribute vector, no
//! record box; the SDK spans they replace allocate several times more.

use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::{BatchConfig, Exporter, PipelineMode, Telemetry};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{here, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Counter;
impl Actor for Counter {}

struct Add;
impl Message for Add {
    type Reply = ();
}
impl Handler<Add> for Counter {
    async fn handle(&mut self, _: Add, _cx: &mut Ctx<Self>) {}
}

/// The allocations counted so far on the actor's thread.
struct Allocated;
impl Message for Allocated {
    type Reply = u64;
}
impl Handler<Allocated> for Counter {
    async fn handle(&mut self, _: Allocated, _cx: &mut Ctx<Self>) -> u64 {
        here()
    }
}

/// Allocations per tell on the sender's and the actor's threads together, in the steady
/// state, with `telemetry` (compact records or not) or none; sent from inside a sampled
/// span of the caller's (`in_span`) or from no span (each message a new trace).
fn per_tell(telemetry: Option<Telemetry>, in_span: bool) -> f64 {
    let mut builder = ActorSystem::builder().name("allocations");
    if let Some(t) = &telemetry {
        builder = builder.instrumentation(t.clone());
    }
    let system = builder.build();
    let actor = system.spawn("counter", || Counter).unwrap();
    let _caller = match (&telemetry, in_span) {
        (Some(t), true) => {
            use opentelemetry::trace::{TraceContextExt as _, Tracer as _};
            let span = t.tracer("caller").start("caller");
            Some(opentelemetry::Context::current_with_span(span).attach())
        }
        _ => None,
    };
    const WARM: u64 = 5_000;
    const N: u64 = 20_000;
    for _ in 0..WARM {
        actor.blocking_tell(Add).unwrap();
    }
    let actor_before = actor.blocking_ask(Allocated).unwrap();
    let sender_before = here();
    for _ in 0..N {
        actor.blocking_tell(Add).unwrap();
    }
    let sender = here() - sender_before;
    let actor_side = actor.blocking_ask(Allocated).unwrap() - actor_before;
    drop(_caller);
    drop(actor);
    drop(system);
    if let Some(t) = telemetry {
        let _ = t.shutdown();
    }
    (sender + actor_side) as f64 / N as f64
}

fn telemetry(compact: bool) -> Telemetry {
    Telemetry::builder()
        .exporter(Exporter::noop().without_metrics())
        .pipeline(PipelineMode::PerActor)
        .global(false)
        .compact_spans(compact)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            ..BatchConfig::default()
        })
        .build()
        .unwrap()
}

#[test]
fn a_traced_message_allocates_only_its_two_contexts_and_the_handlers_span() {
    let untraced = per_tell(None, false);
    let records = per_tell(Some(telemetry(true)), false);
    let in_span = per_tell(Some(telemetry(true)), true);
    let sdk = per_tell(Some(telemetry(false)), false);
    eprintln!(
        "allocations per tell: untraced {untraced:.3}, records {records:.3} \
         ({in_span:.3} sent in a span), SDK spans {sdk:.3}"
    );
    // The two `Context`s, the handler's span, and a share of one batch hand-over per 512
    // records.
    assert!(
        records - untraced <= 3.05,
        "records: {records:.3} per tell, untraced {untraced:.3}"
    );
    // Sent in a sampled span, the message carries the caller's own context and the
    // `send` record's id: one `Context` fewer.
    assert!(
        in_span - untraced <= 2.05,
        "records in a span: {in_span:.3} per tell, untraced {untraced:.3}"
    );
    assert!(sdk - untraced > 4.0, "SDK spans: {sdk:.3} per tell");
}
