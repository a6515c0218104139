//! Streams attached to actors on real threads: 100,000 items through a mailbox of 8, none
//! lost, never more than 8 queued, in order with messages from outside and the end after
//! the last item; a failing stream; detaching and stopping end the polling without losing
//! a polled item; the window of an unbounded mailbox; a restart keeps the stream; and the
//! traces: each item starts a new trace linked to the span that attached the stream.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use actor_core::trace::attribute::MESSAGE_TYPE;
use actor_core::{ActorSystem, MailboxSize, StopReason, StreamOutcome, STREAM_WINDOW};
use actor_otel::PipelineMode;
use common::scheduled::*;
use common::telemetry::*;
use common::*;
use futures::StreamExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};

/// An endless stream of items that counts how many it yielded.
fn counted_forever(polled: Arc<AtomicU64>) -> Items {
    futures::stream::repeat_with(move || Item(polled.fetch_add(1, Ordering::SeqCst))).boxed()
}

#[test]
fn a_hundred_thousand_items_into_a_mailbox_of_eight_lose_none_and_never_overfill_it() {
    const N: u64 = 100_000;
    const MARKERS: u64 = 100;
    let system = ActorSystem::builder()
        .name("test")
        .mailbox(MailboxSize::Bounded(8))
        .build();
    let (finished_tx, finished) = mpsc::channel();
    let (reached_tx, reached) = mpsc::channel();
    let (gate_tx, gate_rx) = futures::channel::oneshot::channel::<()>();
    let consumer = system
        .spawn("consumer", {
            let state = std::sync::Mutex::new(Some((finished_tx, reached_tx, gate_tx)));
            move || {
                let (finished_tx, reached_tx, gate_tx) =
                    state.lock().unwrap().take().expect("built once");
                Consumer {
                    finished: Some(finished_tx),
                    reached: Some((1_000, reached_tx)),
                    gate: Some((MARKERS - 1, gate_tx)),
                    ..Consumer::default()
                }
            }
        })
        .unwrap();
    // The first half, then a pause until the last marker was handled, then the rest: the
    // markers come after item 1,000 and before item 50,000.
    let gate = futures::stream::once(gate_rx).filter_map(|_| async { None::<Item> });
    let items = futures::stream::iter(0..N / 2)
        .map(Item)
        .chain(gate)
        .chain(futures::stream::iter(N / 2..N).map(Item));
    let id = consumer.blocking_ask(Attach(items.boxed())).unwrap();
    reached.recv_timeout(PATIENCE).expect("item 1,000 handled");
    for m in 0..MARKERS {
        consumer.blocking_tell(Marker(m)).unwrap();
    }
    let end = finished
        .recv_timeout(PATIENCE * 6)
        .expect("the stream's end");
    assert_eq!(end.id, id);
    assert_eq!(end.outcome, StreamOutcome::Completed);

    let (seen, max_load, attached) = consumer.blocking_ask(Record).unwrap();
    assert!(max_load <= 8, "the mailbox of 8 held {max_load}");
    assert_eq!(attached, Some(false));
    let items: Vec<u64> = seen
        .iter()
        .filter_map(|s| match s {
            Got::Item(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(items.len() as u64, N, "none lost");
    assert_eq!(items.iter().sum::<u64>(), N * (N - 1) / 2);
    assert!(items.windows(2).all(|w| w[1] == w[0] + 1), "in order");
    let markers: Vec<u64> = seen
        .iter()
        .filter_map(|s| match s {
            Got::Marker(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(markers, (0..MARKERS).collect::<Vec<_>>());
    let at = |wanted: &Got| seen.iter().position(|s| s == wanted).unwrap();
    assert!(at(&Got::Item(1_000)) < at(&Got::Marker(0)), "interleaved");
    assert!(
        at(&Got::Marker(MARKERS - 1)) < at(&Got::Item(N / 2)),
        "interleaved"
    );
    assert_eq!(
        seen.last(),
        Some(&Got::Finished(id, StreamOutcome::Completed)),
        "the end after the last item"
    );
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].dead_letters, 0);
}

#[test]
fn a_failing_stream_notifies_failed_and_is_polled_no_more() {
    let system = system();
    let (finished_tx, finished) = mpsc::channel();
    let consumer = system
        .spawn("consumer", move || Consumer {
            finished: Some(finished_tx.clone()),
            ..Consumer::default()
        })
        .unwrap();
    let items = futures::stream::iter([
        Ok(Item(1)),
        Ok(Item(2)),
        Err("boom".to_owned()),
        Ok(Item(3)),
    ]);
    let id = consumer.blocking_ask(AttachTry(items.boxed())).unwrap();
    let end = finished.recv_timeout(PATIENCE).unwrap();
    assert_eq!(end.outcome, StreamOutcome::Failed("boom".into()));
    let (seen, _, attached) = consumer.blocking_ask(Record).unwrap();
    assert_eq!(
        seen,
        [
            Got::Item(1),
            Got::Item(2),
            Got::Finished(id, StreamOutcome::Failed("boom".into()))
        ]
    );
    assert_eq!(attached, Some(false));
    system.blocking_shutdown();
}

#[test]
fn detaching_stops_the_polling_and_loses_no_polled_item() {
    let system = ActorSystem::builder()
        .name("test")
        .mailbox(MailboxSize::Bounded(8))
        .build();
    let polled = Arc::new(AtomicU64::new(0));
    let (detached_tx, detached) = mpsc::channel();
    let consumer = system
        .spawn("consumer", {
            let polled = polled.clone();
            move || Consumer {
                detach_at: Some((10, polled.clone(), detached_tx.clone())),
                ..Consumer::default()
            }
        })
        .unwrap();
    consumer
        .blocking_ask(Attach(counted_forever(polled.clone())))
        .unwrap();
    let at_detach = detached.recv_timeout(PATIENCE).unwrap();
    // Round trips through the actor: an attached endless stream would be polled in between.
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        consumer.blocking_ask(Record).unwrap();
    }
    assert_eq!(
        polled.load(Ordering::SeqCst),
        at_detach,
        "polled after detach"
    );
    let (seen, max_load, attached) = consumer.blocking_ask(Record).unwrap();
    assert!(max_load <= 8);
    assert_eq!(attached, Some(false));
    // Every item polled was handled (those queued at the detach too), in order, no end.
    assert_eq!(
        seen,
        (0..at_detach).map(Got::Item).collect::<Vec<_>>(),
        "polled {at_detach}"
    );
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].dead_letters, 0);
}

#[test]
fn a_stop_detaches_the_stream_and_every_polled_item_is_handled_or_a_dead_letter() {
    let system = ActorSystem::builder()
        .name("test")
        .mailbox(MailboxSize::Bounded(8))
        .build();
    let polled = Arc::new(AtomicU64::new(0));
    let handled = Arc::new(AtomicU64::new(0));
    let consumer = system
        .spawn("consumer", {
            let handled = handled.clone();
            move || Consumer {
                stop_at: Some(100),
                handled: handled.clone(),
                ..Consumer::default()
            }
        })
        .unwrap();
    consumer
        .blocking_ask(Attach(counted_forever(polled.clone())))
        .unwrap();
    let report = consumer.blocking_wait_stopped().expect("stopped");
    assert_eq!(report.reason, StopReason::Requested);
    assert_eq!(report.panics, 0);
    let polled = polled.load(Ordering::SeqCst);
    assert!(polled >= 101);
    assert_eq!(
        polled,
        handled.load(Ordering::SeqCst) + report.dead_letters,
        "nothing polled is lost silently"
    );
    system.blocking_shutdown();
}

#[test]
fn an_unbounded_mailbox_holds_at_most_a_window_of_a_streams_items() {
    let system = ActorSystem::builder()
        .name("test")
        .mailbox(MailboxSize::Unbounded)
        .build();
    let polled = Arc::new(AtomicU64::new(0));
    let (finished_tx, finished) = mpsc::channel();
    let consumer = system
        .spawn("consumer", {
            let polled = polled.clone();
            move || Consumer {
                window: Some((polled.clone(), STREAM_WINDOW as u64)),
                finished: Some(finished_tx.clone()),
                ..Consumer::default()
            }
        })
        .unwrap();
    let items = {
        let polled = polled.clone();
        futures::stream::iter(0..20_000u64).map(move |n| {
            polled.fetch_add(1, Ordering::SeqCst);
            Item(n)
        })
    };
    consumer.blocking_ask(Attach(items.boxed())).unwrap();
    let end = finished.recv_timeout(PATIENCE).unwrap();
    assert_eq!(end.outcome, StreamOutcome::Completed);
    let report = system.blocking_shutdown();
    // The handler asserts the window: a panic would show here.
    assert_eq!(report.actors[0].panics, 0);
    assert_eq!(report.actors[0].handled, 20_000 + 2);
}

#[test]
fn a_restart_keeps_the_stream_attached() {
    let system = system();
    let (finished_tx, finished) = mpsc::channel();
    let handled = Arc::new(AtomicU64::new(0));
    let panics = Arc::new(AtomicU64::new(0));
    let consumer = system
        .spawn("consumer", {
            let handled = handled.clone();
            move || Consumer {
                handled: handled.clone(),
                panic_at: Some((500, panics.clone())),
                finished: Some(finished_tx.clone()),
                ..Consumer::default()
            }
        })
        .unwrap();
    let items = futures::stream::iter(0..1_000).map(Item);
    consumer.blocking_ask(Attach(items.boxed())).unwrap();
    let end = finished.recv_timeout(PATIENCE).unwrap();
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(handled.load(Ordering::SeqCst), 1_000);
    let (seen, _, _) = consumer.blocking_ask(Record).unwrap();
    // The new state saw the rest of the stream, from the item after the panic, and its end.
    assert_eq!(seen.first(), Some(&Got::Item(501)));
    assert_eq!(seen.len(), 500);
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].restarts, 1);
}

