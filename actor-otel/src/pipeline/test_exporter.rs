//! For the pipeline's unit tests: a small exporter that records what it exports and can be
//! told to stall until released, the export hub around it, and spans to feed it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use opentelemetry_sdk::Resource;
use tokio::sync::watch;

use crate::config::BatchConfig;
use crate::pipeline::hub::Hub;
use crate::pipeline::span_output::SdkOutput;
use crate::stats::Stats;

/// The test's side of a [`TestExporter`]: what it exported, and the gate its exports wait
/// at. Dropping it opens the gate, so no hub thread stays stalled after a test.
#[derive(Debug)]
pub(crate) struct Recorder {
    batches: Arc<Mutex<Vec<Vec<SpanData>>>>,
    gate: watch::Sender<bool>,
    shut_down: Arc<AtomicBool>,
}

impl Recorder {
    /// A recorder whose exports go through at once.
    pub(crate) fn open() -> Self {
        Recorder::with_gate(true)
    }

    /// A recorder whose exports wait until [`Recorder::release`].
    pub(crate) fn stalled() -> Self {
        Recorder::with_gate(false)
    }

    fn with_gate(open: bool) -> Self {
        Recorder {
            batches: Arc::default(),
            gate: watch::channel(open).0,
            shut_down: Arc::default(),
        }
    }

    /// Lets stalled and later exports through.
    pub(crate) fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Starts a real export hub around a [`TestExporter`] of this recorder.
    pub(crate) fn spawn_hub(&self, config: BatchConfig) -> (Arc<Hub>, Arc<Stats>) {
        let exporter = TestExporter {
            batches: self.batches.clone(),
            gate: self.gate.subscribe(),
            shut_down: self.shut_down.clone(),
        };
        let stats = Arc::new(Stats::default());
        let hub = Hub::spawn(
            "test-export",
            Box::new(move || Ok(SdkOutput(exporter))),
            Default::default(),
            config,
            stats.clone(),
        )
        .expect("the test hub starts");
        (hub, stats)
    }

    /// The sizes of the exported batches, in export order.
    pub(crate) fn batch_sizes(&self) -> Vec<usize> {
        self.lock().iter().map(Vec::len).collect()
    }

    /// The names of the exported spans, in export order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.lock()
            .iter()
            .flatten()
            .map(|span| span.name.to_string())
            .collect()
    }

    /// Whether the hub shut the exporter down.
    pub(crate) fn was_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<SpanData>>> {
        self.batches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.release();
    }
}

/// Records every batch once its gate is open.
#[derive(Debug)]
pub(crate) struct TestExporter {
    batches: Arc<Mutex<Vec<Vec<SpanData>>>>,
    gate: watch::Receiver<bool>,
    shut_down: Arc<AtomicBool>,
}

impl SpanExporter for TestExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // An error means the recorder is gone: nothing to wait for any more.
        let _ = self.gate.clone().wait_for(|open| *open).await;
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(batch);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }
}

/// Limits for tests: no scheduled drain (a one-hour delay), so every export the tests see
/// was handed over, flushed or drained at shutdown.
pub(crate) fn config() -> BatchConfig {
    BatchConfig {
        max_batch_size: 512,
        max_queue_size: 1_000,
        scheduled_delay: Duration::from_secs(3_600),
        export_timeout: Duration::from_secs(30),
        flush_timeout: Duration::from_secs(10),
        metric_interval: Duration::from_secs(3_600),
    }
}

/// An empty resource.
pub(crate) fn resource() -> Resource {
    Resource::builder_empty().build()
}

/// An ended span named `name`.
pub(crate) fn span(name: &'static str) -> SpanData {
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(1),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            false,
            Default::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: now,
        end_time: now,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

/// Spans named `names`.
pub(crate) fn spans(names: &[&'static str]) -> Vec<SpanData> {
    names.iter().map(|name| span(name)).collect()
}

/// Waits until `done` holds; `false` after `limit`.
pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}
