//! The span processor of every pipeline: batches on the thread that ends the span, hands
//! full batches to an export hub, and lets the hub drain partial ones on its schedule.
//! No thread of its own (unlike the SDK's `BatchSpanProcessor`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use opentelemetry_semantic_conventions::attribute as semconv;

use crate::hub::Hub;
use crate::stats::Stats;

/// Spans ended but not yet handed to the hub, and the resource they belong to.
#[derive(Debug)]
pub(crate) struct Buffer {
    spans: Mutex<Vec<SpanData>>,
    resource: Mutex<Resource>,
}

impl Buffer {
    /// Takes the buffered spans, if any, with their resource.
    pub fn take(&self) -> Option<(Resource, Vec<SpanData>)> {
        let batch = {
            let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
            if spans.is_empty() {
                return None;
            }
            // Leave a buffer of the same size behind, so pushes never regrow it.
            let capacity = spans.capacity();
            std::mem::replace(&mut *spans, Vec::with_capacity(capacity))
        };
        Some((self.resource(), batch))
    }

    fn resource(&self) -> Resource {
        self.resource
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Batches spans for one tracer provider and exports them through a [`Hub`].
pub(crate) struct HubSpanProcessor {
    label: String,
    buffer: Arc<Buffer>,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
    max_batch: usize,
    /// Stamp `thread.name`/`thread.id` of the calling thread on each span (caller side).
    stamp_thread: bool,
    shut_down: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for HubSpanProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpanProcessor")
            .field("label", &self.label)
            .finish()
    }
}

impl HubSpanProcessor {
    pub fn new(
        label: impl Into<String>,
        hub: Arc<Hub>,
        stats: Arc<Stats>,
        max_batch: usize,
        stamp_thread: bool,
    ) -> Self {
        let buffer = Arc::new(Buffer {
            spans: Mutex::new(Vec::new()),
            resource: Mutex::new(Resource::builder_empty().build()),
        });
        hub.register(Arc::downgrade(&buffer));
        HubSpanProcessor {
            label: label.into(),
            buffer,
            hub,
            stats,
            max_batch: max_batch.max(1),
            stamp_thread,
            shut_down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn hand_over(&self) {
        if let Some((resource, batch)) = self.buffer.take() {
            self.hub.export(resource, batch);
        }
    }
}

thread_local! {
    /// `thread.name` and `thread.id` of the current thread, made once per thread.
    static THREAD_ATTRS: [KeyValue; 2] = {
        let thread = std::thread::current();
        // Shared, so stamping a span costs no allocation.
        let name: Arc<str> = thread.name().unwrap_or("unnamed").into();
        [
            KeyValue::new(semconv::THREAD_NAME, name),
            KeyValue::new(semconv::THREAD_ID, actor_core::trace::thread_id() as i64),
        ]
    };
}

impl SpanProcessor for HubSpanProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        use opentelemetry::trace::Span as _;
        // Actor threads stamp their own spans (and their resource says which thread).
        if self.stamp_thread && actor_core::ActorId::current().is_none() {
            THREAD_ATTRS.with(|attrs| span.set_attributes(attrs.iter().cloned()));
        }
    }

    fn on_end(&self, span: SpanData) {
        Stats::add(&self.stats.ended, 1);
        if self.shut_down.load(std::sync::atomic::Ordering::Acquire) {
            Stats::add(&self.stats.dropped_after_shutdown, 1);
            return;
        }
        let full = {
            let mut spans = self.buffer.spans.lock().unwrap_or_else(|e| e.into_inner());
            spans.push(span);
            spans.len() >= self.max_batch
        };
        if full {
            self.hand_over();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.hand_over();
        if self.hub.flush(&self.label) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(Duration::ZERO))
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let flushed = self.force_flush();
        self.shut_down
            .store(true, std::sync::atomic::Ordering::Release);
        flushed
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self
            .buffer
            .resource
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = resource.clone();
    }
}