#[tokio::test]
async fn stream_items_start_traces_linked_to_the_span_that_attached_the_stream() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let (finished_tx, finished) = mpsc::channel();
    let consumer = system
        .spawn("consumer", move || Consumer {
            finished: Some(finished_tx.clone()),
            ..Consumer::default()
        })
        .unwrap();
    let cx = root(&telemetry, "request");
    let items = futures::stream::iter(0..5).map(Item);
    consumer
        .ask(Attach(items.boxed()))
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    tokio::task::spawn_blocking(move || finished.recv_timeout(PATIENCE).unwrap())
        .await
        .unwrap();
    system.shutdown().await;

    let spans = store.spans();
    let request = store.one("request");
    let of = |suffix: &str| -> Vec<_> {
        spans
            .iter()
            .filter(|s| s.name() == "process consumer")
            .filter(|s| {
                s.attribute(MESSAGE_TYPE)
                    .is_some_and(|t| t.as_str().ends_with(suffix))
            })
            .collect()
    };
    let [attach] = of("Attach")[..] else {
        panic!("one `Attach`")
    };
    assert_eq!(attach.trace_id(), request.trace_id());
    let mut linked = of("Item");
    assert_eq!(linked.len(), 5);
    linked.extend(of("StreamFinished"));
    assert_eq!(linked.len(), 6);
    let traces: HashSet<TraceId> = linked.iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 6, "each item its own trace");
    assert!(!traces.contains(&request.trace_id()));
    for span in &linked {
        assert_eq!(span.parent_span_id(), SpanId::INVALID);
        let links = &span.span.links.links;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].span_context.span_id(), attach.span_id());
    }
    assert_all_exported(&telemetry, &store);
}
