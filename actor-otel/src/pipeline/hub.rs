//! The export hub: one thread with its own runtime and one exporter per signal, fed by the
//! span and log processors of many providers and collecting their meter providers' readers.
//! Exports never run on an actor's runtime, so a flush that blocks an actor thread cannot
//! deadlock on its own I/O. One command queue carries all three signals, so a flush waits
//! for the spans, logs and metrics handed over before it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::ManualReader;

use actor_core::trace::SpanRecord;

use crate::config::BatchConfig;
use crate::error::TelemetryError;
use crate::pipeline::buffer::Buffer;
use crate::pipeline::log_buffer::{LogBuffer, LogRecords};
use crate::pipeline::metrics::collect;
use crate::pipeline::sinks::{LogSink, MetricSink, SinkRecipes};
use crate::pipeline::span_output::SpanOutput;
use crate::stats::Stats;

enum Command {
    Register(Weak<Buffer>),
    Export {
        resource: Resource,
        batch: Vec<SpanData>,
    },
    ExportRecords {
        resource: Resource,
        records: Vec<SpanRecord>,
        /// Where the emptied batch goes back.
        from: Weak<Buffer>,
    },
    RegisterLogs(Weak<LogBuffer>),
    ExportLogs {
        resource: Resource,
        batch: LogRecords,
    },
    RegisterReader(Weak<ManualReader>),
    ExportMetrics(Box<ResourceMetrics>),
    Flush {
        label: String,
        ack: oneshot::Sender<()>,
    },
    Shutdown {
        ack: oneshot::Sender<()>,
    },
}

