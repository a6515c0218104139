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

/// An OTLP/HTTP (protobuf) exporter to the base URL `base`, or where the
/// `OTEL_EXPORTER_OTLP_*` variables say when `None`. Runs inside the hub's runtime.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = base {
        builder = builder.with_endpoint(http_traces_url(base));
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// An OTLP/gRPC exporter to `base`, or where the `OTEL_EXPORTER_OTLP_*` variables say when
/// `None`. Runs inside the hub's runtime (tonic needs one).
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(base) = base {
        builder = builder.with_endpoint(base.to_owned());
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// An OTLP/HTTP (protobuf) metric exporter, like [`http_exporter`].
#[cfg(feature = "otlp-http")]
pub(crate) fn http_metric_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = base {
        builder = builder.with_endpoint(signal_url(base, "metrics"));
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// An OTLP/HTTP (protobuf) log exporter, like [`http_exporter`].
#[cfg(feature = "otlp-http")]
pub(crate) fn http_log_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::LogExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = base {
        builder = builder.with_endpoint(signal_url(base, "logs"));
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// An OTLP/gRPC metric exporter, like [`grpc_exporter`].
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_metric_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::MetricExporter::builder().with_tonic();
    if let Some(base) = base {
        builder = builder.with_endpoint(base.to_owned());
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// An OTLP/gRPC log exporter, like [`grpc_exporter`].
#[cfg(feature = "otlp-grpc")]
pub(crate) fn grpc_log_exporter(
    base: Option<&str>,
) -> Result<opentelemetry_otlp::LogExporter, TelemetryError> {
    let mut builder = opentelemetry_otlp::LogExporter::builder().with_tonic();
    if let Some(base) = base {
        builder = builder.with_endpoint(base.to_owned());
    }
    builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))
}

/// The URL of `signal` (`metrics`, `logs`) for an OTLP/HTTP base endpoint.
#[cfg(feature = "otlp-http")]
fn signal_url(base: &str, signal: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1/traces").unwrap_or(base);
    format!("{base}/v1/{signal}")
}

/// The traces URL for an OTLP/HTTP base endpoint.
#[cfg(feature = "otlp-http")]
fn http_traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}
