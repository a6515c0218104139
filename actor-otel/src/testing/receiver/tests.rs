//! The receiver against opentelemetry-otlp's own metric and log exporters, over HTTP and
//! gRPC: what they sent is what it decoded.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;

use super::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";
const SHORT: Duration = Duration::from_secs(5);

/// An SDK exporter whose exports run on a tokio runtime: the SDK's reader and batch threads
/// poll them with a plain executor, and reqwest's async client panics outside tokio ("no
/// reactor running"); tonic's channel would do (its worker runs where it was built), but
/// both transports go the same way here.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: E,
    runtime: tokio::runtime::Handle,
}

impl<E: PushMetricExporter> PushMetricExporter for OnRuntime<E> {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.runtime.block_on(self.inner.export(metrics)))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

impl<E: LogExporter> LogExporter for OnRuntime<E> {
    fn export(
        &self,
        batch: LogBatch<'_>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.runtime.block_on(self.inner.export(batch)))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("receiver-test")
        .build()
}

/// A receiver and an OTLP metric exporter to it (built on `runtime`; tonic needs one).
fn metric_exporter(
    grpc: bool,
    runtime: &tokio::runtime::Runtime,
) -> (OtlpReceiver, OnRuntime<opentelemetry_otlp::MetricExporter>) {
    use opentelemetry_otlp::WithExportConfig as _;
    let _in_runtime = runtime.enter();
    let (receiver, exporter) = if grpc {
        let receiver = OtlpReceiver::grpc().unwrap();
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.endpoint())
            .build();
        (receiver, exporter)
    } else {
        let receiver = OtlpReceiver::http().unwrap();
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(receiver.signal_endpoint(Signal::Metrics))
            .build();
        (receiver, exporter)
    };
    let inner = exporter.unwrap();
    let runtime = runtime.handle().clone();
    (receiver, OnRuntime { inner, runtime })
}

/// Two exports: a counter for actors `a` (3) and `b` (4); then `a` +2, a histogram of
/// 0.5, 5 and 50 (bounds 1, 10) and a gauge at 2.5, exported at shutdown.
fn export_metrics(grpc: bool) -> OtlpReceiver {
    let runtime = runtime();
    let (receiver, exporter) = metric_exporter(grpc, &runtime);
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3_600))
        .build();
    let provider = SdkMeterProvider::builder()
        .with_resource(resource())
        .with_reader(reader)
        .build();
    let meter = provider.meter("receiver-test-scope");
    let counter = meter.u64_counter("test.messages").build();
    counter.add(3, &[KeyValue::new("actor", "a")]);
    counter.add(4, &[KeyValue::new("actor", "b")]);
    provider.force_flush().unwrap();
    // One export so far: one connection, counted. (Whether the client reuses it for the
    // second export is reqwest's pool timing, not the receiver's to say.)
    assert_eq!(receiver.connections(), 1);
    counter.add(2, &[KeyValue::new("actor", "a")]);
    let histogram = meter
        .f64_histogram("test.duration")
        .with_boundaries(vec![1.0, 10.0])
        .build();
    for value in [0.5, 5.0, 50.0] {
        histogram.record(value, &[KeyValue::new("actor", "a")]);
    }
    meter.f64_gauge("test.queue").build().record(2.5, &[]);
    provider.shutdown().unwrap();
    receiver
}

