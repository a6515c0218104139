//! A real OTLP receiver for tests, on loopback: HTTP/protobuf (hyper) or gRPC (tonic),
//! decoding `opentelemetry-proto`. It counts connections and requests and can be told to
//! fail or stall, to test what happens when the collector is down or slow.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// How the receiver answers exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Accept and store every span.
    #[default]
    Accept,
    /// Refuse every export (HTTP 503, gRPC `UNAVAILABLE`); nothing is stored.
    Fail,
    /// Wait this long before accepting.
    Stall(Duration),
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
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(text)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

#[derive(Default)]
struct State {
    spans: Mutex<Vec<ReceivedSpan>>,
    connections: AtomicUsize,
    requests: AtomicUsize,
    behaviour: Mutex<Behaviour>,
}

impl State {
    fn behaviour(&self) -> Behaviour {
        *self.behaviour.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the behaviour; stores the request's spans when accepted.
    async fn receive(&self, request: ExportTraceServiceRequest) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match self.behaviour() {
            Behaviour::Fail => return false,
            Behaviour::Stall(d) => tokio::time::sleep(d).await,
            Behaviour::Accept => {}
        }
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        for rs in request.resource_spans {
            let resource: HashMap<String, String> = rs
                .resource
                .map(|r| {
                    r.attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(kv)))
                        .collect()
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                let scope = ss.scope.map(|s| s.name).unwrap_or_default();
                spans.extend(ss.spans.into_iter().map(|span| ReceivedSpan {
                    span,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }));
            }
        }
        true
    }
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
    /// Starts an OTLP/HTTP (protobuf) receiver on a free loopback port.
    pub fn http() -> std::io::Result<Self> {
        OtlpReceiver::start(|listener, state, stop| Box::pin(serve_http(listener, state, stop)))
    }

    /// Starts an OTLP/gRPC receiver on a free loopback port.
    pub fn grpc() -> std::io::Result<Self> {
        OtlpReceiver::start(|listener, state, stop| Box::pin(serve_grpc(listener, state, stop)))
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

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state
            .spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Export requests received so far (accepted or not).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Changes how exports are answered from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self
            .state
            .behaviour
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = behaviour;
    }

    /// Waits until at least `count` spans arrived; `false` after `limit`.
    pub fn wait_for(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.spans().len() < count {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
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

async fn serve_http(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        state.connections.fetch_add(1, Ordering::Relaxed);
        let state = state.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer_http(&state, req).await) }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn answer_http(
    state: &State,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    use http_body_util::BodyExt;
    let status = match req.into_body().collect().await {
        Err(_) => 400,
        Ok(body) => match ExportTraceServiceRequest::decode(body.to_bytes()) {
            Err(_) => 400,
            Ok(request) => {
                if state.receive(request).await {
                    200
                } else {
                    503
                }
            }
        },
    };
    let bytes = if status == 200 {
        ExportTraceServiceResponse::default().encode_to_vec()
    } else {
        Vec::new()
    };
    let mut response =
        hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(bytes)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

struct Grpc(Arc<State>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.0.receive(request.into_inner()).await {
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        } else {
            Err(tonic::Status::unavailable(
                "the test receiver refuses exports",
            ))
        }
    }
}

async fn serve_grpc(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    use tokio_stream::StreamExt;
    let counted = state.clone();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(move |conn| {
        counted.connections.fetch_add(1, Ordering::Relaxed);
        conn
    });
    let _ = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Grpc(state)))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stop.await;
        })
        .await;
}
