//! [`Exporter`]: where spans, metrics and logs go (OTLP over HTTP or gRPC, stdout, the
//! console waterfall and summaries, memory for tests, nowhere), as a recipe that starts an
//! export hub around fresh exporters. [`signals`] holds the metric and log side.
//!
//! Each transport is compiled only with its Cargo feature (`otlp-http`, `otlp-grpc`,
//! `stdout`, `testing` for memory). A recipe for a transport that was not compiled in,
//! reached at run time through [`Exporter::otlp`] or [`Exporter::from_env`], starts no hub:
//! the telemetry's `build()` returns [`TelemetryError::Exporter`] naming the feature.

mod console;
#[cfg(all(feature = "testing", feature = "otlp-http"))]
mod encode_only;
mod noop;
pub(crate) mod otlp;
#[cfg(feature = "otlp-http")]
mod otlp_http;
mod signals;

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::logs::LogExporter;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanExporter;

use crate::config::BatchConfig;
use crate::error::TelemetryError;
use crate::exporter::console::ConsoleExporter;
use crate::exporter::noop::NoopExporter;
use crate::exporter::otlp::OtlpProtocol;
use crate::pipeline::hub::Hub;
use crate::pipeline::sinks::SinkRecipes;
use crate::pipeline::span_output::{SdkOutput, SpanOutput};
use crate::stats::Stats;
#[cfg(feature = "testing")]
use crate::testing::memory::{MemoryExporter, SpanStore};

type SpawnHub = dyn Fn(&str, BatchConfig, Arc<Stats>, SinkRecipes) -> Result<Arc<Hub>, TelemetryError>
    + Send
    + Sync;

/// Where spans, metrics and logs are exported. Each export hub (one per system, or one per
/// actor in [`PipelineMode::PerActorExporter`](crate::PipelineMode)) builds its own
/// exporters from this. A recipe without a metric (or log) exporter turns that signal off:
/// no meters are given to actors, no log records are kept.
#[derive(Clone)]
pub struct Exporter {
    kind: String,
    spawn: Arc<SpawnHub>,
    sinks: SinkRecipes,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("kind", &self.kind)
            .finish()
    }
}

impl Exporter {
    /// Any SDK span exporter: `make` builds one on the hub's thread, inside its tokio
    /// runtime. Spans only; add metrics and logs with [`with_metrics`](Exporter::with_metrics)
    /// and [`with_logs`](Exporter::with_logs).
    pub fn custom<E, F>(kind: impl Into<String>, make: F) -> Self
    where
        E: SpanExporter + 'static,
        F: Fn() -> Result<E, TelemetryError> + Send + Sync + 'static,
    {
        Exporter::output(kind, move || make().map(SdkOutput))
    }

