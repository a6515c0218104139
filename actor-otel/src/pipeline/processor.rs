//! The span processor of every pipeline: batches on the thread that ends the span, hands
//! full batches to an export hub, and lets the hub drain partial ones on its schedule.
//! No thread of its own (unlike the SDK's `BatchSpanProcessor`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute as semconv;

use actor_core::trace::SpanRecord;

use crate::pipeline::buffer::Buffer;
use crate::pipeline::hub::Hub;
use crate::stats::Stats;

/// Batches spans for one tracer provider and exports them through a [`Hub`].
pub(crate) struct HubSpanProcessor {
    /// The same buffer as the sink's (the tests look into it).
    buffer: Arc<Buffer>,
    sink: Arc<SpanSink>,
}

/// What a processor shares with the span recorder of the same pipeline: its buffer, its
/// hub and its shutdown, so records are flushed by the processor's flush, in its place.
pub(crate) struct SpanSink {
    label: String,
    buffer: Arc<Buffer>,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
    max_batch: usize,
    /// Stamp `thread.name`/`thread.id` of the calling thread on each span (caller side).
    stamp_thread: bool,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for SpanSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanSink")
            .field("label", &self.label)
            .finish()
    }
}

impl std::fmt::Debug for HubSpanProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpanProcessor")
            .field("label", &self.sink.label)
            .finish()
    }
}

impl HubSpanProcessor {
    /// A processor labelled `label` (in the flush order) that batches `max_batch` spans and
    /// registers its buffer with `hub`.
    pub(crate) fn new(
        label: impl Into<String>,
        hub: Arc<Hub>,
        stats: Arc<Stats>,
        max_batch: usize,
        stamp_thread: bool,
    ) -> Self {
        let buffer = Arc::new(Buffer::new());
        hub.register(Arc::downgrade(&buffer));
        let sink = Arc::new(SpanSink {
            label: label.into(),
            buffer: buffer.clone(),
            hub,
            stats,
            max_batch: max_batch.max(1),
            stamp_thread,
            shut_down: AtomicBool::new(false),
        });
        HubSpanProcessor { buffer, sink }
    }

    /// The sink this processor fills, for a recorder of the same pipeline.
    pub(crate) fn sink(&self) -> Arc<SpanSink> {
        self.sink.clone()
    }
}

impl SpanSink {
    fn hand_over(&self) {
        if let Some((resource, batch)) = self.buffer.take() {
            self.hub.export(resource, batch);
        }
        if let Some((resource, records)) = self.buffer.take_records() {
            self.hub
                .export_records(resource, records, Arc::downgrade(&self.buffer));
        }
    }

    /// Takes a finished span record (built into a span on the hub's thread).
    #[inline]
    pub(crate) fn push_record(&self, record: SpanRecord) {
        self.stats.ended.add_one();
        if self.shut_down.load(Ordering::Acquire) {
            Stats::add(&self.stats.dropped_after_shutdown, 1);
            return;
        }
        // Pushed here, not through a call that takes the record by value (each such hop
        // is one more copy of it); with room known to be there, the record is copied once,
        // straight into its place (a push that may grow first copies it aside).
        let len = {
            let mut records = self.buffer.records();
            if records.len() < records.capacity() {
                records.push(record);
            } else {
                push_growing(&mut records, record);
            }
            records.len()
        };
        if len >= self.max_batch {
            self.hand_over();
        }
    }
}

/// A push onto `records` that grows them first (rare: a full batch is handed over before).
#[cold]
#[inline(never)]
fn push_growing(records: &mut Vec<SpanRecord>, record: SpanRecord) {
    records.push(record);
}

// What this file takes from actor-core: its numbering of threads, and whether a thread is
// an actor's.

/// This thread's id as actor-core numbers threads (the `thread.id` of spans and resources).
fn thread_id() -> u64 {
    actor_core::trace::thread_id()
}

/// Whether this thread runs an actor.
#[inline]
fn on_actor_thread() -> bool {
    actor_core::ActorId::current().is_some()
}

thread_local! {
    /// `thread.name` and `thread.id` of the current thread, made once per thread.
    static THREAD_ATTRS: [KeyValue; 2] = {
        let thread = std::thread::current();
        // Shared, so stamping a span costs no allocation.
        let name: Arc<str> = thread.name().unwrap_or("unnamed").into();
        [
            KeyValue::new(semconv::THREAD_NAME, name),
            KeyValue::new(semconv::THREAD_ID, thread_id() as i64),
        ]
    };
}