fn check_metrics(receiver: &OtlpReceiver) {
    assert_eq!(receiver.requests_for(Signal::Metrics), 2);
    assert_eq!(receiver.requests_for(Signal::Traces), 0);
    assert_eq!(receiver.requests(), 2);
    assert!(receiver.spans().is_empty() && receiver.logs().is_empty());

    // Cumulative: both series in both exports, `a` at 3 then 5.
    let points = receiver.metric_points("test.messages");
    assert_eq!(points.len(), 4, "{points:?}");
    let a: Vec<_> = points
        .iter()
        .filter(|p| p.matches(&[("actor", "a")]))
        .collect();
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].as_u64(), a[1].as_u64()), (Some(3), Some(5)));
    assert!(a[0].time_unix_nano <= a[1].time_unix_nano);
    assert_eq!(a[0].start_time_unix_nano, a[1].start_time_unix_nano);

    let latest = receiver.latest("test.messages", &[("actor", "a")]);
    assert_eq!(latest.len(), 1);
    let a = &latest[0];
    assert_eq!(a.as_i64(), Some(5));
    assert_eq!(a.as_f64(), Some(5.0));
    assert_eq!(a.temporality, AggregationTemporality::Cumulative);
    assert_eq!(a.attribute("actor"), Some("a"));
    assert_eq!(a.resource["service.name"], "receiver-test");
    assert_eq!(a.scope, "receiver-test-scope");
    assert_eq!(receiver.latest("test.messages", &[]).len(), 2);
    assert_eq!(receiver.latest_total("test.messages", &[]), Some(9.0));
    // A resource attribute filters too.
    let service = [("service.name", "receiver-test")];
    assert_eq!(receiver.latest_total("test.messages", &service), Some(9.0));
    assert_eq!(
        receiver.latest_total("test.messages", &[("actor", "c")]),
        None
    );

    let histogram = receiver.latest("test.duration", &[("actor", "a")]);
    assert_eq!(histogram.len(), 1);
    let h = histogram[0].histogram().expect("a histogram point");
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, Some(55.5));
    assert_eq!(h.explicit_bounds, [1.0, 10.0]);
    assert_eq!(h.bucket_counts, [1, 1, 1]);
    assert_eq!((h.min, h.max), (Some(0.5), Some(50.0)));
    assert_eq!(histogram[0].as_f64(), None);
    assert_eq!(receiver.latest_total("test.duration", &[]), Some(3.0));

    let gauge = receiver.latest("test.queue", &[]);
    assert_eq!(gauge[0].value, PointValue::Double(2.5));
    assert_eq!(gauge[0].temporality, AggregationTemporality::Unspecified);

    let metrics = receiver.metrics();
    assert_eq!(
        metrics
            .iter()
            .filter(|m| m.name() == "test.messages")
            .count(),
        2
    );
    assert!(metrics.iter().all(|m| m.scope == "receiver-test-scope"));
    assert!(receiver.wait_for_metric("test.queue", |p| p.len() == 1, Duration::ZERO));
    assert!(!receiver.wait_for_metric("test.nothing", |p| !p.is_empty(), Duration::ZERO));
}

#[test]
fn metrics_over_http_are_decoded() {
    check_metrics(&export_metrics(false));
}

#[test]
fn metrics_over_grpc_are_decoded() {
    check_metrics(&export_metrics(true));
}

/// Two records in one batch: `hello` (warn, in a trace, with attributes and an event name),
/// then `bye` (info, outside any trace).
fn export_logs(grpc: bool) -> OtlpReceiver {
    use opentelemetry_otlp::WithExportConfig as _;
    let runtime = runtime();
    let (receiver, exporter) = {
        let _in_runtime = runtime.enter();
        if grpc {
            let receiver = OtlpReceiver::grpc().unwrap();
            let exporter = opentelemetry_otlp::LogExporter::builder()
                .with_tonic()
                .with_endpoint(receiver.endpoint())
                .build();
            (receiver, exporter)
        } else {
            let receiver = OtlpReceiver::http().unwrap();
            let exporter = opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_endpoint(receiver.signal_endpoint(Signal::Logs))
                .build();
            (receiver, exporter)
        }
    };
    let exporter = OnRuntime {
        inner: exporter.unwrap(),
        runtime: runtime.handle().clone(),
    };
    let provider = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_batch_exporter(exporter)
        .build();
    let logger = provider.logger("receiver-test-scope");
    let mut record = logger.create_log_record();
    record.set_body("hello".into());
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    record.set_event_name("test.event");
    record.add_attribute("actor", "a");
    record.add_attribute("count", 3_i64);
    record.set_trace_context(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from_hex(SPAN_ID).unwrap(),
        Some(TraceFlags::SAMPLED),
    );
    logger.emit(record);
    let mut record = logger.create_log_record();
    record.set_body("bye".into());
    record.set_severity_number(Severity::Info);
    logger.emit(record);
    provider.shutdown().unwrap();
    receiver
}