/// A running export hub: its command channel and its thread.
pub(crate) struct Hub {
    tx: mpsc::UnboundedSender<Command>,
    queued: Arc<AtomicUsize>,
    /// Set when a flush timed out, cleared when the hub gets through a flush again: while
    /// set, flushes do not wait, so N actors cannot make shutdown wait N flush timeouts.
    behind: Arc<AtomicBool>,
    stats: Arc<Stats>,
    config: BatchConfig,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Builds a span output on the hub's thread, inside its runtime.
pub(crate) type MakeExporter<E> = Box<dyn FnOnce() -> Result<E, TelemetryError> + Send>;

impl Hub {
    /// Starts a hub thread named `name` around the span output `make` builds there.
    pub(crate) fn spawn<E: SpanOutput>(
        name: &str,
        make: MakeExporter<E>,
        sinks: SinkRecipes,
        config: BatchConfig,
        stats: Arc<Stats>,
    ) -> Result<Arc<Hub>, TelemetryError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let behind = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = oneshot::channel();
        let worker = Worker {
            rx,
            queued: queued.clone(),
            behind: behind.clone(),
            stats: stats.clone(),
            config: config.clone(),
            buffers: Vec::new(),
            resource: None,
            metrics: None,
            logs: None,
            readers: Vec::new(),
            log_buffers: Vec::new(),
            log_resource: None,
        };
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || worker.run(make, sinks, ready_tx))
            .map_err(|e| TelemetryError::Exporter(format!("cannot start export thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Arc::new(Hub {
                tx,
                queued,
                behind,
                stats,
                config,
                thread: Mutex::new(Some(thread)),
            })),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(TelemetryError::Exporter(
                "export thread died at start".into(),
            )),
        }
    }

    /// Lets the hub drain `buffer` on its schedule.
    pub(crate) fn register(&self, buffer: Weak<Buffer>) {
        let _ = self.tx.send(Command::Register(buffer));
    }

    /// Queues a batch for export; drops it (counted) when the queue is full.
    pub(crate) fn export(&self, resource: Resource, batch: Vec<SpanData>) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let stats = &self.stats;
        self.enqueue(
            n,
            Command::Export { resource, batch },
            [&stats.dropped_queue_full, &stats.dropped_after_shutdown],
            &stats.spans_queued,
        );
    }

    /// Queues a batch of span records for export (built into spans on the hub's thread);
    /// drops it (counted) when the queue is full.
    pub(crate) fn export_records(
        &self,
        resource: Resource,
        records: Vec<SpanRecord>,
        from: Weak<Buffer>,
    ) {
        let n = records.len();
        if n == 0 {
            return;
        }
        let stats = &self.stats;
        self.enqueue(
            n,
            Command::ExportRecords {
                resource,
                records,
                from,
            },
            [&stats.dropped_queue_full, &stats.dropped_after_shutdown],
            &stats.spans_queued,
        );
    }

    /// Sends `command`, carrying `n` items, if the queue has room for them: counted in
    /// `queued` when sent, else in `dropped` (queue full, hub gone).
    fn enqueue(&self, n: usize, command: Command, dropped: [&AtomicU64; 2], queued: &AtomicU64) {
        let [full, gone] = dropped;
        let before = self.queued.fetch_add(n, Ordering::AcqRel);
        if before + n > self.config.max_queue_size {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            Stats::add(full, n);
        } else if self.tx.send(command).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            Stats::add(gone, n);
        } else {
            Stats::add(queued, n);
        }
    }

    /// Lets the hub drain a log processor's `buffer` on its schedule.
    pub(crate) fn register_logs(&self, buffer: Weak<LogBuffer>) {
        let _ = self.tx.send(Command::RegisterLogs(buffer));
    }

    /// Queues log records for export; drops them (counted) when the queue is full.
    pub(crate) fn export_logs(&self, resource: Resource, batch: LogRecords) {
        let stats = &self.stats;
        self.enqueue(
            batch.len(),
            Command::ExportLogs { resource, batch },
            [&stats.logs_dropped, &stats.logs_dropped],
            &stats.logs_queued,
        );
    }

    /// Lets the hub collect a meter provider's `reader` on its schedule.
    pub(crate) fn register_reader(&self, reader: Weak<ManualReader>) {
        let _ = self.tx.send(Command::RegisterReader(reader));
    }

    /// Queues one collection of metrics (a provider's last, at its teardown) for export.
    pub(crate) fn export_metrics(&self, metrics: ResourceMetrics) {
        if self
            .tx
            .send(Command::ExportMetrics(Box::new(metrics)))
            .is_err()
        {
            Stats::add(&self.stats.metric_exports_failed, 1);
        } else {
            Stats::add(&self.stats.metrics_queued, 1);
        }
    }

    /// Waits until everything queued before this call is exported (or the flush timeout).
    /// When an earlier flush timed out and the hub has not caught up since, it does not wait.
    pub(crate) fn flush(&self, label: &str) -> bool {
        let (ack, done) = oneshot::channel();
        let label = label.to_owned();
        if self.tx.send(Command::Flush { label, ack }).is_err() {
            return false;
        }
        if self.behind.load(Ordering::Acquire) {
            Stats::add(&self.stats.flushes_skipped, 1);
            return false;
        }
        let flushed = done.recv_timeout(self.config.flush_timeout).is_ok();
        if !flushed {
            self.behind.store(true, Ordering::Release);
            Stats::add(&self.stats.flushes_timed_out, 1);
        }
        flushed
    }

    /// Exports what is queued, shuts the exporter down and joins the thread.
    pub(crate) fn shutdown(&self) -> bool {
        let (ack, done) = oneshot::channel();
        let sent = self.tx.send(Command::Shutdown { ack }).is_ok();
        let acked = sent && done.recv_timeout(self.config.flush_timeout).is_ok();
        if acked {
            if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = thread.join();
            }
        }
        acked
    }
}

/// The hub thread's state.
struct Worker {
    rx: mpsc::UnboundedReceiver<Command>,
    queued: Arc<AtomicUsize>,
    behind: Arc<AtomicBool>,
    stats: Arc<Stats>,
    config: BatchConfig,
    buffers: Vec<Weak<Buffer>>,
    resource: Option<Resource>,
    metrics: Option<Box<dyn MetricSink>>,
    logs: Option<Box<dyn LogSink>>,
    readers: Vec<Weak<ManualReader>>,
    log_buffers: Vec<Weak<LogBuffer>>,
    log_resource: Option<Resource>,
}

