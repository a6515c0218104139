//! [`Buffer`]: the spans one span processor ended but has not handed to its export hub yet,
//! shared between the two: the processor pushes (on the thread that ends the span) and takes
//! full batches; the hub takes partial ones on its schedule and at shutdown.

use std::sync::Mutex;

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

/// Spans ended but not yet handed to the hub, and the resource they belong to.
#[derive(Debug)]
pub(crate) struct Buffer {
    spans: Mutex<Vec<SpanData>>,
    resource: Mutex<Resource>,
}

impl Buffer {
    /// An empty buffer under an empty resource.
    pub(crate) fn new() -> Self {
        Buffer {
            spans: Mutex::new(Vec::new()),
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
