//! Cross-language: a Python client (nats-py and the OpenTelemetry Python SDK, the pinned
//! versions `.ci/install-nats.sh` puts in `.ci/.venv`) asks a Rust actor over NATS. One
//! trace: the Rust `process` span's parent is the Python span, both received by a real
//! OTLP receiver. The Python interpreter is `ACTOR_NATS_PYTHON`, else the CI venv's.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actor_core::ActorSystem;
use actor_otel::testing::{OtlpReceiver, Signal};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry};

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ACTOR_NATS_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/.venv/bin/python");
    assert!(
        venv.is_file(),
        "the cross-language test needs Python with nats-py and the OpenTelemetry SDK: run \
         `.ci/install-nats.sh` (a venv in .ci/.venv with the pinned versions) or set \
         ACTOR_NATS_PYTHON"
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_asks_a_rust_actor_in_one_trace() {
    let server = common::server();
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = Telemetry::builder()
        .service_name("rust-actor")
        .exporter(Exporter::otlp(
            OtlpProtocol::HttpProtobuf,
            Some(receiver.endpoint().to_owned()),
        ))
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name("python-test")
        .instrumentation(telemetry.clone())
        .build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", common::counter(&seen)).unwrap();
    let nats = common::connect(&server).await;
    let serving = nats
        .serve("svc.py")
        .handle(actor.recipient::<common::Add>())
        .start()
        .await
        .unwrap();

    let output = tokio::task::spawn_blocking({
        let url = server.url();
        let traces = receiver.signal_endpoint(Signal::Traces);
        move || {
            Command::new(python())
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ask.py"))
                .env("NATS_URL", url)
                .env("SUBJECT", "svc.py")
                .env("OTLP_TRACES_URL", traces)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let field = |name: &str| {
        let key = format!("\"{name}\": ");
        let rest = &line[line
            .find(&key)
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + key.len()..];
        rest.split([',', '}'])
            .next()
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    assert_eq!(field("reply"), "21");
    assert_eq!(field("error"), "unknown-type");
    assert!(field("error_text").contains("Nope"), "{line}");
    let (trace_id, span_id) = (field("trace_id"), field("span_id"));

    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert!(receiver.wait_for(2, Duration::from_secs(10)));
    let spans = receiver.spans();
    let python_span = spans
        .iter()
        .find(|s| s.name() == "python ask")
        .expect("the Python span reached the receiver");
    assert_eq!(python_span.span_id(), span_id);
    assert_eq!(
        python_span.resource.get("service.name").map(String::as_str),
        Some("python-client")
    );
    let process = spans
        .iter()
        .find(|s| s.name() == "process counter")
        .expect("the Rust process span");
    assert_eq!(
        process.trace_id(),
        trace_id,
        "one trace across the languages"
    );
    assert_eq!(process.parent_span_id(), span_id, "under the Python span");
    assert_eq!(
        process.attribute("messaging.system").as_deref(),
        Some("nats")
    );
    assert_eq!(serving.stats().unknown_type, 1);
    assert_eq!(serving.stats().handled, 1);
}
