//! What a batched traced tell allocates on the caller's thread, counted by a global
//! allocator: with the W3C propagator in effect, its `send` record's `traceparent` goes
//! straight into its frame and its body straight into the batch (no context, no header
//! string, no body, no future per tell: what is left is the batch's own, shared by hundreds
//! of tells); through another propagator, the API's context and strings per tell.

mod common;

use std::sync::Arc;
use std::time::Duration;

use actor_core::trace::Instrumentation as _;
use actor_core::Message;
use actor_otel::{Exporter, Telemetry};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};

use common::{options, server};

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{here, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Debug, Serialize, Deserialize)]
struct Note(u64);
impl Message for Note {
    type Reply = ();
}

/// Allocations per batched tell on the caller's thread (where its connection runs too),
/// each sent from a sampled remote parent, with `send` records and `propagator` (`None`:
/// the built-in W3C one, no global one installed).
async fn per_tell(propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>) -> f64 {
    let server = server();
    let telemetry = Telemetry::builder()
        .service_name("nats-allocations")
        .exporter(Exporter::noop())
        .global(false)
        .build()
        .unwrap();
    let mut caller = options(&server).recorder(telemetry.system_recorder().unwrap());
    if let Some(propagator) = propagator {
        caller = caller.propagator(propagator);
    }
    let caller = caller.connect().await.unwrap();
    // Nobody serves the subject: tells are published all the same (at most once).
    let remote = caller.recipient::<Note>("svc.nobody");
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7u128),
        SpanId::from(8u64),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    ));
    let _parent = parent.attach();
    const WARM: u64 = 2_000;
    const TELLS: u64 = 20_000;
    for n in 0..WARM {
        remote.tell(Note(n)).await.unwrap();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    let before = here();
    for n in 0..TELLS {
        remote.tell(Note(n)).await.unwrap();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    let allocated = here() - before;
    assert!(caller.stats().batches_sent > 0, "the tells went in batches");
    drop(caller);
    telemetry.shutdown().unwrap();
    allocated as f64 / TELLS as f64
}

#[tokio::test(flavor = "current_thread")]
async fn a_batched_traced_tell_allocates_nothing_of_its_own_on_the_callers_thread() {
    let w3c = per_tell(None).await;
    assert!(
        w3c < 0.25,
        "{w3c:.2} allocations per traced tell with the W3C propagator in effect"
    );
    // The general path, through the SDK's propagator: a context and strings per tell.
    let sdk = per_tell(Some(Arc::new(TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
    ]))))
    .await;
    assert!(
        sdk >= 1.0,
        "{sdk:.2} allocations per traced tell through the SDK's propagator"
    );
    eprintln!("allocations per traced tell: W3C {w3c:.3}, SDK propagator {sdk:.3}");
}
