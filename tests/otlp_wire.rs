//! Real OTLP export (issue 3): spans go over HTTP/protobuf and gRPC to a real receiver in
//! the test; the wire carries one trace, per-actor resources, and every span, over one
//! connection per system (or one per actor when asked).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::OtlpReceiver;
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, PipelineMode, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::Context;

struct Stage;
impl Actor for Stage {}
struct Step;
impl Message for Step {
    type Reply = ();
}
impl Handler<Step> for Stage {
    async fn handle(&mut self, _: Step, cx: &mut Ctx<Self>) {
        tokio::task::yield_now().await;
        cx.tracer().start("work").end();
    }
}

/// Runs 4 actors under `mode`, exporting to `receiver`; returns the telemetry.
async fn run(protocol: OtlpProtocol, mode: PipelineMode, receiver: &OtlpReceiver) -> Telemetry {
    let telemetry = Telemetry::builder()
        .service_name("wire-test")
        .exporter(Exporter::otlp(
            protocol,
            Some(receiver.endpoint().to_owned()),
        ))
        .pipeline(mode)
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actors: Vec<_> = (0..4)
        .map(|i| system.spawn(format!("stage{i}"), || Stage).unwrap())
        .collect();
    let cx = Context::current_with_span(telemetry.tracer("test").start("request"));
    for actor in &actors {
        actor.ask(Step).with_context(cx.clone()).await.unwrap();
        actor.tell(Step).with_context(cx.clone()).await.unwrap();
    }
    cx.span().end();
    let report = system.shutdown().await;
    assert!(report.all_in_time());
    telemetry
}

fn check_wire(protocol: OtlpProtocol, mode: PipelineMode, expected_connections: usize) {
    let receiver = match protocol {
        OtlpProtocol::HttpProtobuf => OtlpReceiver::http().unwrap(),
        OtlpProtocol::Grpc => OtlpReceiver::grpc().unwrap(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let telemetry = runtime.block_on(run(protocol, mode, &receiver));
    // request + per actor: (process + work) for the ask, (send + process + work) for the tell.
    let expected = 1 + 4 * 5;
    let stats = telemetry.stats();
    assert_eq!(stats.spans_ended, expected as u64, "{stats:?}");
    assert_eq!(stats.spans_exported, expected as u64, "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
    let spans = receiver.spans();
    assert_eq!(
        spans.len(),
        expected,
        "everything is on the wire after shutdown"
    );

    let traces: HashSet<String> = spans.iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 1, "one trace");
    let request = spans.iter().find(|s| s.name() == "request").unwrap();
    assert_eq!(request.parent_span_id(), "");
    assert_eq!(request.resource["service.name"], "wire-test");
    assert!(request.attribute("thread.name").is_some());
    for i in 0..4 {
        let name = format!("stage{i}");
        let processes: Vec<_> = spans
            .iter()
            .filter(|s| s.name() == format!("process {name}"))
            .collect();
        assert_eq!(processes.len(), 2);
        let send = spans
            .iter()
            .find(|s| s.name() == format!("send {name}"))
            .unwrap();
        assert_eq!(send.parent_span_id(), request.span_id());
        for p in &processes {
            assert!(
                p.parent_span_id() == request.span_id() || p.parent_span_id() == send.span_id()
            );
            let work = spans
                .iter()
                .find(|w| w.name() == "work" && w.parent_span_id() == p.span_id())
                .expect("work is a child of its process span");
            assert_eq!(work.resource, p.resource);
            if mode != PipelineMode::Shared {
                assert_eq!(p.resource["actor.name"], name);
                assert_eq!(p.resource["thread.name"], name);
                assert_eq!(p.resource["service.name"], "wire-test");
                assert_eq!(
                    Some(p.resource["thread.id"].clone()),
                    p.attribute("thread.id")
                );
            }
        }
    }
    assert_eq!(
        receiver.connections(),
        expected_connections,
        "connections for {protocol:?} {mode:?}"
    );
}

#[test]
fn http_protobuf_per_actor_pipelines_share_one_connection() {
    check_wire(OtlpProtocol::HttpProtobuf, PipelineMode::PerActor, 1);
}

#[test]
fn grpc_per_actor_pipelines_share_one_connection() {
    check_wire(OtlpProtocol::Grpc, PipelineMode::PerActor, 1);
}

#[test]
fn http_protobuf_separate_exporters_open_one_connection_each() {
    check_wire(
        OtlpProtocol::HttpProtobuf,
        PipelineMode::PerActorExporter,
        5,
    );
}

#[test]
fn grpc_shared_pipeline() {
    check_wire(OtlpProtocol::Grpc, PipelineMode::Shared, 1);
}
