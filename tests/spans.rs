//! The spans each send makes and how they join: a tell's `send` and `process` spans with
//! their exact edges and messaging attributes, send spans alone (no `process` spans),
//! message ids, asks, chains of actors, pools, self-sends (linked or parented), errors and
//! panics on the `process` span, and every span of a shutdown under load exported. Spans
//! are exported into memory; how the context travels is in `propagation.rs`, the wire in
//! `export.rs`.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use actor_core::trace::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, MAILBOX_WAIT_NS, MESSAGE_TYPE, MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE,
    THREAD_NAME,
};
use actor_core::trace::{Relation, TracingOptions};
use actor_core::ActorRef;
use actor_otel::PipelineMode;
use common::telemetry::*;
use common::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer};
use opentelemetry::Context;

#[tokio::test]
async fn a_tell_is_one_trace_with_exact_edges_and_the_messaging_attributes() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .tell(Work { awaits: 3, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let send = store.one("send worker");
    let process = store.one("process worker");
    let inner = store.one("inner");
    assert_child(&send, &request);
    assert_child(&process, &send);
    assert_child(&inner, &process);
    assert_eq!(send.span.span_kind, SpanKind::Producer);
    assert_eq!(process.span.span_kind, SpanKind::Consumer);
    assert_eq!(
        process.span.links.links[0].span_context.span_id(),
        send.span_id()
    );
    assert_eq!(store.len(), 4);
    assert_all_exported(&telemetry, &store);

    // Messaging conventions on both sides.
    for span in [&send, &process] {
        assert_eq!(
            span.attribute(MESSAGING_SYSTEM).unwrap().as_str(),
            MESSAGING_SYSTEM_VALUE
        );
        assert_eq!(
            span.attribute(MESSAGING_DESTINATION_NAME).unwrap().as_str(),
            "worker"
        );
        // Opt-in (`TracingOptions::message_ids`): the spans are joined by parent and link.
        assert!(span.attribute(MESSAGING_MESSAGE_ID).is_none());
        assert!(span
            .attribute(MESSAGE_TYPE)
            .unwrap()
            .as_str()
            .ends_with("Work"));
    }
    assert_eq!(
        send.attribute(MESSAGING_OPERATION_TYPE).unwrap().as_str(),
        "send"
    );
    assert_eq!(
        process
            .attribute(MESSAGING_OPERATION_TYPE)
            .unwrap()
            .as_str(),
        "process"
    );
    assert_eq!(process.attribute(THREAD_NAME).unwrap().as_str(), "worker");
    assert!(process.attribute(MAILBOX_WAIT_NS).is_some());
}

#[tokio::test]
async fn without_process_spans_the_handler_runs_under_the_send_span() {
    let options = TracingOptions {
        process_spans: false,
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .tell(Work { awaits: 2, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    let (active, _) = worker
        .ask(WhatContext)
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let send = store.one("send worker");
    let inner = store.one("inner");
    assert_child(&send, &request);
    // The message carries the send span's identity, not the span object: the handler's spans
    // are its children all the same, and the identity is local, not remote.
    assert_child(&inner, &send);
    assert!(!inner.span.parent_span_is_remote);
    // An ask makes no send span by default: the handler sees the caller's span.
    assert_eq!(active.span_id(), request.span_id());
    assert!(store.named("process worker").is_empty());
    assert_eq!(store.len(), 3);
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn message_ids_when_asked_for_match_on_both_sides() {
    let options = TracingOptions {
        message_ids: true,
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    for tag in 0..3 {
        worker
            .tell(Work { awaits: 0, tag })
            .with_context(cx.clone())
            .await
            .unwrap();
    }
    cx.span().end();
    system.shutdown().await;

    let sends = store.named("send worker");
    let processes = store.named("process worker");
    assert_eq!((sends.len(), processes.len()), (3, 3));
    let mut ids: Vec<String> = Vec::new();
    for process in &processes {
        let send = sends
            .iter()
            .find(|s| s.span_id() == process.parent_span_id())
            .expect("each process span has its send span as parent");
        let id = process.attribute(MESSAGING_MESSAGE_ID).unwrap().as_str();
        assert_eq!(send.attribute(MESSAGING_MESSAGE_ID).unwrap().as_str(), id);
        ids.push(id.into_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per message");
}

#[tokio::test]
async fn ask_spans_after_awaits_are_children() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .ask(Work { awaits: 5, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let process = store.one("process worker");
    let inner = store.one("inner");
    assert_child(&process, &request);
    assert_child(&inner, &process);
    assert!(
        store.named("send worker").is_empty(),
        "no send span for ask by default"
    );
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn a_chain_of_three_actors_is_one_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let store_actor = system.spawn("store", Worker::default).unwrap();
    let s = store_actor.clone();
    let enrich = system
        .actor("enrich")
        .depends_on(store_actor.id())
        .spawn(move || Worker {
            next: Some(s.clone()),
        })
        .unwrap();
    let e = enrich.clone();
    let parse = system
        .actor("parse")
        .depends_on(enrich.id())
        .spawn(move || Worker {
            next: Some(e.clone()),
        })
        .unwrap();
    let cx = root(&telemetry, "request");
    // parse tells enrich, enrich... the hop flags: parse asks enrich, enrich tells store.
    parse
        .ask(Relay { ask_next: true })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let p_process = store.one("process parse");
    let p_stage = store.one("stage parse");
    let e_process = store.one("process enrich");
    let e_stage = store.one("stage enrich");
    let s_send = store.one("send store");
    let s_process = store.one("process store");
    let s_stage = store.one("stage store");
    assert_child(&p_process, &request);
    assert_child(&p_stage, &p_process);
    assert_child(&e_process, &p_stage); // ask: no send span
    assert_child(&e_stage, &e_process);
    assert_child(&s_send, &e_stage); // tell: a send span
    assert_child(&s_process, &s_send);
    assert_child(&s_stage, &s_process);
    let traces: HashSet<TraceId> = store.spans().iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 1);
    assert_all_exported(&telemetry, &store);
    assert_eq!(
        telemetry.stats().flush_order,
        vec!["parse", "enrich", "store", "system"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_request_is_its_own_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let pool = system.pool("pool", 3).spawn(Worker::default).unwrap();
    let requests: Vec<_> = (0..30)
        .map(|i| {
            let pool = pool.clone();
            let cx = root(&telemetry, "request");
            tokio::spawn(async move {
                pool.ask(Work { awaits: 1, tag: i })
                    .with_context(cx.clone())
                    .await
                    .unwrap();
                cx.span().end();
            })
        })
        .collect();
    for r in requests {
        r.await.unwrap();
    }
    system.shutdown().await;

    let roots = store.named("request");
    assert_eq!(roots.len(), 30);
    let traces: HashSet<TraceId> = roots.iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 30, "each request its own trace");
    let mut workers = HashSet::new();
    for request in &roots {
        let trace = store.trace(request.trace_id());
        assert_eq!(trace.len(), 3, "request, process, inner");
        let process = trace
            .iter()
            .find(|s| s.name().starts_with("process pool-"))
            .unwrap();
        let inner = trace.iter().find(|s| s.name() == "inner").unwrap();
        assert_child(process, request);
        assert_child(inner, process);
        workers.insert(process.resource_attribute(THREAD_NAME).unwrap().to_string());
    }
    assert_eq!(
        workers.len(),
        3,
        "the pool spread the requests: {workers:?}"
    );
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn errors_and_panics_mark_the_process_span() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    assert!(worker.ask(Fail::Error).await.unwrap().is_err());
    assert!(matches!(
        worker.ask(Fail::Panic).await,
        Err(actor_core::AskError::Panicked(_))
    ));
    system.shutdown().await;
    let processes = store.named("process worker");
    assert_eq!(processes.len(), 2);
    for p in &processes {
        assert!(
            matches!(p.span.status, Status::Error { .. }),
            "{:?}",
            p.span.status
        );
        let event = &p.span.events.events[0];
        assert_eq!(event.name, "exception");
        assert!(event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == EXCEPTION_MESSAGE));
    }
    let types: HashSet<String> = processes
        .iter()
        .map(|p| p.attribute(ERROR_TYPE).unwrap().to_string())
        .collect();
    assert!(types.contains("panic"));
    assert!(types.iter().any(|t| t.ends_with("Rejected")), "{types:?}");
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn self_sends_are_linked_not_parented_by_default() {
    for relation in [Relation::Link, Relation::Parent] {
        let (system, telemetry, store) = traced(PipelineMode::PerActor);
        let ticker = system
            .actor("ticker")
            .trace_self_sends(relation)
            .spawn(Worker::default)
            .unwrap();
        let cx = root(&telemetry, "request");
        ticker
            .tell(Countdown(3))
            .with_context(cx.clone())
            .await
            .unwrap();
        cx.span().end();
        wait_until_idle(&ticker).await;
        system.shutdown().await;
        let processes: Vec<_> = store
            .named("process ticker")
            .into_iter()
            .filter(|p| {
                p.attribute(MESSAGE_TYPE)
                    .unwrap()
                    .as_str()
                    .ends_with("Countdown")
            })
            .collect();
        assert_eq!(processes.len(), 4);
        let traces: HashSet<TraceId> = processes.iter().map(|p| p.trace_id()).collect();
        match relation {
            Relation::Link => {
                assert_eq!(traces.len(), 4, "each countdown step starts a linked trace");
                let linked = processes
                    .iter()
                    .filter(|p| p.parent_span_id() == SpanId::INVALID)
                    .count();
                assert_eq!(linked, 3);
                for p in processes
                    .iter()
                    .filter(|p| p.parent_span_id() == SpanId::INVALID)
                {
                    let link = &p.span.links.links[0].span_context;
                    let sender = store
                        .spans()
                        .into_iter()
                        .find(|s| s.span_id() == link.span_id())
                        .unwrap();
                    assert_eq!(sender.name(), "send ticker");
                }
            }
            Relation::Parent => assert_eq!(traces.len(), 1, "one trace when asked for"),
        }
        assert_all_exported(&telemetry, &store);
    }
}

/// Waits until `actor` has handled everything queued.
async fn wait_until_idle(actor: &ActorRef<Worker>) {
    for _ in 0..100 {
        actor.ask(WhatContext).await.unwrap();
        if actor.load() == 0 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_exports_every_span() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let workers: Vec<_> = (0..3)
        .map(|i| system.spawn(format!("w{i}"), Worker::default).unwrap())
        .collect();
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let workers = workers.clone();
            let tracer = telemetry.tracer("test");
            tokio::spawn(async move {
                let (mut sent, mut refused) = (0u64, 0u64);
                for i in 0..400 {
                    let cx = Context::current_with_span(tracer.start("produce"));
                    let w = &workers[(p + i) % workers.len()];
                    match w
                        .tell(Work {
                            awaits: 0,
                            tag: i as i64,
                        })
                        .with_context(cx.clone())
                        .await
                    {
                        Ok(()) => sent += 1,
                        Err(_) => refused += 1,
                    }
                    cx.span().end();
                }
                (sent, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = system.shutdown().await;
    let (mut sent, mut refused) = (0, 0);
    for p in producers {
        let (s, r) = p.await.unwrap();
        sent += s;
        refused += r;
    }
    assert_eq!(sent + refused, 8 * 400);
    assert_eq!(report.handled(), sent, "every accepted message was handled");
    assert!(report.all_in_time());
    // Producers that finished after the system pipeline shut down are counted, not lost silently.
    let stats = telemetry.stats();
    let processes = store
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process w"))
        .count();
    assert_eq!(
        processes as u64, sent,
        "one process span per handled message"
    );
    assert_eq!(store.named("inner").len() as u64, sent);
    assert_eq!(
        stats.spans_failed_export + stats.spans_dropped_queue_full,
        0,
        "{stats:?}"
    );
    assert_eq!(
        stats.spans_ended,
        stats.spans_exported + stats.spans_dropped_after_shutdown,
        "{stats:?}"
    );
    assert_eq!(stats.spans_exported as usize, store.len());
    assert_eq!(stats.flush_order, vec!["w2", "w1", "w0", "system"]);
}
