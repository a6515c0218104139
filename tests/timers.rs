//! Timers on real actor threads: a one-shot fires once, an interval fires until cancelled,
//! a cancelled tick already queued is discarded, a restart cancels the timers of the state
//! that panicked, a stop or shutdown ends them without dead letters, cancelling after the
//! fire is harmless; and their traces: each fired message starts a new trace linked to the
//! span that set the timer. No timing assertions: a later timer on the same actor is the
//! witness that an earlier one did (not) fire.

mod common;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use actor_core::trace::attribute::MESSAGE_TYPE;
use actor_core::{ActorRef, ActorSystem, StopReason};
use actor_otel::PipelineMode;
use common::scheduled::*;
use common::telemetry::*;
use common::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};

const MS: Duration = Duration::from_millis(1);

fn timed(system: &ActorSystem, name: &str) -> (ActorRef<Timed>, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let actor = system
        .spawn(name, move || Timed::new(tx.clone()))
        .expect("spawn");
    assert_eq!(next_event(&rx), "started");
    (actor, rx)
}

#[test]
fn send_after_fires_once() {
    let system = system();
    let (actor, events) = timed(&system, "once");
    actor.blocking_tell(After(5 * MS)).unwrap();
    assert_eq!(next_event(&events), "fired");
    // A later timer on the same actor: a second `fired` would come before it.
    actor.blocking_tell(CheckAfter(50 * MS)).unwrap();
    assert_eq!(next_event(&events), "check active=[false]");
    assert_eq!(actor.blocking_ask(Active).unwrap(), vec![false]);
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].dead_letters, 0);
}

#[test]
fn an_interval_fires_repeatedly_and_stops_when_cancelled() {
    let system = system();
    let (actor, events) = timed(&system, "interval");
    actor
        .blocking_tell(Every {
            period: 2 * MS,
            cancel_at: 5,
        })
        .unwrap();
    assert_eq!(
        events_until(&events, "check"),
        [
            "tick 1",
            "tick 2",
            "tick 3",
            "tick 4",
            "tick 5",
            "cancelled active=[false]",
            "check active=[false]",
        ]
    );
    system.blocking_shutdown();
    // Nothing after the check but the stop.
    assert_eq!(
        events.try_iter().collect::<Vec<_>>(),
        ["stopped active=[false]"]
    );
}

#[test]
fn a_tick_queued_when_its_timer_is_cancelled_is_discarded() {
    let system = system();
    let (actor, events) = timed(&system, "discard");
    actor.blocking_tell(CancelWhileQueued).unwrap();
    assert_eq!(
        events_until(&events, "check"),
        ["queued 1", "cancelled active=false", "check active=[]"]
    );
    system.blocking_shutdown();
}

#[test]
fn a_timer_cancelled_by_a_restart_never_fires() {
    let system = system();
    let (actor, events) = timed(&system, "restarted");
    actor.blocking_tell(ScheduleThenPanic(10 * MS)).unwrap();
    assert_eq!(next_event(&events), "started", "restarted after the panic");
    // Set after the restart, due well after the cancelled timer: had that one fired, its
    // `fired` would come first.
    actor.blocking_tell(CheckAfter(100 * MS)).unwrap();
    assert_eq!(next_event(&events), "check active=[]");
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].restarts, 1);
    assert_eq!(report.actors[0].dead_letters, 0);
    assert_eq!(events.try_iter().collect::<Vec<_>>(), ["stopped active=[]"]);
}

#[test]
fn a_timer_set_by_a_started_that_panicked_never_fires() {
    use actor_core::{Actor, Ctx};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// Sets a timer in `started`, and panics there the first time.
    struct Unlucky {
        inner: Timed,
        starts: Arc<AtomicU32>,
    }
    impl Actor for Unlucky {
        async fn started(&mut self, cx: &mut Ctx<Self>) {
            if self.starts.fetch_add(1, Ordering::SeqCst) == 0 {
                cx.send_after(Fired, 10 * MS);
                panic!("first start");
            }
            let _ = self.inner.events.send("started".into());
            cx.send_after(Check, 100 * MS);
        }
    }
    impl actor_core::Handler<Fired> for Unlucky {
        async fn handle(&mut self, _: Fired, _cx: &mut Ctx<Self>) {
            let _ = self.inner.events.send("fired".into());
        }
    }
    impl actor_core::Handler<Check> for Unlucky {
        async fn handle(&mut self, _: Check, _cx: &mut Ctx<Self>) {
            let _ = self.inner.events.send("check".into());
        }
    }

    let system = system();
    let (tx, events) = mpsc::channel();
    let starts = Arc::new(AtomicU32::new(0));
    let _actor = system
        .spawn("unlucky", move || Unlucky {
            inner: Timed::new(tx.clone()),
            starts: starts.clone(),
        })
        .unwrap();
    assert_eq!(next_event(&events), "started");
    assert_eq!(next_event(&events), "check");
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].restarts, 1);
}

#[test]
fn timers_end_at_a_stop_without_dead_letters() {
    let system = system();
    let (actor, events) = timed(&system, "stopping");
    actor
        .blocking_tell(After(Duration::from_secs(3600)))
        .unwrap();
    actor
        .blocking_tell(Every {
            period: MS,
            cancel_at: u32::MAX,
        })
        .unwrap();
    events_until(&events, "tick 3");
    actor.stop();
    let report = actor.blocking_wait_stopped().expect("a report");
    assert_eq!(report.reason, StopReason::Requested);
    assert_eq!(report.dead_letters, 0);
    assert_eq!(report.panics, 0);
    let rest = events.try_iter().collect::<Vec<_>>();
    assert_eq!(rest.last().unwrap(), "stopped active=[false, false]");
    assert_eq!(system.dead_letters(), 0);
    system.blocking_shutdown();
}