impl SpanProcessor for HubSpanProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        use opentelemetry::trace::Span as _;
        // Actor threads stamp their own spans (and their resource says which thread).
        if self.sink.stamp_thread && !on_actor_thread() {
            THREAD_ATTRS.with(|attrs| span.set_attributes(attrs.iter().cloned()));
        }
    }

    fn on_end(&self, span: SpanData) {
        let sink = &self.sink;
        sink.stats.ended.add_one();
        if sink.shut_down.load(Ordering::Acquire) {
            Stats::add(&sink.stats.dropped_after_shutdown, 1);
            return;
        }
        if sink.buffer.push(span) >= sink.max_batch {
            sink.hand_over();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.sink.hand_over();
        if self.sink.hub.flush(&self.sink.label) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(Duration::ZERO))
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let flushed = self.force_flush();
        self.sink.shut_down.store(true, Ordering::Release);
        flushed
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.buffer.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
    use opentelemetry_semantic_conventions::attribute as semconv;

    use super::HubSpanProcessor;
    use crate::pipeline::test_exporter::{config, span, Recorder};

    #[test]
    fn it_batches_until_max_batch_then_hands_the_batch_over() {
        let recorder = Recorder::open();
        let (hub, stats) = recorder.spawn_hub(config());
        let processor = HubSpanProcessor::new("actor", hub.clone(), stats.clone(), 3, false);
        processor.on_end(span("1"));
        processor.on_end(span("2"));
        // A flush of the hub alone waits for every batch handed over so far: none yet.
        assert!(hub.flush("probe"));
        assert!(recorder.batch_sizes().is_empty());

        processor.on_end(span("3"));
        assert!(hub.flush("probe"));
        assert_eq!(recorder.batch_sizes(), [3]);

        // A partial batch goes at the processor's own flush.
        processor.on_end(span("4"));
        assert!(processor.force_flush().is_ok());
        assert_eq!(recorder.batch_sizes(), [3, 1]);
        assert_eq!(recorder.names(), ["1", "2", "3", "4"]);
        let stats = stats.snapshot();
        assert_eq!((stats.spans_ended, stats.spans_exported), (4, 4));
        assert_eq!(stats.flush_order, ["probe", "probe", "actor"]);
        assert!(hub.shutdown());
    }

    #[test]
    fn after_shutdown_spans_are_counted_as_dropped() {
        let recorder = Recorder::open();
        let (hub, stats) = recorder.spawn_hub(config());
        let processor = HubSpanProcessor::new("actor", hub.clone(), stats.clone(), 512, false);
        processor.on_end(span("before"));
        assert!(processor
            .shutdown_with_timeout(Duration::from_secs(5))
            .is_ok());
        assert_eq!(recorder.names(), ["before"]);

        processor.on_end(span("after"));
        assert!(
            processor.buffer.take().is_none(),
            "a span was buffered after shutdown"
        );
        let stats = stats.snapshot();
        assert_eq!(stats.spans_ended, 2);
        assert_eq!(stats.spans_exported, 1);
        assert_eq!(stats.spans_dropped_after_shutdown, 1);
        assert!(hub.shutdown());
    }

    /// The span named `name` among `spans`, and its `thread.name` and `thread.id`.
    fn thread_stamp(spans: &[SpanData], name: &str) -> (Option<String>, Option<i64>) {
        let span = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}"));
        let value = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        let id = match value(semconv::THREAD_ID) {
            Some(opentelemetry::Value::I64(id)) => Some(id),
            _ => None,
        };
        (value(semconv::THREAD_NAME).map(|v| v.to_string()), id)
    }

    #[test]
    fn the_thread_stamp_is_only_on_spans_of_non_actor_threads() {
        use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};

        struct Traced(opentelemetry_sdk::trace::SdkTracer);
        impl Actor for Traced {}
        struct Work;
        impl Message for Work {
            type Reply = ();
        }
        impl Handler<Work> for Traced {
            async fn handle(&mut self, _: Work, _cx: &mut Ctx<Self>) {
                self.0.start("on the actor").end();
            }
        }

        let recorder = Recorder::open();
        let (hub, stats) = recorder.spawn_hub(config());
        let processor = HubSpanProcessor::new("system", hub.clone(), stats, 512, true);
        let buffer = processor.buffer.clone();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("test");

        std::thread::Builder::new()
            .name("plain".into())
            .spawn({
                let tracer = tracer.clone();
                move || tracer.start("on a plain thread").end()
            })
            .unwrap()
            .join()
            .unwrap();
        let system = ActorSystem::builder().name("stamp").build();
        let actor = system
            .spawn("worker", move || Traced(tracer.clone()))
            .unwrap();
        actor.blocking_ask(Work).unwrap();
        drop(actor);
        drop(system);

        let (_, spans) = buffer.take().expect("both spans are buffered");
        let (name, id) = thread_stamp(&spans, "on a plain thread");
        assert_eq!(name.as_deref(), Some("plain"));
        assert!(id.is_some_and(|id| id > 0), "no thread.id: {id:?}");
        assert_eq!(thread_stamp(&spans, "on the actor"), (None, None));
        drop(provider);
        assert!(hub.shutdown());
    }
}
