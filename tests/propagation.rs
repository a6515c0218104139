//! The context travelling with each message: in-process by default, through a carrier
//! (W3C, B3) when asked, with baggage; concurrent callers on one runtime do not mix their
//! contexts; carriers from outside continue their trace, and malformed or oversized ones
//! start a fresh one; `ActorSystem::extract` and `carrier::extract` read the right headers
//! with `.global(false)`; a tell's `send` span stays its `process` span's parent however the
//! context travels; a bridge's `Delivery` makes the `process` span describe how the message
//! came in; and with no SDK at all the context still travels.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use actor_core::trace::carrier::{extract_with, CarrierPolicy};
use actor_core::trace::{Propagation, TracingOptions};
use actor_core::ActorSystem;
use actor_otel::testing::{ExportedSpan, OtlpReceiver};
use actor_otel::PipelineMode;
use common::telemetry::*;
use common::*;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;

#[tokio::test]
async fn concurrent_callers_on_one_current_thread_runtime_do_not_mix_contexts() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let worker = worker.clone();
            let tracer = telemetry.tracer("test");
            tokio::spawn(async move {
                let mut span = tracer.start("request");
                span.set_attribute(KeyValue::new("tag", i));
                let cx = Context::current_with_span(span);
                async {
                    tokio::task::yield_now().await;
                    worker.tell(Work { awaits: 1, tag: i }).await.unwrap();
                    tokio::task::yield_now().await;
                    worker.ask(Work { awaits: 0, tag: i }).await.unwrap();
                }
                .with_context(cx.clone())
                .await;
                cx.span().end();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    system.shutdown().await;

    let by_id: HashMap<SpanId, ExportedSpan> = store
        .spans()
        .into_iter()
        .map(|s| (s.span_id(), s))
        .collect();
    let inners = store.named("inner");
    assert_eq!(inners.len(), 80);
    for inner in inners {
        // Walk up to the root: it must be the request with the same tag.
        let mut span = &inner;
        while span.parent_span_id() != SpanId::INVALID {
            span = &by_id[&span.parent_span_id()];
        }
        assert_eq!(span.name(), "request");
        assert_eq!(span.attribute("tag"), inner.attribute("tag"));
    }
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn baggage_arrives_in_process_and_through_a_carrier() {
    let composite = w3c_with_baggage();
    for options in [
        TracingOptions::default(),
        TracingOptions {
            propagation: Propagation::Carrier(Arc::new(composite)),
            ..TracingOptions::default()
        },
    ] {
        let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
        let worker = system.spawn("worker", Worker::default).unwrap();
        let cx = root(&telemetry, "request").with_baggage(vec![KeyValue::new("tenant", "acme")]);
        let tenant = worker
            .ask(Work { awaits: 2, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
        assert_eq!(tenant, "acme");
        cx.span().end();
        system.shutdown().await;
        assert_child(&store.one("process worker"), &store.one("request"));
        assert_child(&store.one("inner"), &store.one("process worker"));
        assert_all_exported(&telemetry, &store);
    }
}

#[tokio::test]
async fn an_external_w3c_traceparent_continues() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let headers: HashMap<String, String> = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=opaque"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cx = extract_with(
        &TraceContextPropagator::new(),
        &headers,
        &CarrierPolicy::default(),
    );
    worker
        .tell(Work { awaits: 1, tag: 0 })
        .with_context(cx)
        .await
        .unwrap();
    system.shutdown().await;

    let send = store.one("send worker");
    assert_eq!(
        send.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        send.parent_span_id(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert!(send.span.parent_span_is_remote);
    assert_eq!(
        send.span.span_context.trace_state().header(),
        "vendor=opaque"
    );
    assert_child(&store.one("process worker"), &send);
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn malformed_or_oversized_carriers_start_a_fresh_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let good_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let huge = "x".repeat(100_000);
    let many_entries = (0..5_000)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let bad: Vec<Vec<(&str, String)>> = vec![
        vec![("traceparent", "garbage".into())],
        vec![("traceparent", format!("00-{good_id}-00f067aa0ba9"))],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
        )],
        vec![("traceparent", format!("00-{good_id}-0000000000000000-01"))],
        vec![("traceparent", format!("ff-{good_id}-00f067aa0ba902b7-01"))],
        vec![(
            "traceparent",
            format!("00-{good_id}-00f067aa0ba902b7-01{huge}"),
        )],
        vec![(
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", "é".repeat(16)),
        )],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("baggage", many_entries.clone()),
        ],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("tracestate", huge.clone()),
        ],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("baggage", huge.clone()),
        ],
    ];
    let composite = w3c_with_baggage();
    for (i, carrier) in bad.iter().enumerate() {
        let headers: HashMap<String, String> = carrier
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let cx = extract_with(&composite, &headers, &CarrierPolicy::default());
        let tenant = worker
            .ask(Work {
                awaits: 0,
                tag: i as i64,
            })
            .with_context(cx.clone())
            .await
            .unwrap();
        assert_eq!(tenant, "", "no baggage adopted from carrier {i}");
        let valid_parent = cx.span().span_context().is_valid();
        // Only the last three keep their (valid) traceparent; their oversized extras are dropped.
        assert_eq!(valid_parent, i >= 7, "carrier {i}");
        if i >= 7 {
            assert!(
                cx.span().span_context().trace_state().header().is_empty(),
                "carrier {i}"
            );
        }
    }
    system.shutdown().await;
    let processes = store.named("process worker");
    assert_eq!(processes.len(), bad.len());
    for p in processes {
        let tag_root = p.parent_span_id() == SpanId::INVALID;
        let continued = p.trace_id() == TraceId::from_hex(good_id).unwrap();
        assert!(tag_root != continued, "{p:?}");
    }
    assert_all_exported(&telemetry, &store);

    let refused = CarrierPolicy::without_baggage();
    let headers: HashMap<String, String> =
        [("baggage".to_string(), "tenant=evil".to_string())].into();
    assert!(extract_with(&composite, &headers, &refused)
        .baggage()
        .is_empty());
    assert!(
        !extract_with(&composite, &headers, &CarrierPolicy::default())
            .baggage()
            .is_empty()
    );
}

