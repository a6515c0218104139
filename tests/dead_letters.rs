//! Priority control and dead letters: `kill` travels outside the mailbox and ends a flooded
//! actor after the message in hand, counting the rest; every message that reaches no
//! handler (refused, dropped by supervision, killed) is counted per actor and per system,
//! reaches the dead-letter handler with its type and its sender's trace context, and
//! leaves a mark in the sender's trace. Counts and order on real threads; time only as
//! generous bounds.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{
    ActorSystem, AskError, DeadLetter, DeadLetterReason, MailboxSize, SendError, StopReason,
    Supervision,
};
use actor_otel::PipelineMode;
use common::telemetry::{assert_all_exported, root};
use common::*;
use opentelemetry::trace::TraceContextExt;

/// A system whose dead letters are also kept in the returned list.
fn system_keeping_dead_letters() -> (ActorSystem, Arc<Mutex<Vec<DeadLetter>>>) {
    let letters = Arc::new(Mutex::new(Vec::new()));
    let kept = letters.clone();
    let system = ActorSystem::builder()
        .name("dead-letters")
        .on_dead_letter(move |letter| kept.lock().unwrap().push(letter.clone()))
        .build();
    (system, letters)
}

/// The type name a dead letter of a `Push` carries.
fn push() -> &'static str {
    std::any::type_name::<Push>()
}

// Kill: outside the mailbox, after the message in hand, the rest counted.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_on_a_flooded_actor_ends_after_the_message_in_hand_and_counts_the_rest() {
    let (system, letters) = system_keeping_dead_letters();
    let probe = system
        .actor("flooded")
        .mailbox(MailboxSize::Unbounded)
        .spawn(Probe::default)
        .unwrap();
    let (gate, key, entered) = Gate::entered();
    probe.tell(gate).await.unwrap();
    // In hand: its handler runs (out of the mailbox is not enough: a batch taken out is
    // not in hand yet, and a kill then ends the actor before it).
    entered.recv_timeout(PATIENCE).expect("the gate in hand");
    for n in 0..10_000 {
        probe.tell(Push(n)).await.unwrap();
    }
    probe.kill();
    assert!(
        matches!(probe.tell(Push(0)).await, Err(SendError::Closed(Push(0)))),
        "a killed actor refuses new messages at once"
    );
    drop(key);
    let report = tokio::time::timeout(PATIENCE, probe.wait_stopped())
        .await
        .expect("a killed actor ends after the message in hand")
        .expect("its report");
    assert_eq!(report.reason, StopReason::Killed);
    assert_eq!(report.handled, 1, "only the gate, the message in hand");
    assert_eq!(report.killed, 10_000, "every queued message is counted");
    assert_eq!(
        report.dead_letters, 10_001,
        "the killed ones and the refused one"
    );
    let letters = letters.lock().unwrap().clone();
    let killed = letters
        .iter()
        .filter(|l| l.reason == DeadLetterReason::Killed)
        .count();
    assert_eq!(killed, 10_000);
    assert!(letters
        .iter()
        .all(|l| l.actor == probe.id() && l.message_type == push()));
    assert!(letters.iter().filter(|l| !l.returned).count() == 10_000);
    assert_eq!(system.dead_letters(), 10_001);
    let report = system.shutdown().await;
    assert_eq!(
        report.actors[0].reason,
        StopReason::Killed,
        "kept in the report"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_where_kill_does_not() {
    let system = system();
    let probe = system.spawn("drained", Probe::default).unwrap();
    let (gate, key, entered) = Gate::entered();
    probe.tell(gate).await.unwrap();
    entered.recv_timeout(PATIENCE).expect("the gate in hand");
    for n in 0..100 {
        probe.tell(Push(n)).await.unwrap();
    }
    probe.stop();
    drop(key);
    let report = probe.wait_stopped().await.unwrap();
    assert_eq!(report.reason, StopReason::Requested);
    assert_eq!(report.handled, 101);
    assert_eq!(report.killed, 0);
    assert_eq!(report.dead_letters, 0);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asks_queued_at_a_kill_are_told_and_a_kill_after_a_stop_cuts_the_drain() {
    let system = system();
    let probe = system.spawn("asked", Probe::default).unwrap();
    let (gate, key, entered) = Gate::entered();
    probe.tell(gate).await.unwrap();
    entered.recv_timeout(PATIENCE).expect("the gate in hand");
    let asks: Vec<_> = (0..5)
        .map(|_| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.ask(Seen).await })
        })
        .collect();
    eventually("the asks to be queued", || probe.load() == 5);
    probe.stop();
    probe.kill();
    drop(key);
    for ask in asks {
        assert!(matches!(ask.await.unwrap(), Err(AskError::Dropped)));
    }
    let report = probe.wait_stopped().await.unwrap();
    assert_eq!((report.reason, report.killed), (StopReason::Killed, 5));
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_reaches_a_bounded_mailbox_that_is_full_and_ends_its_waiting_senders() {
    let system = system();
    let (probe, key) = held_with_mailbox(&system, "full", 4).await;
    for n in 0..4 {
        probe.tell(Push(n)).await.unwrap();
    }
    let waiting = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.tell(Push(99)).await })
    };
    eventually("the sender to wait for room", || !waiting.is_finished());
    probe.kill();
    assert!(matches!(
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .unwrap()
            .unwrap(),
        Err(SendError::Closed(Push(99)))
    ));
    drop(key);
    let report = probe.wait_stopped().await.unwrap();
    assert_eq!((report.handled, report.killed), (1, 4));
    system.shutdown().await;
}

