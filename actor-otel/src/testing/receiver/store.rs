//! What the receiver keeps: the decoded spans, metrics and log records, the counters and the
//! [`Behaviour`]; each export request, whatever its transport, goes through [`State::receive`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::logs::ReceivedLog;
use super::metrics::ReceivedMetric;
use super::Behaviour;

/// The three OTLP signals, each with its own export service (gRPC) and path (HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans: `TraceService`, `POST /v1/traces`.
    Traces,
    /// Metrics: `MetricsService`, `POST /v1/metrics`.
    Metrics,
    /// Log records: `LogsService`, `POST /v1/logs`.
    Logs,
}

impl Signal {
    /// The signal an OTLP/HTTP request path is for (the standard paths, after any prefix).
    pub(super) fn from_path(path: &str) -> Option<Signal> {
        [Signal::Traces, Signal::Metrics, Signal::Logs]
            .into_iter()
            .find(|signal| path.ends_with(signal.path()))
    }

    /// The standard OTLP/HTTP path of the signal.
    pub(super) fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

/// One span as received over the wire, with its resource and scope.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The span, as decoded.
    pub span: Span,
    /// The resource attributes of its batch, as text.
    pub resource: HashMap<String, String>,
    /// The instrumentation scope name.
    pub scope: String,
}

impl ReceivedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// Trace id as lowercase hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Span id as lowercase hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Parent span id as lowercase hex (empty for a root).
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// A span attribute as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value as text: strings as they are, numbers and booleans printed, nothing as "".
pub(super) fn any_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        None => String::new(),
        Some(other) => format!("{other:?}"),
    }
}

/// Attributes as text, by key.
pub(super) fn attributes(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_text(kv.value.as_ref())))
        .collect()
}

/// One attribute as text.
pub(super) fn attribute(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .map(|kv| any_text(kv.value.as_ref()))
}

fn resource(resource: Option<Resource>) -> HashMap<String, String> {
    resource
        .map(|r| attributes(&r.attributes))
        .unwrap_or_default()
}

fn scope(scope: Option<InstrumentationScope>) -> String {
    scope.map(|s| s.name).unwrap_or_default()
}

/// An OTLP export request: its signal, its answer, and where its content goes.
pub(super) trait Export: prost::Message + Default + Send + 'static {
    /// The service's answer to an accepted export.
    type Response: prost::Message + Default;
    /// The signal it carries.
    const SIGNAL: Signal;
    /// Stores its content.
    fn store(self, state: &State);
}

impl Export for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    const SIGNAL: Signal = Signal::Traces;

    fn store(self, state: &State) {
        let mut spans = lock(&state.spans);
        for rs in self.resource_spans {
            let resource = resource(rs.resource);
            for ss in rs.scope_spans {
                let scope = scope(ss.scope);
                spans.extend(ss.spans.into_iter().map(|span| ReceivedSpan {
                    span,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }));
            }
        }
    }
}

impl Export for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;
    const SIGNAL: Signal = Signal::Metrics;

    fn store(self, state: &State) {
        let mut metrics = lock(&state.metrics);
        for rm in self.resource_metrics {
            let resource = resource(rm.resource);
            for sm in rm.scope_metrics {
                let scope = scope(sm.scope);
                metrics.extend(sm.metrics.into_iter().map(|metric| ReceivedMetric {
                    metric,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }));
            }
        }
    }
}

impl Export for ExportLogsServiceRequest {
    type Response = ExportLogsServiceResponse;
    const SIGNAL: Signal = Signal::Logs;

    fn store(self, state: &State) {
        let mut logs = lock(&state.logs);
        for rl in self.resource_logs {
            let resource = resource(rl.resource);
            for sl in rl.scope_logs {
                let scope = scope(sl.scope);
                logs.extend(sl.log_records.into_iter().map(|record| ReceivedLog {
                    record,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }));
            }
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
pub(super) struct State {
    pub(super) spans: Mutex<Vec<ReceivedSpan>>,
    pub(super) metrics: Mutex<Vec<ReceivedMetric>>,
    pub(super) logs: Mutex<Vec<ReceivedLog>>,
    pub(super) connections: AtomicUsize,
    /// Export requests by [`Signal`] (as index).
    requests: [AtomicUsize; 3],
    pub(super) behaviour: Mutex<Behaviour>,
}

impl State {
    pub(super) fn behaviour(&self) -> Behaviour {
        *lock(&self.behaviour)
    }

    /// Export requests of `signal` so far.
    pub(super) fn requests(&self, signal: Signal) -> usize {
        self.requests[signal as usize].load(Ordering::Relaxed)
    }

    /// Applies the behaviour; stores the request's content when accepted.
    pub(super) async fn receive<R: Export>(&self, request: R) -> bool {
        self.requests[R::SIGNAL as usize].fetch_add(1, Ordering::Relaxed);
        match self.behaviour() {
            Behaviour::Fail => return false,
            Behaviour::Stall(d) => tokio::time::sleep(d).await,
            Behaviour::Accept => {}
            Behaviour::Discard => return true,
        }
        request.store(self);
        true
    }
}
