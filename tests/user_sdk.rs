//! The application installs its own SDK (as tracing-opentelemetry's documentation shows)
//! and uses `GlobalInstrumentation`: the blocking sends work with every span processor,
//! including the SDK's simple one, which blocks on its export inside `on_end`.
//! (Its own test binary: it installs the process-wide tracer provider.)

use std::time::Duration;

use actor_core::trace::GlobalInstrumentation;
use actor_core::{Actor, ActorSystem, Ctx, Handler, MailboxSize, Message};
use actor_otel::testing::{MemoryExporter, SpanStore};
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{global, Context};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SimpleSpanProcessor};

struct Slow;
impl Actor for Slow {}
struct Job;
impl Message for Job {
    type Reply = ();
}
impl Handler<Job> for Slow {
    async fn handle(&mut self, _: Job, _cx: &mut Ctx<Self>) {
        // Slow enough that the next blocking tell waits for room.
        std::thread::sleep(Duration::from_millis(1));
    }
}

const TELLS: usize = 20;

/// Blocking tells (many of them waiting for room) and a blocking ask from a plain thread,
/// inside a `request` span; returns the store once everything was flushed.
fn run_with(provider: SdkTracerProvider, store: SpanStore) -> SpanStore {
    global::set_tracer_provider(provider.clone());
    let system = ActorSystem::builder()
        .instrumentation(GlobalInstrumentation)
        .build();
    let slow = system
        .actor("slow")
        .mailbox(MailboxSize::Bounded(1))
        .spawn(|| Slow)
        .unwrap();
    std::thread::spawn(move || {
        let span = global::tracer("app").start("request");
        let _active = Context::current_with_span(span).attach();
        for _ in 0..TELLS {
            slow.blocking_tell(Job).unwrap();
        }
        slow.blocking_ask(Job).unwrap();
        Context::current().span().end();
    })
    .join()
    .expect("the blocking calls must not panic");
    let report = system.blocking_shutdown();
    assert_eq!(report.handled(), TELLS as u64 + 1);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    store
}

/// One `request`, a `send` per tell under it, a `process` per message under its `send`
/// (or, for the ask, under the request).
fn assert_one_connected_trace(store: &SpanStore) {
    let request = store.one("request");
    let sends = store.named("send slow");
    let processes = store.named("process slow");
    assert_eq!(sends.len(), TELLS, "a send span per tell");
    assert_eq!(processes.len(), TELLS + 1, "a process span per message");
    assert!(sends.iter().all(|s| s.is_child_of(&request)));
    for process in &processes {
        let parent = sends
            .iter()
            .find(|s| process.is_child_of(s))
            .map_or(request.span_id(), |s| s.span_id());
        assert_eq!(process.parent_span_id(), parent);
        assert_eq!(process.trace_id(), request.trace_id());
    }
    assert_eq!(store.len(), 1 + TELLS + TELLS + 1, "nothing lost");
}

#[test]
fn blocking_sends_work_with_the_sdks_simple_and_batch_processors() {
    let store = SpanStore::new();
    let simple = SdkTracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(MemoryExporter::new(store.clone())))
        .build();
    assert_one_connected_trace(&run_with(simple, store));

    let store = SpanStore::new();
    let batch = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(MemoryExporter::new(store.clone())).build(),
        )
        .build();
    assert_one_connected_trace(&run_with(batch, store));
}