impl Worker {
    fn run<E: SpanOutput>(
        mut self,
        make: MakeExporter<E>,
        sinks: SinkRecipes,
        ready: oneshot::Sender<Result<(), TelemetryError>>,
    ) {
        // What the exporters' own stacks (hyper, tonic, the SDK) log or trace on this thread
        // is not exported again: no feedback loop through a log bridge.
        let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(TelemetryError::Exporter(e.to_string())));
                return;
            }
        };
        let exporters = {
            let _in_runtime = runtime.enter();
            make().and_then(|spans| {
                let metrics = sinks.metrics.as_ref().map(|make| make()).transpose()?;
                let logs = sinks.logs.as_ref().map(|make| make()).transpose()?;
                Ok((spans, metrics, logs))
            })
        };
        let mut exporter = match exporters {
            Ok((spans, metrics, logs)) => {
                self.metrics = metrics;
                self.logs = logs;
                spans
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        runtime.block_on(async move {
            // The first tick one delay from now: nothing is buffered yet at the start.
            // A zero delay (`OTEL_BSP_SCHEDULE_DELAY=0`) means "as often as it can", not a
            // panic in tokio's interval: one millisecond.
            let delay = self.config.scheduled_delay.max(Duration::from_millis(1));
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + delay, delay);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let every = self.config.metric_interval.max(Duration::from_millis(1));
            let mut metric_tick =
                tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            metric_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let command = tokio::select! {
                    command = self.rx.recv() => command,
                    _ = tick.tick() => {
                        self.drain_buffers(&mut exporter).await;
                        continue;
                    }
                    _ = metric_tick.tick() => {
                        self.collect_readers().await;
                        continue;
                    }
                };
                match command {
                    Some(Command::Register(buffer)) => self.buffers.push(buffer),
                    Some(Command::RegisterLogs(buffer)) => self.log_buffers.push(buffer),
                    Some(Command::RegisterReader(reader)) => self.readers.push(reader),
                    Some(Command::ExportLogs { resource, batch }) => {
                        let n = batch.len();
                        self.export_logs(resource, batch).await;
                        self.queued.fetch_sub(n, Ordering::AcqRel);
                        Stats::sub(&self.stats.logs_queued, n);
                    }
                    Some(Command::ExportMetrics(metrics)) => {
                        self.export_metrics(&metrics).await;
                        Stats::sub(&self.stats.metrics_queued, 1);
                    }
                    Some(Command::Export { resource, batch }) => {
                        let n = batch.len();
                        self.export(&mut exporter, resource, batch).await;
                        self.queued.fetch_sub(n, Ordering::AcqRel);
                        Stats::sub(&self.stats.spans_queued, n);
                    }
                    Some(Command::ExportRecords {
                        resource,
                        mut records,
                        from,
                    }) => {
                        let n = records.len();
                        self.set_resource(&mut exporter, resource);
                        let prepared = exporter.prepare(&mut records);
                        if let Some(buffer) = from.upgrade() {
                            buffer.recycle(records);
                        }
                        self.export_prepared(&exporter, n, prepared).await;
                        self.queued.fetch_sub(n, Ordering::AcqRel);
                        Stats::sub(&self.stats.spans_queued, n);
                    }
                    Some(Command::Flush { label, ack }) => {
                        let _ = exporter.force_flush();
                        self.behind.store(false, Ordering::Release);
                        self.stats
                            .flush_log
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(label);
                        let _ = ack.send(());
                    }
                    Some(Command::Shutdown { ack }) => {
                        self.finish(&mut exporter).await;
                        let _ = ack.send(());
                        break;
                    }
                    None => {
                        // Every handle is gone and nobody shut the hub down: export what is
                        // still buffered rather than dropping it with the thread.
                        self.finish(&mut exporter).await;
                        break;
                    }
                }
            }
        });
    }

    /// Exports what is buffered and the readers' last values, then shuts the exporters down.
    async fn finish<E: SpanOutput>(&mut self, exporter: &mut E) {
        self.drain_buffers(exporter).await;
        self.collect_readers().await;
        let timeout = self.config.flush_timeout;
        let _ = exporter.shutdown_with_timeout(timeout);
        if let Some(metrics) = &self.metrics {
            let _ = metrics.shutdown(timeout);
        }
        if let Some(logs) = &self.logs {
            let _ = logs.shutdown(timeout);
        }
    }

    /// Collects every registered meter provider that still lives and exports the values.
    async fn collect_readers(&mut self) {
        self.readers.retain(|r| r.strong_count() > 0);
        let collected: Vec<ResourceMetrics> = self
            .readers
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|reader| collect(&reader))
            .collect();
        for metrics in collected {
            self.export_metrics(&metrics).await;
        }
    }

    async fn export_metrics(&mut self, metrics: &ResourceMetrics) {
        let Some(sink) = &self.metrics else {
            return;
        };
        let stats = &self.stats;
        let counters = [&stats.metric_exports, &stats.metric_exports_failed];
        account(
            &self.config,
            stats,
            "metric export",
            1,
            counters,
            sink.export(metrics),
        )
        .await;
    }

    async fn export_logs(&mut self, resource: Resource, batch: LogRecords) {
        let n = batch.len();
        let Some(sink) = &mut self.logs else {
            return;
        };
        if self.log_resource.as_ref() != Some(&resource) {
            sink.set_resource(&resource);
            self.log_resource = Some(resource);
        }
        let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            batch.iter().map(|(r, s)| (r, s)).collect();
        let stats = &self.stats;
        let counters = [&stats.logs_exported, &stats.logs_failed];
        account(
            &self.config,
            stats,
            "log export",
            n,
            counters,
            sink.export(LogBatch::new(&refs)),
        )
        .await;
    }

    /// Exports whatever the registered processors buffered since the last tick.
    async fn drain_buffers<E: SpanOutput>(&mut self, exporter: &mut E) {
        self.buffers.retain(|b| b.strong_count() > 0);
        let buffers: Vec<Arc<Buffer>> = self.buffers.iter().filter_map(Weak::upgrade).collect();
        for buffer in buffers {
            if let Some((resource, batch)) = buffer.take() {
                self.export(exporter, resource, batch).await;
            }
            if let Some((resource, mut records)) = buffer.take_records() {
                let n = records.len();
                self.set_resource(exporter, resource);
                let prepared = exporter.prepare(&mut records);
                buffer.recycle(records);
                self.export_prepared(exporter, n, prepared).await;
            }
        }
        self.log_buffers.retain(|b| b.strong_count() > 0);
        let buffers: Vec<Arc<LogBuffer>> =
            self.log_buffers.iter().filter_map(Weak::upgrade).collect();
        for buffer in buffers {
            if let Some((resource, batch)) = buffer.take() {
                self.export_logs(resource, batch).await;
            }
        }
    }

    /// Tells `exporter` the resource of the spans that follow, when it changed.
    fn set_resource<E: SpanOutput>(&mut self, exporter: &mut E, resource: Resource) {
        if self.resource.as_ref() != Some(&resource) {
            exporter.set_resource(&resource);
            self.resource = Some(resource);
        }
    }

    async fn export<E: SpanOutput>(
        &mut self,
        exporter: &mut E,
        resource: Resource,
        batch: Vec<SpanData>,
    ) {
        let n = batch.len();
        self.set_resource(exporter, resource);
        self.account_spans(n, exporter.export(batch)).await;
    }

    /// Exports `n` span records that `exporter` prepared.
    async fn export_prepared<E: SpanOutput>(&self, exporter: &E, n: usize, prepared: E::Prepared) {
        self.account_spans(n, exporter.export_prepared(prepared))
            .await;
    }

    /// Runs the export of `n` spans and counts how it ended.
    async fn account_spans(
        &self,
        n: usize,
        export: impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult>,
    ) {
        let stats = &self.stats;
        let counters = [&stats.exported, &stats.failed_export];
        account(&self.config, stats, "export", n, counters, export).await;
    }
}