#[test]
fn timers_end_at_shutdown_without_dead_letters() {
    let system = system();
    let mut all = Vec::new();
    for i in 0..4 {
        let (actor, events) = timed(&system, &format!("ticker{i}"));
        actor
            .blocking_tell(Every {
                period: MS,
                cancel_at: u32::MAX,
            })
            .unwrap();
        actor.blocking_tell(After(MS)).unwrap();
        all.push(events);
    }
    for events in &all {
        events_until(events, "tick 2");
    }
    let report = system.blocking_shutdown();
    assert!(report.all_in_time());
    for actor in &report.actors {
        assert_eq!(actor.dead_letters, 0, "{actor:?}");
        assert_eq!(actor.panics, 0, "{actor:?}");
    }
    assert_eq!(system.dead_letters(), 0);
    for events in &all {
        let rest = events.try_iter().collect::<Vec<_>>();
        assert_eq!(rest.last().unwrap(), "stopped active=[false, false]");
    }
}

#[test]
fn cancel_after_the_fire_is_harmless() {
    let system = system();
    let (actor, events) = timed(&system, "late");
    actor.blocking_tell(After(MS)).unwrap();
    assert_eq!(next_event(&events), "fired");
    assert_eq!(actor.blocking_ask(CancelAll).unwrap(), vec![false]);
    // The actor still works, and its new timers too.
    actor.blocking_tell(After(MS)).unwrap();
    assert_eq!(next_event(&events), "fired");
    let report = system.blocking_shutdown();
    assert_eq!(report.actors[0].panics, 0);
    assert_eq!(report.actors[0].dead_letters, 0);
}

/// The `process timed` spans of messages of type `suffix`.
fn processes_of<'a>(
    spans: &'a [actor_otel::testing::ExportedSpan],
    suffix: &str,
) -> Vec<&'a actor_otel::testing::ExportedSpan> {
    spans
        .iter()
        .filter(|s| s.name() == "process timed")
        .filter(|s| {
            s.attribute(MESSAGE_TYPE)
                .is_some_and(|t| t.as_str().ends_with(suffix))
        })
        .collect()
}

#[tokio::test]
async fn a_fired_message_starts_a_trace_linked_to_the_span_that_set_the_timer() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let (tx, events) = mpsc::channel();
    let actor = system
        .spawn("timed", move || Timed::new(tx.clone()))
        .unwrap();
    let cx = root(&telemetry, "request");
    actor
        .tell(After(MS))
        .with_context(cx.clone())
        .await
        .unwrap();
    actor
        .tell(Every {
            period: MS,
            cancel_at: 4,
        })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = events_until(&events, "check");
        seen.retain(|e| e == "fired");
        seen
    })
    .await
    .unwrap();
    assert_eq!(seen, ["fired"]);
    system.shutdown().await;

    let spans = store.spans();
    let request = store.one("request");
    let [set_once] = processes_of(&spans, "After")[..] else {
        panic!("one `After`")
    };
    let [set_every] = processes_of(&spans, "Every")[..] else {
        panic!("one `Every`")
    };
    assert_eq!(set_once.trace_id(), request.trace_id());
    assert_eq!(set_every.trace_id(), request.trace_id());

    let [fired] = processes_of(&spans, "Fired")[..] else {
        panic!("one `Fired`")
    };
    assert_ne!(fired.trace_id(), request.trace_id(), "a new trace");
    assert_eq!(fired.parent_span_id(), SpanId::INVALID, "a root");
    let links = &fired.span.links.links;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].span_context.span_id(), set_once.span_id());

    let ticks = processes_of(&spans, "Tick");
    assert_eq!(ticks.len(), 4);
    let tick_spans: HashSet<SpanId> = ticks.iter().map(|t| t.span_id()).collect();
    let traces: HashSet<TraceId> = ticks.iter().map(|t| t.trace_id()).collect();
    assert_eq!(traces.len(), 4, "each tick its own trace");
    assert!(!traces.contains(&request.trace_id()));
    for tick in &ticks {
        assert_eq!(tick.parent_span_id(), SpanId::INVALID);
        let links = &tick.span.links.links;
        assert_eq!(links.len(), 1);
        // Linked to the span that set the interval, never to the previous tick.
        assert_eq!(links[0].span_context.span_id(), set_every.span_id());
        assert!(!tick_spans.contains(&links[0].span_context.span_id()));
    }
    // No `send` span per firing: the scheduling trace does not grow with the ticks.
    let in_request = spans
        .iter()
        .filter(|s| s.trace_id() == request.trace_id())
        .count();
    assert_eq!(in_request, 5, "request, two sends, two processes");
    assert_all_exported(&telemetry, &store);
}

#[test]
fn a_kill_cancels_the_timers_too() {
    let system = system();
    let (actor, events) = timed(&system, "killed");
    actor
        .blocking_tell(Every {
            period: MS,
            cancel_at: u32::MAX,
        })
        .unwrap();
    events_until(&events, "tick 2");
    actor.kill();
    let report = actor.blocking_wait_stopped().expect("a report");
    assert_eq!(report.reason, StopReason::Killed);
    assert_eq!(report.panics, 0);
    // A tick queued at the kill is one of the killed (a dead letter, not lost silently);
    // none comes after it.
    assert_eq!(report.dead_letters, report.killed);
    let rest = events.try_iter().collect::<Vec<_>>();
    assert_eq!(rest.last().unwrap(), "stopped active=[false]");
    system.blocking_shutdown();
}
