//! [`Exporter`]: where spans go (OTLP over HTTP or gRPC, stdout, the console waterfall,
//! memory), as a recipe that starts an export hub around a fresh exporter.

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SpanExporter;

use crate::console::ConsoleExporter;
use crate::hub::Hub;
use crate::memory::{MemoryExporter, NoopExporter, SpanStore};
use crate::stats::Stats;
use crate::{BatchConfig, TelemetryError};

type SpawnHub =
    dyn Fn(&str, BatchConfig, Arc<Stats>) -> Result<Arc<Hub>, TelemetryError> + Send + Sync;

/// The OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// HTTP with protobuf bodies (port 4318). The default.
    #[default]
    HttpProtobuf,
    /// gRPC (port 4317).
    Grpc,
}

impl OtlpProtocol {
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else HTTP.
    pub fn from_env() -> Self {
        let value = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_default();
        if value.trim().eq_ignore_ascii_case("grpc") {
            OtlpProtocol::Grpc
        } else {
            OtlpProtocol::HttpProtobuf
        }
    }
}

/// Where spans are exported. Each export hub (one per system, or one per actor in
/// [`PipelineMode::PerActorExporter`](crate::PipelineMode)) builds its own exporter from this.
#[derive(Clone)]
pub struct Exporter {
    kind: String,
    spawn: Arc<SpawnHub>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("kind", &self.kind)
            .finish()
    }
}

impl Exporter {
    /// Any SDK exporter: `make` builds one on the hub's thread, inside its tokio runtime.
    pub fn custom<E, F>(kind: impl Into<String>, make: F) -> Self
    where
        E: SpanExporter + 'static,
        F: Fn() -> Result<E, TelemetryError> + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        Exporter {
            kind: kind.into(),
            spawn: Arc::new(move |name, config, stats| {
                let make = make.clone();
                Hub::spawn(name, Box::new(move || make()), config, stats)
            }),
        }
    }

    /// What this exporter is ("otlp-http", "console", …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub(crate) fn spawn_hub(
        &self,
        name: &str,
        config: BatchConfig,
        stats: Arc<Stats>,
    ) -> Result<Arc<Hub>, TelemetryError> {
        (self.spawn)(name, config, stats)
    }

    /// The standard choice from the environment: `OTEL_TRACES_EXPORTER` (`otlp`, `console`,
    /// `stdout`, `none`); when unset, OTLP if `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
    /// variant) is set, otherwise the console waterfall.
    pub fn from_env() -> Self {
        let chosen = std::env::var("OTEL_TRACES_EXPORTER")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let endpoint_set = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        match chosen.trim() {
            "otlp" => Exporter::otlp(OtlpProtocol::from_env(), None),
            "console" => Exporter::console(),
            "stdout" => Exporter::stdout(),
            "none" => Exporter::noop(),
            _ if endpoint_set => Exporter::otlp(OtlpProtocol::from_env(), None),
            _ => Exporter::console(),
        }
    }

    /// OTLP over `protocol`. `endpoint` is the collector's base URL (as in
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; `/v1/traces` is added for HTTP); `None` takes the
    /// standard `OTEL_EXPORTER_OTLP_*` variables, then the default local collector.
    pub fn otlp(protocol: OtlpProtocol, endpoint: Option<String>) -> Self {
        match protocol {
            OtlpProtocol::HttpProtobuf => Exporter::custom("otlp-http", move || {
                let mut builder = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
                if let Some(base) = &endpoint {
                    builder = builder.with_endpoint(http_traces_url(base));
                }
                builder
                    .build()
                    .map_err(|e| TelemetryError::Exporter(e.to_string()))
            }),
            OtlpProtocol::Grpc => Exporter::custom("otlp-grpc", move || {
                let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
                if let Some(base) = &endpoint {
                    builder = builder.with_endpoint(base.clone());
                }
                builder
                    .build()
                    .map_err(|e| TelemetryError::Exporter(e.to_string()))
            }),
        }
    }

    /// The `opentelemetry-stdout` exporter: every span as text on standard output.
    pub fn stdout() -> Self {
        Exporter::custom("stdout", || {
            Ok(opentelemetry_stdout::SpanExporter::default())
        })
    }

    /// The console waterfall on standard output: each trace printed when complete.
    pub fn console() -> Self {
        Exporter::custom("console", || Ok(ConsoleExporter::stdout()))
    }

    /// The console waterfall written to `out` (a file, a buffer in a test).
    pub fn console_to(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        Exporter::custom("console", move || {
            Ok(ConsoleExporter::to_writer(out.clone()))
        })
    }

    /// Into `store`, kept through shutdown: for tests.
    pub fn memory(store: &SpanStore) -> Self {
        let store = store.clone();
        Exporter::custom("memory", move || Ok(MemoryExporter::new(store.clone())))
    }

    /// Accepts and discards everything: measures the pipeline without any I/O.
    pub fn noop() -> Self {
        Exporter::custom("none", || Ok(NoopExporter))
    }
}

/// The traces URL for an OTLP/HTTP base endpoint.
fn http_traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}
