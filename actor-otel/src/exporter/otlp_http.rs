//! OTLP over HTTP (protobuf) for spans, with the framework's span records encoded straight
//! to protobuf ([`TraceRequest`](crate::wire::TraceRequest)) instead of through `SpanData`
//! and `opentelemetry-proto`'s generated messages.
//!
//! The transport stays opentelemetry-otlp's: its endpoint and header variables, retries,
//! timeout and partial-success handling. Records ride through it this way: the output asks
//! the opentelemetry-otlp exporter to export an empty batch while the request it encoded
//! waits in a [`Swap`]; the exporter's HTTP client ([`SwapClient`], reqwest underneath)
//! sends that request's bytes in place of the empty batch's, on every attempt. An export
//! whose request was never handed to the client is a failed export (counted), not a
//! silent loss. SDK spans (users' own) are exported by the same exporter as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;

use actor_core::trace::SpanRecord;

use crate::error::TelemetryError;
use crate::pipeline::span_output::{records_scope, SpanOutput};
use crate::wire::TraceRequest;

/// The encoded request of the export in progress, and whether the client sent it.
#[derive(Debug, Default)]
struct Swap {
    body: Mutex<Option<Bytes>>,
    sent: AtomicBool,
}

impl Swap {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Bytes>> {
        self.body.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The exporter's HTTP client: reqwest, sending the waiting request's bytes when there is
/// one.
#[derive(Debug)]
struct SwapClient {
    inner: reqwest::Client,
    swap: Arc<Swap>,
}

#[async_trait::async_trait]
impl HttpClient for SwapClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let waiting = self.swap.lock().clone();
        if let Some(body) = waiting {
            let headers = request.headers();
            if headers.contains_key(http::header::CONTENT_ENCODING) {
                // This build compresses nothing; a compressed body cannot be swapped.
                return Err("span records cannot be sent with a compressed body".into());
            }
            let protobuf = headers
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|t| t.as_bytes() == b"application/x-protobuf");
            if !protobuf {
                return Err("span records are protobuf; the request was not".into());
            }
            *request.body_mut() = body;
            self.swap.sent.store(true, Ordering::Release);
        }
        self.inner.send_bytes(request).await
    }
}

/// Spans to an OTLP/HTTP collector: SDK spans through opentelemetry-otlp as they are,
/// records encoded straight to protobuf and sent through the same exporter.
#[derive(Debug)]
pub(crate) struct OtlpHttpOutput {
    exporter: opentelemetry_otlp::SpanExporter,
    swap: Arc<Swap>,
    request: TraceRequest,
}

impl OtlpHttpOutput {
    /// A sink exporting to `url` (the traces URL), or where the `OTEL_EXPORTER_OTLP_*`
    /// variables say when `None`.
    pub(crate) fn new(url: Option<String>) -> Result<Self, TelemetryError> {
        let client = reqwest::Client::builder()
            .timeout(timeout_from_env())
            .build()
            .map_err(|e| TelemetryError::Exporter(format!("the HTTP client: {e}")))?;
        let swap = Arc::new(Swap::default());
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(SwapClient {
                inner: client,
                swap: swap.clone(),
            });
        if let Some(url) = url {
            builder = builder.with_endpoint(url);
        }
        let exporter = builder
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        Ok(OtlpHttpOutput {
            exporter,
            swap,
            request: TraceRequest::new(&Resource::builder_empty().build(), &records_scope()),
        })
    }
}

impl SpanOutput for OtlpHttpOutput {
    type Prepared = Bytes;

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
        self.request.set_resource(resource);
    }

    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exporter.export(batch).await
    }

    fn prepare(&mut self, records: &mut Vec<SpanRecord>) -> Bytes {
        self.request.encode_batch(records)
    }

    async fn export_prepared(&self, body: Bytes) -> OTelSdkResult {
        if body.is_empty() {
            return Ok(());
        }
        *self.swap.lock() = Some(body);
        self.swap.sent.store(false, Ordering::Release);
        let result = self.exporter.export(Vec::new()).await;
        let sent = self.swap.sent.load(Ordering::Acquire);
        *self.swap.lock() = None;
        match result {
            Ok(()) if !sent => Err(OTelSdkError::InternalFailure(
                "opentelemetry-otlp exported without sending the span records".into(),
            )),
            other => other,
        }
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }
}