#[tokio::test]
async fn without_an_sdk_the_context_still_travels() {
    let system = ActorSystem::builder().build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    let caller = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new()
        .with_remote_span_context(caller.clone())
        .with_baggage(vec![KeyValue::new("tenant", "acme")]);
    let (seen, tenant) = worker
        .ask(WhatContext)
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(seen, caller);
    assert_eq!(tenant, "acme");
    // tell too: the handler replies through another ask, so check with a follow-up in order.
    let (seen, _) = worker.ask(WhatContext).await.unwrap();
    assert!(!seen.is_valid(), "no context leaks into the next message");
    system.shutdown().await;
}

// The B3 propagator ships in opentelemetry-zipkin, which is deprecated as a whole (its
// exporter); the propagator is what B3 users still use.
#[allow(deprecated)]
#[tokio::test]
async fn a_b3_propagator_carries_the_trace_too() {
    use opentelemetry_zipkin::{B3Encoding, Propagator as B3};
    let b3 = Arc::new(B3::with_encoding(B3Encoding::MultipleHeader));
    let options = TracingOptions {
        propagation: Propagation::Carrier(b3.clone()),
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();

    // In-process, through B3 headers in the envelope.
    let cx = root(&telemetry, "request");
    worker
        .ask(Work { awaits: 1, tag: 0 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();

    // From outside: B3 headers of another service continue in the actor.
    let headers: HashMap<String, String> = [
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let outside = extract_with(b3.as_ref(), &headers, &CarrierPolicy::default());
    worker
        .tell(Work { awaits: 0, tag: 1 })
        .with_context(outside)
        .await
        .unwrap();
    system.shutdown().await;

    let request = store.one("request");
    let processes = store.named("process worker");
    assert_eq!(processes.len(), 2);
    let from_request = processes
        .iter()
        .find(|p| p.trace_id() == request.trace_id())
        .unwrap();
    assert_child(from_request, &request);
    let send = store.one("send worker");
    assert_eq!(
        send.trace_id(),
        TraceId::from_hex("80f198ee56343ba864fe8b2a57d3eff7").unwrap()
    );
    assert_eq!(
        send.parent_span_id(),
        SpanId::from_hex("e457b5a2e4d86bd1").unwrap()
    );
    let continued = processes
        .iter()
        .find(|p| p.trace_id() == send.trace_id())
        .unwrap();
    assert_child(continued, &send);
    assert_all_exported(&telemetry, &store);
}

/// A tell from a sampled local span travels as the caller's context and its `send`
/// record's id in-process; through a carrier, the two are made into one context to inject.
/// Either way the `process` span is the `send` span's child, in the caller's trace.
#[tokio::test]
async fn a_tell_from_a_local_span_keeps_its_send_span_in_process_and_through_a_carrier() {
    for propagation in [
        Propagation::InProcess,
        Propagation::Carrier(Arc::new(TraceContextPropagator::new())),
    ] {
        let options = TracingOptions {
            propagation,
            ..TracingOptions::default()
        };
        let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
        let worker = system.spawn("worker", Worker::default).unwrap();
        let cx = root(&telemetry, "request");
        worker
            .tell(Work { awaits: 1, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
        cx.span().end();
        system.shutdown().await;

        let request = store.one("request");
        let send = store.one("send worker");
        let process = store.one("process worker");
        assert_child(&send, &request);
        assert_child(&process, &send);
        assert_all_exported(&telemetry, &store);
    }
}

#[tokio::test]
async fn global_false_and_carrier_extract_continue_a_valid_traceparent() {
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = exporting_to(&receiver);
    let system = ActorSystem::builder()
        .name("incoming")
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", Worker::default).unwrap();

    // As the README shows it, with no global propagator installed.
    let cx = actor_core::trace::carrier::extract(&incoming_headers());
    assert!(
        cx.span().span_context().is_remote(),
        "the parent was adopted"
    );
    worker
        .tell(Work { awaits: 0, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    let tenant = worker
        .ask(Work { awaits: 0, tag: 2 })
        .with_context(cx)
        .await
        .unwrap();
    assert_eq!(tenant, "acme", "the baggage came along");
    system.shutdown().await;

    let spans = receiver.spans();
    let send = named(&spans, "send worker");
    assert_eq!(send.len(), 1);
    assert_eq!(send[0].trace_id(), TRACE_ID);
    assert_eq!(
        send[0].parent_span_id(),
        PARENT_ID,
        "child of the remote parent"
    );
    let processes = named(&spans, "process worker");
    assert_eq!(processes.len(), 2);
    for process in &processes {
        assert_eq!(process.trace_id(), TRACE_ID);
    }
    // The ask has no send span: its process span is the remote parent's child.
    assert!(processes.iter().any(|p| p.parent_span_id() == PARENT_ID));
    assert!(processes
        .iter()
        .any(|p| p.parent_span_id() == send[0].span_id()));
    assert!(named(&spans, "inner")
        .iter()
        .all(|w| w.trace_id() == TRACE_ID));
    let stats = telemetry.stats();
    // The tell: send, process, work; the ask: process, work.
    assert_eq!(stats.spans_ended, 5, "{stats:?}");
    assert_eq!(stats.spans_exported as usize, spans.len(), "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
}

// The B3 propagator ships in opentelemetry-zipkin, deprecated as a whole (its exporter).
#[allow(deprecated)]
#[tokio::test]
async fn the_system_extracts_with_the_propagator_it_knows() {
    use opentelemetry_zipkin::{B3Encoding, Propagator as B3};

    // With actor-otel and no global propagator: the telemetry's W3C, through the system.
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = exporting_to(&receiver);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = system.extract(&incoming_headers());
    let tenant = worker
        .ask(Work { awaits: 0, tag: 1 })
        .with_context(cx)
        .await
        .unwrap();
    assert_eq!(tenant, "acme");
    system.shutdown().await;
    let spans = receiver.spans();
    let process = named(&spans, "process worker");
    assert_eq!(process.len(), 1);
    assert_eq!(process[0].trace_id(), TRACE_ID);
    assert_eq!(process[0].parent_span_id(), PARENT_ID);

    // A system told to carry B3 reads B3 headers from outside too.
    let b3 = Arc::new(B3::with_encoding(B3Encoding::MultipleHeader));
    let system = ActorSystem::builder()
        .tracing(TracingOptions {
            propagation: Propagation::Carrier(b3),
            ..TracingOptions::default()
        })
        .build();
    let headers: HashMap<String, String> = [
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", PARENT_ID),
        ("x-b3-sampled", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cx = system.extract(&headers);
    let parent = cx.span().span_context().clone();
    assert!(parent.is_remote());
    assert_eq!(parent.trace_id().to_string(), TRACE_ID);
    assert_eq!(parent.span_id().to_string(), PARENT_ID);
    system.shutdown().await;
}

/// A bridge's message from a remote sender alone (`Delivery::send_from`) to a system
/// that makes no spans: the handler still runs in that sender's context.
#[tokio::test]
async fn a_message_from_a_remote_sender_alone_reaches_an_untraced_handler_in_its_context() {
    use actor_core::trace::Delivery;
    use actor_core::{Actor, Ctx, Handler, Message};

    struct Look;
    impl Message for Look {
        type Reply = ();
    }
    struct ContextProbe(std::sync::mpsc::Sender<SpanContext>);
    impl Actor for ContextProbe {}
    impl Handler<Look> for ContextProbe {
        async fn handle(&mut self, _: Look, _cx: &mut Ctx<Self>) {
            let cx = Context::current();
            let _ = self.0.send(cx.span().span_context().clone());
        }
    }

    let system = ActorSystem::builder().build();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let probe = system
        .spawn("probe", move || ContextProbe(seen_tx.clone()))
        .unwrap();
    let sender = SpanContext::new(
        TraceId::from(0x5eed_u128),
        SpanId::from(7),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    Delivery::new("bridge", &Context::new())
        .for_remote(sender.clone())
        .send_from(|| probe.try_tell(Look))
        .unwrap();
    let handled = seen
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        handled, sender,
        "the remote sender is the handler's context"
    );
    system.shutdown().await;
}

/// A bridge's `Delivery` (a message handed in from outside), beside the context
/// (`send_in`, the allocation-free route) or in it (`attach`, for sends that wait): the
/// `process` span is the remote sender's child and says how the message came, no local
/// `send` span is made for it, and the handler's own spans stay under the `process` span.
#[tokio::test]
async fn a_delivery_describes_the_bridge_beside_the_context_or_in_it() {
    use actor_core::trace::Delivery;

    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let remote = |span: u64| {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0xabcd_u128 + u128::from(span)),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    };
    let arrival = Delivery::new("bridge", &Context::new())
        .destination("orders.in")
        .attribute(KeyValue::new("bridge.partition", 3));

    let beside = remote(1);
    arrival
        .for_message(&beside)
        .body_size(11)
        .send_in(&beside, || worker.try_tell(Work { awaits: 0, tag: 1 }))
        .unwrap();
    let within = remote(2);
    let cx = arrival.for_message(&within).body_size(22).attach(within);
    worker
        .tell(Work { awaits: 1, tag: 2 })
        .with_context(cx)
        .await
        .unwrap();
    // From a remote sender alone, no context made on the sending thread.
    let sender = remote(4).span().span_context().clone();
    arrival
        .for_remote(sender)
        .body_size(44)
        .send_from(|| worker.try_tell(Work { awaits: 0, tag: 4 }))
        .unwrap();
    // The same from an unsampled remote sender: followed, nothing recorded in its trace.
    let unsampled = SpanContext::new(
        TraceId::from(0xabcd_u128 + 5),
        SpanId::from(5),
        TraceFlags::default(),
        true,
        TraceState::NONE,
    );
    arrival
        .for_remote(unsampled)
        .send_from(|| worker.try_tell(Work { awaits: 1, tag: 5 }))
        .unwrap();
    // Sent in the extracted context, but not with its delivery: an ordinary message.
    let plain = remote(3);
    let _guard = plain.clone().attach();
    worker.try_tell(Work { awaits: 0, tag: 3 }).unwrap();
    drop(_guard);
    system.shutdown().await;

    let processes = store.named("process worker");
    assert_eq!(processes.len(), 4);
    for (span, size) in [
        (1u64, Some("11")),
        (2, Some("22")),
        (3, None),
        (4, Some("44")),
    ] {
        let process = processes
            .iter()
            .find(|p| p.trace_id() == TraceId::from(0xabcd_u128 + u128::from(span)))
            .expect("each message in its sender's trace");
        let text = |key: &str| process.attribute(key).map(|v| v.as_str().into_owned());
        if size.is_some() {
            assert_eq!(
                process.parent_span_id(),
                SpanId::from(span),
                "the remote sender"
            );
            assert_eq!(text("messaging.system").as_deref(), Some("bridge"));
            assert_eq!(
                text("messaging.destination.name").as_deref(),
                Some("orders.in")
            );
            assert_eq!(text("messaging.message.body.size").as_deref(), size);
            assert_eq!(text("bridge.partition").as_deref(), Some("3"));
        } else {
            assert_eq!(text("messaging.system").as_deref(), Some("actor-core"));
            assert_eq!(
                text("messaging.destination.name").as_deref(),
                Some("worker")
            );
        }
        let inner = store
            .named("inner")
            .into_iter()
            .find(|i| i.trace_id() == process.trace_id())
            .expect("the handler's span");
        assert!(inner.is_child_of(process));
    }
    let trace_5 = TraceId::from(0xabcd_u128 + 5);
    assert!(
        store.spans().iter().all(|span| span.trace_id() != trace_5),
        "nothing recorded under the unsampled remote sender"
    );
    // Only the plain message had a local `send` span.
    assert_eq!(store.named("send worker").len(), 1);
    assert_all_exported(&telemetry, &store);
}
