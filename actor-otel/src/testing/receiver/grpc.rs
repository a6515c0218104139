//! OTLP/gRPC with tonic: `TraceService`, `MetricsService` and `LogsService` on one server.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::store::{Export, State};

#[derive(Clone)]
struct Grpc(Arc<State>);

impl Grpc {
    /// Has the state receive the request: its response, or `UNAVAILABLE` when refused.
    async fn answer<R: Export>(
        &self,
        request: tonic::Request<R>,
    ) -> Result<tonic::Response<R::Response>, tonic::Status> {
        if self.0.receive(request.into_inner()).await {
            Ok(tonic::Response::new(R::Response::default()))
        } else {
            Err(tonic::Status::unavailable(
                "the test receiver refuses exports",
            ))
        }
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.answer(request).await
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.answer(request).await
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.answer(request).await
    }
}

pub(super) async fn serve_grpc(
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
    let grpc = Grpc(state);
    let _ = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(grpc.clone()))
        .add_service(MetricsServiceServer::new(grpc.clone()))
        .add_service(LogsServiceServer::new(grpc))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stop.await;
        })
        .await;
}
