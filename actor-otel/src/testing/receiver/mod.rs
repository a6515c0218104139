//! A real OTLP receiver for tests, on loopback: HTTP/protobuf (hyper) or gRPC (tonic),
//! decoding `opentelemetry-proto`. One receiver takes all three signals on its port (HTTP:
//! `POST /v1/traces`, `/v1/metrics`, `/v1/logs`; gRPC: the trace, metrics and logs services)
//! and keeps what it decoded ([`ReceivedSpan`], [`ReceivedMetric`], [`ReceivedLog`]). It
//! counts connections and requests and can be told to fail or stall, to test what happens
//! when the collector is down or slow.

mod grpc;
mod http;
mod logs;
mod metrics;
mod store;
// They export with opentelemetry-otlp over both transports.
#[cfg(all(test, feature = "otlp-http", feature = "otlp-grpc"))]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use logs::ReceivedLog;
pub use metrics::{HistogramPoint, MetricPoint, PointValue, ReceivedMetric};
pub use store::{ReceivedSpan, Signal};

use store::{lock, State};

/// How the receiver answers exports, of every signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Accept and store everything.
    #[default]
    Accept,
    /// Refuse every export (HTTP 503, gRPC `UNAVAILABLE`); nothing is stored.
    Fail,
    /// Wait this long before accepting.
    Stall(Duration),
    /// Accept every export and keep nothing (each request is still decoded and counted): a
    /// collector for benchmarks, whose memory does not grow with the run.
    Discard,
}

/// A running OTLP receiver on `127.0.0.1`. Stops when dropped.
pub struct OtlpReceiver {
    endpoint: String,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl OtlpReceiver {
    /// Starts an OTLP/HTTP (protobuf) receiver on a free loopback port: `POST /v1/traces`,
    /// `/v1/metrics` and `/v1/logs` (after any path prefix).
    pub fn http() -> std::io::Result<Self> {
        OtlpReceiver::start(|listener, state, stop| {
            Box::pin(http::serve_http(listener, state, stop))
        })
    }

    /// Starts an OTLP/gRPC receiver on a free loopback port, serving the trace, metrics and
    /// logs services.
    pub fn grpc() -> std::io::Result<Self> {
        OtlpReceiver::start(|listener, state, stop| {
            Box::pin(grpc::serve_grpc(listener, state, stop))
        })
    }

    fn start(
        serve: impl FnOnce(
                tokio::net::TcpListener,
                Arc<State>,
                tokio::sync::oneshot::Receiver<()>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            + Send
            + 'static,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-receiver")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr: SocketAddr = listener.local_addr()?;
        let listener = {
            let _in_runtime = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let state = Arc::new(State::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                runtime.block_on(serve(listener, served, stop_rx));
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(OtlpReceiver {
            endpoint: format!("http://{addr}"),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The base URL to export to (as in `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The URL of one signal over OTLP/HTTP: the endpoint and the signal's path, as an HTTP
    /// exporter's `with_endpoint` or `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` take it.
    pub fn signal_endpoint(&self, signal: Signal) -> String {
        format!("{}{}", self.endpoint, signal.path())
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.state.spans).clone()
    }

    /// Every metric received so far, one per export of it: a cumulative series exported
    /// three times is here three times (see [`latest`](Self::latest)).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        lock(&self.state.metrics).clone()
    }

    /// Every data point of the metrics called `name` received so far, in the order they came.
    pub fn metric_points(&self, name: &str) -> Vec<MetricPoint> {
        lock(&self.state.metrics)
            .iter()
            .filter(|m| m.name() == name)
            .flat_map(ReceivedMetric::points)
            .collect()
    }

    /// The latest point (by `time_unix_nano`) of each series of the metric `name` whose
    /// attributes or resource match `filter` (see [`MetricPoint::matches`]); a series is a
    /// set of point attributes under one resource and scope. With cumulative temporality
    /// (the SDK's default) that is each series' final value; delta points would need
    /// [`metric_points`](Self::metric_points), summed.
    pub fn latest(&self, name: &str, filter: &[(&str, &str)]) -> Vec<MetricPoint> {
        let points = self.metric_points(name);
        metrics::latest(points.into_iter().filter(|p| p.matches(filter)))
    }

    /// The sum over the series of [`latest`](Self::latest) of their numbers (a histogram
    /// counts its `count`): for cumulative counters, the total so far of every matching
    /// series; `None` when no series matches.
    pub fn latest_total(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let latest = self.latest(name, filter);
        (!latest.is_empty()).then(|| {
            latest
                .iter()
                .map(|p| match &p.value {
                    PointValue::Histogram(h) => h.count as f64,
                    _ => p.as_f64().unwrap_or(0.0),
                })
                .sum()
        })
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        lock(&self.state.logs).clone()
    }

    /// TCP connections accepted so far (all signals share them).
    pub fn connections(&self) -> usize {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Export requests received so far (accepted or not), of every signal.
    pub fn requests(&self) -> usize {
        [Signal::Traces, Signal::Metrics, Signal::Logs]
            .into_iter()
            .map(|signal| self.state.requests(signal))
            .sum()
    }

    /// Export requests of one signal received so far (accepted or not).
    pub fn requests_for(&self, signal: Signal) -> usize {
        self.state.requests(signal)
    }

    /// Changes how exports (of every signal) are answered from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// Waits until at least `count` spans arrived; `false` after `limit`.
    pub fn wait_for(&self, count: usize, limit: Duration) -> bool {
        wait(limit, || self.spans().len() >= count)
    }

    /// Waits until at least `count` log records arrived; `false` after `limit`.
    pub fn wait_for_logs(&self, count: usize, limit: Duration) -> bool {
        wait(limit, || lock(&self.state.logs).len() >= count)
    }

    /// Waits until `ready` holds for the points of the metric `name` received so far (see
    /// [`metric_points`](Self::metric_points)); `false` after `limit`.
    pub fn wait_for_metric(
        &self,
        name: &str,
        ready: impl Fn(&[MetricPoint]) -> bool,
        limit: Duration,
    ) -> bool {
        wait(limit, || ready(&self.metric_points(name)))
    }
}

/// Polls `ready` every 5 ms until it holds (`true`) or `limit` passed (`false`).
fn wait(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
