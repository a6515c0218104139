//! An in-memory exporter for tests ([`MemoryExporter`] into a [`SpanStore`]): unlike the
//! SDK's `InMemorySpanExporter`, it keeps its spans after shutdown, and it records the
//! resource each span was exported with ([`ExportedSpan`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// One exported span and the resource it was exported under.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    /// The span as the SDK exported it.
    pub span: SpanData,
    /// The resource of the pipeline that exported it (per actor in per-actor mode).
    pub resource: Resource,
}

impl ExportedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.span.span_context.trace_id()
    }

    /// The span's own id.
    pub fn span_id(&self) -> SpanId {
        self.span.span_context.span_id()
    }

    /// The parent's span id (`SpanId::INVALID` for a root).
    pub fn parent_span_id(&self) -> SpanId {
        self.span.parent_span_id
    }

    /// Whether `self` is a direct child of `parent`.
    pub fn is_child_of(&self, parent: &ExportedSpan) -> bool {
        self.trace_id() == parent.trace_id() && self.parent_span_id() == parent.span_id()
    }

    /// A span attribute's value.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// A resource attribute's value.
    pub fn resource_attribute(&self, key: &str) -> Option<Value> {
        self.resource.get(&Key::from(key.to_owned()))
    }
}

/// A shared list of exported spans; clone it into [`Exporter::memory`](crate::Exporter::memory)
/// and read it from the test.
#[derive(Debug, Clone, Default)]
pub struct SpanStore {
    spans: Arc<Mutex<Vec<ExportedSpan>>>,
}

impl SpanStore {
    /// An empty store.
    pub fn new() -> Self {
        SpanStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ExportedSpan>> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every span exported so far, in export order.
    pub fn spans(&self) -> Vec<ExportedSpan> {
        self.lock().clone()
    }

    /// How many spans were exported.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was exported.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The spans with this name.
    pub fn named(&self, name: &str) -> Vec<ExportedSpan> {
        self.lock()
            .iter()
            .filter(|s| s.name() == name)
            .cloned()
            .collect()
    }

    /// The one span with this name; panics (for tests) when there is not exactly one.
    pub fn one(&self, name: &str) -> ExportedSpan {
        let mut found = self.named(name);
        assert_eq!(
            found.len(),
            1,
            "expected one span named {name:?}, found {}: {:?}",
            found.len(),
            self.spans()
                .iter()
                .map(|s| s.name().to_owned())
                .collect::<Vec<_>>()
        );
        found.remove(0)
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> Vec<ExportedSpan> {
        self.lock()
            .iter()
            .filter(|s| s.trace_id() == trace_id)
            .cloned()
            .collect()
    }

    /// Waits until at least `count` spans were exported; `false` after `limit`.
    pub fn wait_for(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.len() < count {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Forgets every span.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn push(&self, batch: Vec<SpanData>, resource: &Resource) {
        let mut spans = self.lock();
        spans.extend(batch.into_iter().map(|span| ExportedSpan {
            span,
            resource: resource.clone(),
        }));
    }
}

/// Exports into a [`SpanStore`]. Keeps everything through shutdown.
#[derive(Debug)]
pub struct MemoryExporter {
    store: SpanStore,
    resource: Resource,
}

impl MemoryExporter {
    /// An exporter writing into `store`.
    pub fn new(store: SpanStore) -> Self {
        MemoryExporter {
            store,
            resource: Resource::builder_empty().build(),
        }
    }
}

impl SpanExporter for MemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.store.push(batch, &self.resource);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }
}