// Dead letters: refused, dropped and killed messages, counted and handed over.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sends_are_dead_letters_that_went_back_to_their_sender() {
    let (system, letters) = system_keeping_dead_letters();
    let (probe, key) = held_with_mailbox(&system, "narrow", 1).await;
    probe.tell(Push(1)).await.unwrap();
    let full = probe.try_tell(Push(2));
    assert!(matches!(full, Err(SendError::Full(Push(2)))));
    let timed_out = probe.tell(Push(3)).timeout(Duration::from_millis(20)).await;
    assert!(matches!(timed_out, Err(SendError::Timeout(Push(3)))));
    drop(key);
    probe.stop();
    let report = probe.wait_stopped().await.unwrap();
    let closed = probe.tell(Push(4)).await;
    assert!(matches!(closed, Err(SendError::Closed(Push(4)))));
    let reasons: Vec<_> = letters.lock().unwrap().iter().map(|l| l.reason).collect();
    assert_eq!(
        reasons,
        [
            DeadLetterReason::Full,
            DeadLetterReason::TimedOut,
            DeadLetterReason::Closed
        ]
    );
    assert!(letters.lock().unwrap().iter().all(|l| l.returned));
    assert_eq!(report.dead_letters, 2, "those before its report was made");
    assert_eq!(system.dead_letters(), 3, "the system counts them all");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_when_supervision_gives_up_are_dead_letters() {
    let (system, letters) = system_keeping_dead_letters();
    let probe = system
        .actor("fragile")
        .supervision(Supervision::Stop)
        .spawn(Probe::default)
        .unwrap();
    let (gate, key, entered) = Gate::entered();
    probe.tell(gate).await.unwrap();
    entered.recv_timeout(PATIENCE).expect("the gate in hand");
    probe.tell(Boom).await.unwrap();
    for n in 0..10 {
        probe.tell(Push(n)).await.unwrap();
    }
    drop(key);
    let report = probe.wait_stopped().await.unwrap();
    assert_eq!(report.reason, StopReason::Failed);
    assert_eq!(report.dropped, 10);
    let letters = letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 10);
    assert!(letters
        .iter()
        .all(|l| l.reason == DeadLetterReason::Dropped && !l.returned && l.message_type == push()));
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_dead_letter_handler_is_contained() {
    let system = ActorSystem::builder()
        .on_dead_letter(|_| panic!("handler bug"))
        .build();
    let probe = system.spawn("p", Probe::default).unwrap();
    probe.stop();
    probe.wait_stopped().await.unwrap();
    assert!(probe.tell(Push(1)).await.is_err());
    assert_eq!(system.dead_letters(), 1);
    system.shutdown().await;
}

// The trace: the dead letter carries the sender's context and shows in its trace.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_carry_the_senders_context_and_show_in_its_trace() {
    let letters = Arc::new(Mutex::new(Vec::<DeadLetter>::new()));
    let kept = letters.clone();
    let store = actor_otel::testing::SpanStore::new();
    let telemetry = actor_otel::Telemetry::builder()
        .service_name("dead-letters")
        .exporter(actor_otel::Exporter::memory(&store))
        .pipeline(PipelineMode::PerActor)
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name("dead-letters")
        .instrumentation(telemetry.clone())
        .on_dead_letter(move |letter| kept.lock().unwrap().push(letter.clone()))
        .build();
    let probe = system
        .actor("killed")
        .mailbox(MailboxSize::Bounded(2))
        .spawn(Probe::default)
        .unwrap();
    let (gate, key, entered) = Gate::entered();
    probe.tell(gate).await.unwrap();
    entered.recv_timeout(PATIENCE).expect("the gate in hand");

    let cx = root(&telemetry, "caller");
    let trace_id = cx.span().span_context().trace_id();
    {
        let _attached = cx.clone().attach();
        probe.try_tell(Push(1)).unwrap();
        probe.try_tell(Push(2)).unwrap();
        assert!(probe.try_tell(Push(3)).is_err(), "full");
    }
    probe.kill();
    drop(key);
    probe.wait_stopped().await.unwrap();
    cx.span().end();
    system.shutdown().await;
    telemetry.shutdown().unwrap();

    let letters = letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 3, "one refused, two killed");
    for letter in letters.iter() {
        assert_eq!(
            letter.context.span().span_context().trace_id(),
            trace_id,
            "{:?} carries the sender's context",
            letter.reason
        );
    }
    // The refused one: an event on the refused `send` span.
    let refused: Vec<_> = store
        .named("send killed")
        .into_iter()
        .filter(|s| s.span.events.iter().any(|e| e.name == "dead letter"))
        .collect();
    assert_eq!(refused.len(), 1, "the full mailbox's refusal");
    // The killed ones: a `dead letter` span each, in the sender's trace.
    let dead = store.named("dead letter killed");
    assert_eq!(dead.len(), 2);
    let caller = store.one("caller");
    for span in &dead {
        assert_eq!(span.trace_id(), trace_id);
        assert_eq!(
            span.attribute("actor.dead_letter.reason"),
            Some(&"killed".into())
        );
    }
    assert!(dead.iter().all(|s| store
        .named("send killed")
        .iter()
        .any(|send| s.is_child_of(send) && send.is_child_of(&caller))));
    assert_all_exported(&telemetry, &store);
}
