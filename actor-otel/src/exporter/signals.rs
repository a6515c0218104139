//! The metric and log exporters behind each [`Exporter`](crate::Exporter) recipe: OTLP,
//! stdout, the console summaries, nowhere.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::Resource;

use crate::attribute::ACTOR_NAME;
use crate::pipeline::sinks::{LogSink, MakeSink, MetricSink};

/// A recipe for a metric sink.
pub(crate) fn metric_recipe<E, F>(make: F) -> MakeSink<Box<dyn MetricSink>>
where
    E: PushMetricExporter,
    F: Fn() -> Result<E, crate::error::TelemetryError> + Send + Sync + 'static,
{
    Arc::new(move || make().map(|e| Box::new(e) as Box<dyn MetricSink>))
}

/// A recipe for a log sink.
pub(crate) fn log_recipe<E, F>(make: F) -> MakeSink<Box<dyn LogSink>>
where
    E: LogExporter + 'static,
    F: Fn() -> Result<E, crate::error::TelemetryError> + Send + Sync + 'static,
{
    Arc::new(move || make().map(|e| Box::new(e) as Box<dyn LogSink>))
}

/// Accepts and discards metrics and logs.
#[derive(Debug, Default)]
pub(crate) struct Discard;

impl PushMetricExporter for Discard {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

impl LogExporter for Discard {
    async fn export(&self, _batch: LogBatch<'_>) -> OTelSdkResult {
        Ok(())
    }
}

/// One pipeline's line in the console's metrics summary.
#[derive(Debug, Default, Clone)]
struct SummaryRow {
    pipeline: String,
    handled: u64,
    sent: u64,
    refused: u64,
    panics: u64,
    restarts: u64,
    /// Sampled handler time: total seconds and count.
    process: (f64, u64),
}

/// The console's metrics: the last values of each pipeline (actor), printed as one table
/// at shutdown, in the order the pipelines were last collected (the stop order).
pub(crate) struct ConsoleMetrics {
    out: Arc<Mutex<dyn Write + Send>>,
    rows: Mutex<Vec<SummaryRow>>,
}

impl ConsoleMetrics {
    pub(crate) fn new(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        ConsoleMetrics {
            out,
            rows: Mutex::new(Vec::new()),
        }
    }
}

fn pipeline_name(resource: &Resource) -> String {
    resource
        .get(&opentelemetry::Key::from_static_str(ACTOR_NAME))
        .map(|v| v.to_string())
        .unwrap_or_else(|| "system".into())
}

fn summarize(metrics: &ResourceMetrics) -> SummaryRow {
    let mut row = SummaryRow {
        pipeline: pipeline_name(metrics.resource()),
        ..SummaryRow::default()
    };
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            match (metric.name(), metric.data()) {
                (name, AggregatedMetrics::U64(MetricData::Sum(sum))) => {
                    for point in sum.data_points() {
                        let refused = point.attributes().any(|kv| kv.key.as_str() == "error.type");
                        match name {
                            "messaging.client.consumed.messages" => row.handled += point.value(),
                            "messaging.client.sent.messages" if refused => {
                                row.refused += point.value()
                            }
                            "messaging.client.sent.messages" => row.sent += point.value(),
                            "actor.panics" => row.panics += point.value(),
                            "actor.restarts" => row.restarts += point.value(),
                            _ => {}
                        }
                    }
                }
                (
                    "messaging.process.duration",
                    AggregatedMetrics::F64(MetricData::Histogram(h)),
                ) => {
                    for point in h.data_points() {
                        row.process.0 += point.sum();
                        row.process.1 += point.count();
                    }
                }
                _ => {}
            }
        }
    }
    row
}

impl PushMetricExporter for ConsoleMetrics {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let row = summarize(metrics);
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.retain(|r| r.pipeline != row.pipeline);
        rows.push(row);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let rows = std::mem::take(&mut *self.rows.lock().unwrap_or_else(|e| e.into_inner()));
        let actors: Vec<&SummaryRow> = rows.iter().filter(|r| r.pipeline != "system").collect();
        if actors.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "\nmetrics per actor (final values, stop order):\n  {:<24} {:>9} {:>9} {:>8} {:>6} {:>8} {:>14}",
            "actor", "handled", "sent", "refused", "panics", "restarts", "mean process*"
        );
        for r in actors {
            let mean = if r.process.1 > 0 {
                format!("{:.1} µs", r.process.0 / r.process.1 as f64 * 1e6)
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "  {:<24} {:>9} {:>9} {:>8} {:>6} {:>8} {:>14}",
                r.pipeline, r.handled, r.sent, r.refused, r.panics, r.restarts, mean
            );
        }
        let _ = writeln!(
            out,
            "  * handler time of the sampled messages (1 in 16 by default; `-`: none sampled)"
        );
        let _ = out.flush();
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// The console's logs: one line per record (with its pipeline and trace id), printed at
/// shutdown after the waterfall, at most [`ConsoleLogs::SHOWN`] of them.
pub(crate) struct ConsoleLogs {
    out: Arc<Mutex<dyn Write + Send>>,
    lines: Mutex<(Vec<String>, usize)>,
    pipeline: String,
}

impl std::fmt::Debug for ConsoleLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleLogs").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ConsoleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleMetrics").finish_non_exhaustive()
    }
}

impl ConsoleLogs {
    const SHOWN: usize = 40;

    pub(crate) fn new(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        ConsoleLogs {
            out,
            lines: Mutex::new((Vec::new(), 0)),
            pipeline: "system".into(),
        }
    }
}

fn body_text(body: Option<&AnyValue>) -> String {
    match body {
        Some(AnyValue::String(s)) => s.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

impl LogExporter for ConsoleLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        for (record, _scope) in batch.iter() {
            lines.1 += 1;
            if lines.0.len() >= Self::SHOWN {
                continue;
            }
            let trace = record
                .trace_context()
                .map(|t| format!(" trace={}", t.trace_id))
                .unwrap_or_default();
            lines.0.push(format!(
                "  {:<5} [{}] {}{}",
                record.severity_text().unwrap_or("-"),
                self.pipeline,
                body_text(record.body()),
                trace
            ));
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let (lines, total) =
            std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()));
        if total == 0 {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "\nlog records ({total}):");
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        if total > lines.len() {
            let _ = writeln!(out, "  … and {} more", total - lines.len());
        }
        let _ = out.flush();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.pipeline = pipeline_name(resource);
    }
}