    /// A recipe around the span sink `make` builds on the hub's thread.
    fn output<S, F>(kind: impl Into<String>, make: F) -> Self
    where
        S: SpanOutput,
        F: Fn() -> Result<S, TelemetryError> + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        Exporter {
            kind: kind.into(),
            spawn: Arc::new(move |name, config, stats, sinks| {
                let make = make.clone();
                Hub::spawn(name, Box::new(move || make()), sinks, config, stats)
            }),
            sinks: SinkRecipes::default(),
        }
    }

    /// Also exports metrics, through the SDK metric exporter `make` builds on the hub's
    /// thread (OTLP, Prometheus push, your own).
    pub fn with_metrics<E, F>(mut self, make: F) -> Self
    where
        E: PushMetricExporter,
        F: Fn() -> Result<E, TelemetryError> + Send + Sync + 'static,
    {
        self.sinks.metrics = Some(signals::metric_recipe(make));
        self
    }

    /// Also exports log records, through the SDK log exporter `make` builds on the hub's
    /// thread.
    pub fn with_logs<E, F>(mut self, make: F) -> Self
    where
        E: LogExporter + 'static,
        F: Fn() -> Result<E, TelemetryError> + Send + Sync + 'static,
    {
        self.sinks.logs = Some(signals::log_recipe(make));
        self
    }

    /// Without metrics (`OTEL_METRICS_EXPORTER=none`).
    pub fn without_metrics(mut self) -> Self {
        self.sinks.metrics = None;
        self
    }

    /// Without logs (`OTEL_LOGS_EXPORTER=none`).
    pub fn without_logs(mut self) -> Self {
        self.sinks.logs = None;
        self
    }

    /// Whether this recipe exports metrics.
    pub fn exports_metrics(&self) -> bool {
        self.sinks.metrics.is_some()
    }

    /// Whether this recipe exports log records.
    pub fn exports_logs(&self) -> bool {
        self.sinks.logs.is_some()
    }

    /// What this exporter is ("otlp-http", "console", …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Starts an export hub thread named `name` around a fresh exporter of this kind.
    pub(crate) fn spawn_hub(
        &self,
        name: &str,
        config: BatchConfig,
        stats: Arc<Stats>,
    ) -> Result<Arc<Hub>, TelemetryError> {
        (self.spawn)(name, config, stats, self.sinks.clone())
    }

    /// The standard choice from the environment: `OTEL_TRACES_EXPORTER` (`otlp`, `console`,
    /// `stdout`, `none`); when unset, OTLP if `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
    /// variant) is set, otherwise the console waterfall. Metrics and logs follow the same
    /// choice unless `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER` say otherwise (`none`
    /// turns a signal off). A choice whose transport was not compiled in (gRPC without
    /// `otlp-grpc`, `stdout` without `stdout`) fails at `build()`.
    pub fn from_env() -> Self {
        let env = |name: &str| std::env::var(name).unwrap_or_default();
        Exporter::from_env_traces()
            .signals_from_env(&env("OTEL_METRICS_EXPORTER"), &env("OTEL_LOGS_EXPORTER"))
    }

    /// Overrides the metric and log exporters by the values of `OTEL_METRICS_EXPORTER` and
    /// `OTEL_LOGS_EXPORTER` (empty: keep).
    pub(crate) fn signals_from_env(mut self, metrics: &str, logs: &str) -> Self {
        let protocol = OtlpProtocol::from_env();
        let pick = |value: &str| match value.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "otlp" => Some(Exporter::otlp(protocol, None).sinks),
            "console" => Some(Exporter::console().sinks),
            #[cfg(feature = "stdout")]
            "stdout" => Some(Exporter::stdout().sinks),
            _ => Some(SinkRecipes::default()),
        };
        if let Some(sinks) = pick(metrics) {
            self.sinks.metrics = sinks.metrics;
        }
        if let Some(sinks) = pick(logs) {
            self.sinks.logs = sinks.logs;
        }
        self
    }

    fn from_env_traces() -> Self {
        let chosen = std::env::var("OTEL_TRACES_EXPORTER").unwrap_or_default();
        let endpoint_set = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        Exporter::choose(&chosen, endpoint_set, OtlpProtocol::from_env())
    }

    /// What [`Exporter::from_env`] chooses, given `OTEL_TRACES_EXPORTER`, whether an OTLP
    /// endpoint is set, and the OTLP protocol the environment names.
    pub(crate) fn choose(
        traces_exporter: &str,
        endpoint_set: bool,
        protocol: OtlpProtocol,
    ) -> Self {
        match traces_exporter.trim().to_ascii_lowercase().as_str() {
            "otlp" => Exporter::otlp(protocol, None),
            "console" => Exporter::console(),
            #[cfg(feature = "stdout")]
            "stdout" => Exporter::stdout(),
            #[cfg(not(feature = "stdout"))]
            "stdout" => Exporter::unavailable(
                "stdout",
                "the stdout exporter (OTEL_TRACES_EXPORTER=stdout)",
                "stdout",
            ),
            "none" => Exporter::noop(),
            _ if endpoint_set => Exporter::otlp(protocol, None),
            _ => Exporter::console(),
        }
    }

    /// OTLP over `protocol`. `endpoint` is the collector's base URL (as in
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; `/v1/traces` is added for HTTP); `None` takes the
    /// standard `OTEL_EXPORTER_OTLP_*` variables, then the default local collector.
    ///
    /// HTTP needs the `otlp-http` feature (on by default), gRPC the `otlp-grpc` feature;
    /// without it, `build()` returns [`TelemetryError::Exporter`] saying so.
    pub fn otlp(protocol: OtlpProtocol, endpoint: Option<String>) -> Self {
        match protocol {
            #[cfg(feature = "otlp-http")]
            OtlpProtocol::HttpProtobuf => {
                let (metrics, logs) = (endpoint.clone(), endpoint.clone());
                Exporter::output("otlp-http", move || {
                    otlp_http::OtlpHttpOutput::new(otlp::traces_url(endpoint.as_deref()))
                })
                .with_metrics(move || otlp::http_metric_exporter(metrics.as_deref()))
                .with_logs(move || otlp::http_log_exporter(logs.as_deref()))
            }
            #[cfg(not(feature = "otlp-http"))]
            OtlpProtocol::HttpProtobuf => {
                let _ = endpoint;
                Exporter::unavailable("otlp-http", "OTLP over HTTP", "otlp-http")
            }
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                let (metrics, logs) = (endpoint.clone(), endpoint.clone());
                Exporter::custom("otlp-grpc", move || {
                    otlp::grpc_exporter(endpoint.as_deref())
                })
                .with_metrics(move || otlp::grpc_metric_exporter(metrics.as_deref()))
                .with_logs(move || otlp::grpc_log_exporter(logs.as_deref()))
            }
            #[cfg(not(feature = "otlp-grpc"))]
            OtlpProtocol::Grpc => {
                let _ = endpoint;
                Exporter::unavailable("otlp-grpc", "OTLP over gRPC", "otlp-grpc")
            }
        }
    }

    /// The `opentelemetry-stdout` exporter: every span as text on standard output. Needs
    /// the `stdout` feature.
    #[cfg(feature = "stdout")]
    pub fn stdout() -> Self {
        Exporter::custom("stdout", || {
            Ok(opentelemetry_stdout::SpanExporter::default())
        })
        .with_metrics(|| Ok(opentelemetry_stdout::MetricExporter::default()))
        .with_logs(|| Ok(opentelemetry_stdout::LogExporter::default()))
    }

    /// The console on standard output: each trace's waterfall printed when complete; at
    /// shutdown, the log records and a table of each actor's final metrics.
    pub fn console() -> Self {
        let out: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(std::io::stdout()));
        Exporter::console_to(out)
    }

    /// The console written to `out` (a file, a buffer in a test).
    pub fn console_to(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        let (metrics, logs) = (out.clone(), out.clone());
        Exporter::custom("console", move || {
            Ok(ConsoleExporter::to_writer(out.clone()))
        })
        .with_metrics(move || Ok(signals::ConsoleMetrics::new(metrics.clone())))
        .with_logs(move || Ok(signals::ConsoleLogs::new(logs.clone())))
    }

    /// Into `store`, kept through shutdown: for tests. Needs the `testing` feature.
    #[cfg(feature = "testing")]
    pub fn memory(store: &SpanStore) -> Self {
        let store = store.clone();
        Exporter::custom("memory", move || Ok(MemoryExporter::new(store.clone())))
    }

    /// Encodes spans as the OTLP/HTTP exporter does (records straight to protobuf, SDK spans
    /// through opentelemetry-proto) and discards the bytes; metrics and logs are discarded.
    /// The export thread's work for a real collector without the network: for benchmarks.
    /// Needs the `testing` and `otlp-http` features.
    #[cfg(all(feature = "testing", feature = "otlp-http"))]
    pub fn otlp_encode_only() -> Self {
        Exporter::output("otlp-encode-only", || Ok(encode_only::EncodeOnly::new()))
            .with_metrics(|| Ok(signals::Discard))
            .with_logs(|| Ok(signals::Discard))
    }

    /// Accepts and discards everything (spans, metrics, logs): measures the pipelines
    /// without any I/O. An SDK exporter: the framework's span records are built into
    /// `SpanData` for it, as for any SDK exporter.
    pub fn noop() -> Self {
        Exporter::custom("none", || Ok(NoopExporter))
            .with_metrics(|| Ok(signals::Discard))
            .with_logs(|| Ok(signals::Discard))
    }

    /// A recipe that starts no hub: `what` needs the Cargo feature `feature`, which this
    /// build of actor-otel lacks. Building a telemetry with it returns the error.
    #[cfg(not(all(feature = "otlp-http", feature = "otlp-grpc", feature = "stdout")))]
    fn unavailable(kind: &str, what: &str, feature: &str) -> Self {
        let message = format!(
            "{what}: actor-otel was built without the `{feature}` feature \
             (enable it on the actor-otel dependency in Cargo.toml)"
        );
        Exporter {
            kind: kind.to_owned(),
            spawn: Arc::new(move |_, _, _, _| Err(TelemetryError::Exporter(message.clone()))),
            sinks: SinkRecipes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Exporter;

    #[test]
    fn metrics_and_logs_follow_the_traces_choice_unless_their_variables_say_otherwise() {
        let traces = Exporter::console();
        assert!(traces.exports_metrics() && traces.exports_logs());
        let same = Exporter::console().signals_from_env("", "");
        assert!(same.exports_metrics() && same.exports_logs());
        let off = Exporter::console().signals_from_env("none", " NONE ");
        assert!(!off.exports_metrics() && !off.exports_logs());
        let metrics_only = Exporter::noop()
            .without_logs()
            .signals_from_env("console", "");
        assert!(metrics_only.exports_metrics() && !metrics_only.exports_logs());
        let custom = Exporter::custom("custom", || Ok(super::NoopExporter));
        assert!(
            !custom.exports_metrics() && !custom.exports_logs(),
            "spans only"
        );
    }
}