/// The export timeout as opentelemetry-otlp reads it: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`,
/// else `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else 10 s. The HTTP client it builds
/// when none is given has this timeout; ours must too.
fn timeout_from_env() -> Duration {
    [
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TIMEOUT,
    ]
    .iter()
    .find_map(|var| std::env::var(var).ok()?.parse().ok())
    .map_or(
        opentelemetry_otlp::OTEL_EXPORTER_OTLP_TIMEOUT_DEFAULT,
        Duration::from_millis,
    )
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use bytes::Bytes;
    use opentelemetry::KeyValue;
    use opentelemetry_http::HttpClient as _;
    use opentelemetry_sdk::Resource;

    use super::{OtlpHttpOutput, Swap, SwapClient};
    use crate::pipeline::span_output::SpanOutput;
    use crate::testing::{OtlpReceiver, Signal};
    use crate::wire::tests::records;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn records_reach_the_collector_as_the_request_of_an_empty_batch() {
        let receiver = OtlpReceiver::http().unwrap();
        let rt = runtime();
        let _in = rt.enter();
        let mut output =
            OtlpHttpOutput::new(Some(receiver.signal_endpoint(Signal::Traces))).unwrap();
        output.set_resource(
            &Resource::builder_empty()
                .with_attribute(KeyValue::new("service.name", "swap-test"))
                .build(),
        );
        let mut batch = records();
        let expected: Vec<(String, String)> = batch
            .iter()
            .map(|r| (r.name.to_string(), r.span_context.span_id().to_string()))
            .collect();
        let body = output.prepare(&mut batch);
        assert!(
            batch.is_empty(),
            "the batch is left empty, to be used again"
        );
        rt.block_on(output.export_prepared(body)).expect("exported");

        let spans = receiver.spans();
        let got: Vec<(String, String)> = spans
            .iter()
            .map(|s| (s.name().to_owned(), s.span_id()))
            .collect();
        assert_eq!(got, expected);
        assert!(spans
            .iter()
            .all(|s| s.resource.get("service.name").map(String::as_str) == Some("swap-test")));
        assert_eq!(
            receiver.requests_for(Signal::Traces),
            1,
            "one request, no empty one"
        );

        // Nothing prepared: nothing sent.
        let empty = output.prepare(&mut Vec::new());
        rt.block_on(output.export_prepared(empty)).unwrap();
        assert_eq!(receiver.requests_for(Signal::Traces), 1);
    }

    /// A request as opentelemetry-otlp builds it for an empty batch, with `headers`.
    fn empty_batch_request(headers: &[(http::HeaderName, &str)]) -> http::Request<Bytes> {
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri("http://127.0.0.1:9/v1/traces");
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        request.body(Bytes::new()).unwrap()
    }

    #[test]
    fn a_compressed_or_non_protobuf_request_cannot_carry_records() {
        let swap = std::sync::Arc::new(Swap::default());
        *swap.lock() = Some(Bytes::from_static(b"records"));
        let client = SwapClient {
            inner: reqwest::Client::new(),
            swap: swap.clone(),
        };
        let protobuf = (http::header::CONTENT_TYPE, "application/x-protobuf");
        for (headers, why) in [
            (
                vec![protobuf.clone(), (http::header::CONTENT_ENCODING, "gzip")],
                "compressed",
            ),
            (
                vec![(http::header::CONTENT_TYPE, "application/json")],
                "not",
            ),
        ] {
            let error = runtime()
                .block_on(client.send_bytes(empty_batch_request(&headers)))
                .expect_err("refused");
            assert!(error.to_string().contains(why), "{error}");
        }
        assert!(!swap.sent.load(std::sync::atomic::Ordering::Acquire));
    }
}