fn check_logs(receiver: &OtlpReceiver) {
    assert!(receiver.wait_for_logs(2, SHORT));
    assert!(!receiver.wait_for_logs(3, Duration::ZERO));
    assert_eq!(receiver.requests_for(Signal::Logs), 1);
    assert_eq!(receiver.requests(), 1);
    let logs = receiver.logs();
    assert_eq!(logs.len(), 2);
    let hello = logs.iter().find(|l| l.body() == "hello").unwrap();
    assert_eq!(hello.severity(), Some(Severity::Warn));
    assert_eq!(hello.severity_text(), "WARN");
    assert_eq!(hello.event_name(), "test.event");
    assert_eq!(hello.trace_id(), TRACE_ID);
    assert_eq!(hello.span_id(), SPAN_ID);
    assert_eq!(hello.attribute("actor").as_deref(), Some("a"));
    assert_eq!(hello.attribute("count").as_deref(), Some("3"));
    assert_eq!(hello.attribute("missing"), None);
    assert_eq!(hello.resource["service.name"], "receiver-test");
    assert_eq!(hello.scope, "receiver-test-scope");
    let bye = logs.iter().find(|l| l.body() == "bye").unwrap();
    assert_eq!(bye.severity(), Some(Severity::Info));
    assert_eq!(
        (bye.trace_id(), bye.span_id()),
        (String::new(), String::new())
    );
}

#[test]
fn logs_over_http_are_decoded() {
    check_logs(&export_logs(false));
}

#[test]
fn logs_over_grpc_are_decoded() {
    check_logs(&export_logs(true));
}

/// Metrics to a receiver that fails: counted, refused (the export says so), not stored;
/// then to one that stalls: stored after the stall.
fn refused_metrics(grpc: bool) {
    let runtime = runtime();
    let (receiver, exporter) = metric_exporter(grpc, &runtime);
    receiver.set_behaviour(Behaviour::Fail);
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).build())
        .build();
    provider
        .meter("m")
        .u64_counter("refused")
        .build()
        .add(1, &[]);
    assert!(provider.force_flush().is_err());
    // Each try counts (the exporter retries a refused export by default).
    let refused = receiver.requests_for(Signal::Metrics);
    assert!(refused >= 1);
    assert!(receiver.metrics().is_empty());
    receiver.set_behaviour(Behaviour::Stall(Duration::from_millis(50)));
    provider.shutdown().unwrap();
    assert_eq!(receiver.requests_for(Signal::Metrics), refused + 1);
    assert_eq!(receiver.latest_total("refused", &[]), Some(1.0));
}

#[test]
fn a_failing_receiver_refuses_metrics_over_http() {
    refused_metrics(false);
}

#[test]
fn a_failing_receiver_refuses_metrics_over_grpc() {
    refused_metrics(true);
}

/// Sends one raw HTTP/1.1 request; returns the status line.
fn raw_http(receiver: &OtlpReceiver, method: &str, path: &str) -> String {
    let addr = receiver.endpoint().trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn http_routes_by_signal_path() {
    let receiver = OtlpReceiver::http().unwrap();
    // An empty body is an empty export request of the path's signal.
    assert_eq!(raw_http(&receiver, "POST", "/v1/traces"), "HTTP/1.1 200 OK");
    assert_eq!(
        raw_http(&receiver, "POST", "/prefix/v1/logs"),
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        raw_http(&receiver, "POST", "/v1/profiles"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        raw_http(&receiver, "GET", "/v1/metrics"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    let by_signal: HashMap<_, _> = [Signal::Traces, Signal::Metrics, Signal::Logs]
        .into_iter()
        .map(|s| (s, receiver.requests_for(s)))
        .collect();
    assert_eq!(by_signal[&Signal::Traces], 1);
    assert_eq!(by_signal[&Signal::Metrics], 0);
    assert_eq!(by_signal[&Signal::Logs], 1);
    assert_eq!(receiver.connections(), 4);
}

#[test]
fn latest_keeps_the_newest_point_of_each_series_whatever_the_arrival_order() {
    let point = |actor: &str, time, value| MetricPoint {
        name: "m".into(),
        attributes: [("actor".to_owned(), actor.to_owned())].into(),
        resource: HashMap::new(),
        scope: String::new(),
        start_time_unix_nano: 1,
        time_unix_nano: time,
        temporality: AggregationTemporality::Cumulative,
        value: PointValue::Int(value),
    };
    let latest = metrics::latest([
        point("a", 20, 7),
        point("b", 10, 1),
        point("a", 10, 3),
        point("b", 30, 2),
        point("a", 20, 8),
    ]);
    let values: Vec<_> = latest.iter().map(|p| p.as_i64().unwrap()).collect();
    assert_eq!(
        values,
        [8, 2],
        "newest of a (the later of a tie), then of b"
    );
}
