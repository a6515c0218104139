//! [`Buffer`]: the spans one span processor ended but has not handed to its export hub yet,
//! shared between the two: the processor pushes (on the thread that ends the span) and takes
//! full batches; the hub takes partial ones on its schedule and at shutdown.

use std::sync::Mutex;

use actor_core::trace::SpanRecord;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

/// Spans ended but not yet handed to the hub, and the resource they belong to.
#[derive(Debug)]
pub(crate) struct Buffer {
    spans: Mutex<Vec<SpanData>>,
    /// The framework's own spans, as compact records (built into spans by the hub).
    records: Mutex<Vec<SpanRecord>>,
    /// Emptied batches of records the hub gave back, to fill next: no fresh (and
    /// page-faulting) allocation per batch, even with several batches in flight.
    spare: Mutex<Vec<Vec<SpanRecord>>>,
    resource: Mutex<Resource>,
}

impl Buffer {
    /// An empty buffer under an empty resource.
    pub(crate) fn new() -> Self {
        Buffer {
            spans: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
            spare: Mutex::new(Vec::new()),
            resource: Mutex::new(Resource::builder_empty().build()),
        }
    }

    /// Adds an ended span; returns how many spans the buffer holds now.
    #[inline]
    pub(crate) fn push(&self, span: SpanData) -> usize {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.push(span);
        spans.len()
    }

    /// Takes the buffered spans, if any, with their resource.
    pub(crate) fn take(&self) -> Option<(Resource, Vec<SpanData>)> {
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

    /// The span records, locked, to push onto.
    #[inline]
    pub(crate) fn records(&self) -> std::sync::MutexGuard<'_, Vec<SpanRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the buffered span records, if any, with their resource.
    pub(crate) fn take_records(&self) -> Option<(Resource, Vec<SpanRecord>)> {
        let batch = {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if records.is_empty() {
                return None;
            }
            // The same size stays behind (the spare the hub gave back, if any): pushes
            // never regrow it in the steady state.
            let capacity = records.capacity();
            let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let next = match spare {
                Some(spare) if spare.capacity() >= capacity => spare,
                _ => Vec::with_capacity(capacity),
            };
            std::mem::replace(&mut *records, next)
        };
        Some((self.resource(), batch))
    }

    /// Gives back a batch of records the hub has built into spans, emptied, to be filled
    /// again.
    pub(crate) fn recycle(&self, mut batch: Vec<SpanRecord>) {
        /// Batches kept for reuse: as many as are usually in flight at once.
        const SPARES: usize = 4;
        batch.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARES {
            spare.push(batch);
        }
    }

    /// The resource the buffered spans are exported under from now on.
    pub(crate) fn set_resource(&self, resource: &Resource) {
        *self.resource.lock().unwrap_or_else(|e| e.into_inner()) = resource.clone();
    }

    fn resource(&self) -> Resource {
        self.resource
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
