//! OTLP: the choice of wire protocol ([`OtlpProtocol`]) and the exporters of the two
//! transports, each compiled only with its feature (`otlp-http`, `otlp-grpc`).

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use opentelemetry_otlp::WithExportConfig;

#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
use crate::error::TelemetryError;

/// The OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// HTTP with protobuf bodies (port 4318). The default; needs the `otlp-http` feature
    /// (on by default).
    #[default]
    HttpProtobuf,
    /// gRPC (port 4317); needs the `otlp-grpc` feature.
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

/// Builds the OTLP/HTTP (protobuf) exporter `$exporter` of `$signal` to the base URL `$base`,
/// or where the `OTEL_EXPORTER_OTLP_*` variables say when `None`.
#[cfg(feature = "otlp-http")]
macro_rules! http_exporter {
    ($exporter:ty, $base:expr, $signal:literal) => {{
        let mut builder = <$exporter>::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
        if let Some(base) = $base {
            builder = builder.with_endpoint(signal_url(base, $signal));
        }
        builder
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }};
}

/// Builds the OTLP/gRPC exporter `$exporter` to `$base`, or where the `OTEL_EXPORTER_OTLP_*`
/// variables say when `None`.
#[cfg(feature = "otlp-grpc")]
macro_rules! grpc_exporter {
    ($exporter:ty, $base:expr) => {{
        let mut builder = <$exporter>::builder().with_tonic();
        if let Some(base) = $base {
            builder = builder.with_endpoint(base.to_owned());
        }
        builder
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }};
}

/// The traces URL for the base URL `base` (`None`: where the `OTEL_EXPORTER_OTLP_*`
/// variables say, read by opentelemetry-otlp).
#[cfg(feature = "otlp-http")]
pub(crate) fn traces_url(base: Option<&str>) -> Option<String> {
    base.map(|base| signal_url(base, "traces"))
}

/// An OTLP/HTTP (protobuf) metric exporter, like [`http_exporter`].
#[cfg(feature = "otlp-http")]
pub(crate) fn http_metric_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    http_exporter!(opentelemetry_otlp::MetricExporter, base, "metrics")
}

/// An OTLP/HTTP (protobuf) log exporter, like [`http_exporter`].
#[cfg(feature = "otlp-http")]
pub(crate) fn http_log_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::LogExporter, TelemetryError> {
    http_exporter!(opentelemetry_otlp::LogExporter, base, "logs")
}

/// An OTLP/gRPC span exporter to `base`, or where the `OTEL_EXPORTER_OTLP_*` variables say
/// when `None` (tonic needs the hub's runtime).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    grpc_exporter!(opentelemetry_otlp::SpanExporter, base)
}

/// An OTLP/gRPC metric exporter, like [`grpc_exporter`].
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_metric_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    grpc_exporter!(opentelemetry_otlp::MetricExporter, base)
}

/// An OTLP/gRPC log exporter, like [`grpc_exporter`].
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_log_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::LogExporter, TelemetryError> {
    grpc_exporter!(opentelemetry_otlp::LogExporter, base)
}

/// The URL of `signal` (`traces`, `metrics`, `logs`) for an OTLP/HTTP base endpoint (a
/// traces URL given as the base is taken back to its base).
#[cfg(feature = "otlp-http")]
fn signal_url(base: &str, signal: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1/traces").unwrap_or(base);
    format!("{base}/v1/{signal}")
}