/// Runs one export of `n` items under the export timeout and counts how it ended:
/// `exported` or `failed` (with the error, or "`what` timed out after …").
async fn account(
    config: &BatchConfig,
    stats: &Stats,
    what: &str,
    n: usize,
    [exported, failed]: [&AtomicU64; 2],
    export: impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult>,
) {
    match tokio::time::timeout(config.export_timeout, export).await {
        Ok(Ok(())) => Stats::add(exported, n),
        Ok(Err(e)) => stats.record_failure(failed, n, e.to_string()),
        Err(_) => stats.record_failure(
            failed,
            n,
            format!("{what} timed out after {:?}", config.export_timeout),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::config::BatchConfig;
    use crate::pipeline::buffer::Buffer;
    use crate::pipeline::test_exporter::{config, resource, span, spans, wait_until, Recorder};

    #[test]
    fn a_flush_waits_for_what_was_queued_before_it() {
        let recorder = Recorder::stalled();
        let (hub, stats) = recorder.spawn_hub(config());
        hub.export(resource(), spans(&["a", "b"]));
        hub.export(resource(), spans(&["c"]));
        let flusher = std::thread::spawn({
            let hub = hub.clone();
            move || hub.flush("flush")
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !flusher.is_finished(),
            "the flush returned while the batches queued before it were not exported"
        );
        recorder.release();
        assert!(flusher.join().unwrap(), "the flush timed out");
        assert_eq!(recorder.names(), ["a", "b", "c"]);
        let stats = stats.snapshot();
        assert_eq!(stats.spans_exported, 3);
        assert_eq!(stats.flush_order, ["flush"]);
        assert!(hub.shutdown());
    }

    #[test]
    fn a_zero_schedule_delay_still_exports_on_schedule() {
        let recorder = Recorder::open();
        let (hub, stats) = recorder.spawn_hub(BatchConfig {
            scheduled_delay: Duration::ZERO,
            ..config()
        });
        let buffer = Arc::new(Buffer::new());
        hub.register(Arc::downgrade(&buffer));
        buffer.push(span("scheduled"));
        assert!(
            wait_until(Duration::from_secs(10), || recorder.names()
                == ["scheduled"]),
            "the scheduled drain never came"
        );
        assert_eq!(stats.snapshot().spans_exported, 1);
        assert!(hub.shutdown());
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let recorder = Recorder::stalled();
        let (hub, stats) = recorder.spawn_hub(BatchConfig {
            max_queue_size: 4,
            ..config()
        });
        // The stalled exporter holds the first batch: its 3 spans stay queued.
        hub.export(resource(), spans(&["kept 1", "kept 2", "kept 3"]));
        hub.export(resource(), spans(&["over 1", "over 2"]));
        hub.export(resource(), spans(&["fits"]));
        assert_eq!(stats.snapshot().spans_dropped_queue_full, 2);
        recorder.release();
        assert!(hub.flush("flush"));
        assert_eq!(recorder.names(), ["kept 1", "kept 2", "kept 3", "fits"]);
        let stats = stats.snapshot();
        assert_eq!(stats.spans_exported, 4);
        assert_eq!(stats.spans_lost(), 2);
        assert!(hub.shutdown());
    }

    #[test]
    fn a_flush_that_times_out_marks_the_hub_behind_and_the_next_does_not_wait() {
        let timeout = Duration::from_millis(500);
        let recorder = Recorder::stalled();
        let (hub, stats) = recorder.spawn_hub(BatchConfig {
            flush_timeout: timeout,
            ..config()
        });
        hub.export(resource(), spans(&["stuck"]));

        let started = Instant::now();
        assert!(!hub.flush("first"));
        assert!(started.elapsed() >= timeout, "the first flush did not wait");
        assert_eq!(stats.snapshot().flushes_timed_out, 1);

        let started = Instant::now();
        assert!(!hub.flush("second"));
        assert!(
            started.elapsed() < timeout,
            "a flush waited while the hub was behind"
        );
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.flushes_timed_out, 1);
        assert_eq!(snapshot.flushes_skipped, 1);

        // Once the hub gets through the queued flushes, a flush waits again.
        recorder.release();
        assert!(wait_until(Duration::from_secs(10), || stats
            .snapshot()
            .flush_order
            .len()
            == 2));
        assert!(hub.flush("third"));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.flush_order, ["first", "second", "third"]);
        assert_eq!(snapshot.flushes_skipped, 1);
        assert_eq!(recorder.names(), ["stuck"]);
        assert!(hub.shutdown());
    }

    #[test]
    fn shutdown_drains_registered_buffers_and_joins_the_thread() {
        let recorder = Recorder::open();
        let (hub, stats) = recorder.spawn_hub(config());
        let buffer = Arc::new(Buffer::new());
        hub.register(Arc::downgrade(&buffer));
        buffer.push(span("held 1"));
        buffer.push(span("held 2"));
        // Nothing drains the buffer before the shutdown: no hand-over, no scheduled tick.
        assert!(recorder.names().is_empty());

        assert!(hub.shutdown());
        assert_eq!(recorder.names(), ["held 1", "held 2"]);
        assert!(buffer.take().is_none());
        assert!(recorder.was_shut_down());
        assert!(
            hub.thread.lock().unwrap().is_none(),
            "the hub thread was not joined"
        );

        // The thread is gone: later batches are refused and counted.
        hub.export(resource(), spans(&["late"]));
        let stats = stats.snapshot();
        assert_eq!(stats.spans_exported, 2);
        assert_eq!(stats.spans_dropped_after_shutdown, 1);
        assert_eq!(hub.queued.load(Ordering::Acquire), 0);
    }
}
