//! OTLP/HTTP (protobuf) with hyper: `POST /v1/traces`, `/v1/metrics` and `/v1/logs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use super::store::{Export, Signal, State};

pub(super) async fn serve_http(
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
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
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

/// Routes by path: 404 for another path, 405 for another method.
async fn answer_http(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(signal) = Signal::from_path(req.uri().path()) else {
        return response(StatusCode::NOT_FOUND, Vec::new());
    };
    if req.method() != hyper::Method::POST {
        return response(StatusCode::METHOD_NOT_ALLOWED, Vec::new());
    }
    match signal {
        Signal::Traces => answer::<ExportTraceServiceRequest>(state, req).await,
        Signal::Metrics => answer::<ExportMetricsServiceRequest>(state, req).await,
        Signal::Logs => answer::<ExportLogsServiceRequest>(state, req).await,
    }
}

/// Decodes an `R` and has the state receive it: 200 with `R`'s response, 400 when it does
/// not decode, 503 when refused.
async fn answer<R: Export>(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let request = match req.into_body().collect().await {
        Err(_) => return response(StatusCode::BAD_REQUEST, Vec::new()),
        Ok(body) => match R::decode(body.to_bytes()) {
            Err(_) => return response(StatusCode::BAD_REQUEST, Vec::new()),
            Ok(request) => request,
        },
    };
    if state.receive(request).await {
        response(StatusCode::OK, R::Response::default().encode_to_vec())
    } else {
        response(StatusCode::SERVICE_UNAVAILABLE, Vec::new())
    }
}

fn response(status: StatusCode, bytes: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}
