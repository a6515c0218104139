//! Counters of what the pipelines did with spans (ended, exported, dropped and why), log
//! records and metric collections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Live counters shared by the processors and export hubs of one [`Telemetry`](crate::Telemetry).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Spread over slots: every thread that ends a span counts it, often one per message.
    pub(crate) ended: SpreadCounter,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_after_shutdown: AtomicU64,
    pub(crate) failed_export: AtomicU64,
    pub(crate) export_errors: AtomicU64,
    pub(crate) flushes_timed_out: AtomicU64,
    pub(crate) flushes_skipped: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) flush_log: Mutex<Vec<String>>,
    pub(crate) logs_emitted: AtomicU64,
    pub(crate) logs_exported: AtomicU64,
    pub(crate) logs_dropped: AtomicU64,
    pub(crate) logs_failed: AtomicU64,
    pub(crate) metric_exports: AtomicU64,
    pub(crate) metric_exports_failed: AtomicU64,
    pub(crate) spans_queued: AtomicU64,
    pub(crate) logs_queued: AtomicU64,
    pub(crate) metrics_queued: AtomicU64,
}

/// A counter that many threads add to at once without sharing a cache line: each thread
/// adds to its own slot (given round-robin on its first add), and a read sums the slots.
#[derive(Debug, Default)]
pub(crate) struct SpreadCounter([Slot; SpreadCounter::SLOTS]);

/// One cache-line-aligned slot of a [`SpreadCounter`].
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl SpreadCounter {
    const SLOTS: usize = 8;

    /// Adds one on behalf of the calling thread.
    #[inline]
    pub(crate) fn add_one(&self) {
        self.0[this_threads_slot()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The total so far.
    pub(crate) fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The calling thread's slot of every [`SpreadCounter`]: given round-robin on first use.
/// A `const` thread-local without a destructor, so it answers even while the thread's other
/// thread-locals are being destroyed (a span can end then).
fn this_threads_slot() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SLOT.with(|slot| {
        if slot.get() == usize::MAX {
            slot.set(NEXT.fetch_add(1, Ordering::Relaxed) % SpreadCounter::SLOTS);
        }
        slot.get()
    })
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: usize) {
        counter.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Records a failed export of `spans` spans.
    pub(crate) fn record_error(&self, spans: usize, error: String) {
        self.record_failure(&self.failed_export, spans, error);
    }

    /// Records a failed export of `n` items (spans, log records, metric collections),
    /// counted in `counter`.
    pub(crate) fn record_failure(&self, counter: &AtomicU64, n: usize, error: String) {
        Stats::add(counter, n);
        self.export_errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    pub(crate) fn snapshot(&self) -> TelemetryStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TelemetryStats {
            spans_ended: self.ended.sum(),
            spans_exported: get(&self.exported),
            spans_dropped_queue_full: get(&self.dropped_queue_full),
            spans_dropped_after_shutdown: get(&self.dropped_after_shutdown),
            spans_failed_export: get(&self.failed_export),
            export_errors: get(&self.export_errors),
            flushes_timed_out: get(&self.flushes_timed_out),
            flushes_skipped: get(&self.flushes_skipped),
            logs_emitted: get(&self.logs_emitted),
            logs_exported: get(&self.logs_exported),
            logs_dropped: get(&self.logs_dropped),
            logs_failed_export: get(&self.logs_failed),
            metric_exports: get(&self.metric_exports),
            metric_exports_failed: get(&self.metric_exports_failed),
            spans_queued: get(&self.spans_queued),
            logs_queued: get(&self.logs_queued),
            metric_exports_queued: get(&self.metrics_queued),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            flush_order: self
                .flush_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// A snapshot of what the telemetry pipelines did. Every ended span is either exported,
/// dropped for a counted reason, or still queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Spans that ended and entered a pipeline.
    pub spans_ended: u64,
    /// Spans the exporter accepted.
    pub spans_exported: u64,
    /// Spans dropped because the export queue was full (collector down or slow).
    pub spans_dropped_queue_full: u64,
    /// Spans that ended after their pipeline was shut down.
    pub spans_dropped_after_shutdown: u64,
    /// Spans in batches the exporter rejected or that timed out.
    pub spans_failed_export: u64,
    /// Failed export calls.
    pub export_errors: u64,
    /// Flushes that waited the whole flush timeout (the exporter was stuck).
    pub flushes_timed_out: u64,
    /// Flushes that did not wait because an earlier one timed out and the export thread had
    /// not caught up since: a stuck collector costs shutdown one flush timeout, not one per actor.
    pub flushes_skipped: u64,
    /// Log records emitted into a pipeline.
    pub logs_emitted: u64,
    /// Log records the exporter accepted.
    pub logs_exported: u64,
    /// Log records dropped: the queue was full or the pipeline was shut down.
    pub logs_dropped: u64,
    /// Log records in batches the exporter rejected or that timed out.
    pub logs_failed_export: u64,
    /// Metric collections the exporter accepted (one per pipeline per interval, and each
    /// pipeline's last at its shutdown).
    pub metric_exports: u64,
    /// Metric collections the exporter rejected or that could not be queued.
    pub metric_exports_failed: u64,
    /// Spans handed to an export thread and not exported yet (a stuck collector at
    /// shutdown leaves them there): ended = exported + lost + queued, once buffers are drained.
    pub spans_queued: u64,
    /// Log records handed to an export thread and not exported yet.
    pub logs_queued: u64,
    /// Metric collections handed to an export thread and not exported yet.
    pub metric_exports_queued: u64,
    /// The last export error (any signal).
    pub last_error: Option<String>,
    /// Pipelines in the order they were flushed at shutdown (actor names, then `system`).
    pub flush_order: Vec<String>,
}

impl TelemetryStats {
    /// Spans lost for any reason.
    pub fn spans_lost(&self) -> u64 {
        self.spans_dropped_queue_full + self.spans_dropped_after_shutdown + self.spans_failed_export
    }
}

#[cfg(test)]
mod tests {
    use super::SpreadCounter;

    #[test]
    fn a_spread_counter_sums_what_every_thread_added() {
        let counter = SpreadCounter::default();
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        counter.add_one();
                    }
                });
            }
        });
        assert_eq!(counter.sum(), 12_000);
    }
}
