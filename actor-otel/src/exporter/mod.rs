//! [`Exporter`]: where spans go (OTLP over HTTP or gRPC, stdout, the console waterfall,
//! memory for tests, nowhere), as a recipe that starts an export hub around a fresh exporter.
//!
//! Each transport is compiled only with its Cargo feature (`otlp-http`, `otlp-grpc`,
//! `stdout`, `testing` for memory). A recipe for a transport that was not compiled in,
//! reached at run time through [`Exporter::otlp`] or [`Exporter::from_env`], starts no hub:
//! the telemetry's `build()` returns [`TelemetryError::Exporter`] naming the feature.

mod console;
mod noop;
pub(crate) mod otlp;

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::trace::SpanExporter;

use crate::config::BatchConfig;
use crate::error::TelemetryError;
use crate::exporter::console::ConsoleExporter;
use crate::exporter::noop::NoopExporter;
use crate::exporter::otlp::OtlpProtocol;
use crate::pipeline::hub::Hub;
use crate::stats::Stats;
#[cfg(feature = "testing")]
use crate::testing::memory::{MemoryExporter, SpanStore};

type SpawnHub =
    dyn Fn(&str, BatchConfig, Arc<Stats>) -> Result<Arc<Hub>, TelemetryError> + Send + Sync;

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

    /// Starts an export hub thread named `name` around a fresh exporter of this kind.
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
    /// variant) is set, otherwise the console waterfall. A choice whose transport was not
    /// compiled in (gRPC without `otlp-grpc`, `stdout` without `stdout`) fails at `build()`.
    pub fn from_env() -> Self {
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
            OtlpProtocol::HttpProtobuf => Exporter::custom("otlp-http", move || {
                otlp::http_exporter(endpoint.as_deref())
            }),
            #[cfg(not(feature = "otlp-http"))]
            OtlpProtocol::HttpProtobuf => {
                let _ = endpoint;
                Exporter::unavailable("otlp-http", "OTLP over HTTP", "otlp-http")
            }
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => Exporter::custom("otlp-grpc", move || {
                otlp::grpc_exporter(endpoint.as_deref())
            }),
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

    /// Into `store`, kept through shutdown: for tests. Needs the `testing` feature.
    #[cfg(feature = "testing")]
    pub fn memory(store: &SpanStore) -> Self {
        let store = store.clone();
        Exporter::custom("memory", move || Ok(MemoryExporter::new(store.clone())))
    }

    /// Accepts and discards everything: measures the pipeline without any I/O.
    pub fn noop() -> Self {
        Exporter::custom("none", || Ok(NoopExporter))
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
            spawn: Arc::new(move |_, _, _| Err(TelemetryError::Exporter(message.clone()))),
        }
    }
}
