//! Span records into exported spans: what the hub thread does with the framework's own
//! `send` and `process` spans, recorded compactly on the hot path (see
//! `actor_core::trace::record`), before they meet the exporter.

use opentelemetry::trace::{SpanContext, TraceFlags};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use actor_core::trace::SpanRecord;

/// The span an SDK would have exported for `record`, under `scope`.
/// The record is read in place (it is large; its rare extras are taken out of it).
pub(crate) fn to_span_data(record: &mut SpanRecord, scope: &InstrumentationScope) -> SpanData {
    let attributes = record.attributes();
    let links = record.links();
    let (events, status) = match record.extras.take() {
        Some(extras) => (extras.events, extras.status),
        None => (Vec::new(), Default::default()),
    };
    let sc = &record.span_context;
    SpanData {
        // As the SDK exports it: sampled, not remote.
        span_context: SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags() | TraceFlags::SAMPLED,
            false,
            sc.trace_state().clone(),
        ),
        parent_span_id: record.parent_span_id,
        parent_span_is_remote: record.parent_is_remote,
        span_kind: record.operation.kind(),
        name: record.name.clone(),
        start_time: record.start.to_system_time(),
        end_time: record.end.to_system_time(),
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: span_links(links),
        status,
        instrumentation_scope: scope.clone(),
    }
}

fn span_events(events: Vec<opentelemetry::trace::Event>) -> SpanEvents {
    let mut out = SpanEvents::default();
    out.events = events;
    out
}

fn span_links(links: Vec<opentelemetry::trace::Link>) -> SpanLinks {
    let mut out = SpanLinks::default();
    out.links = links;
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId, TraceState};
    use opentelemetry::KeyValue;

    use super::*;
    use actor_core::trace::{Operation, SenderLink};

    /// Records per batch: small enough that the allocator serves them from memory it keeps
    /// (batches of 512 made this thread's heap grow and shrink each round, which measured
    /// page faults more than spans).
    const BATCH: usize = 64;
    const SPANS: usize = 1_000_000;

    /// What building an in-process tell's two spans from their records costs (`send` and
    /// `process`, shaped as the default makes them) and dropping them, as the no-op SDK
    /// exporter does, per span; and, beside it, the least an SDK span of that shape can cost:
    /// its attribute and link vectors made and freed, every value static. Printed; a
    /// measurement, not a test.
    /// `cargo test --release -p actor-otel --lib pipeline::records::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; run it in release"]
    fn cost() {
        // On a thread of its own, as on the hub's thread (its own allocator arena).
        std::thread::spawn(|| {
            let records = per_span(build_records());
            let floor = per_span(build_floor());
            println!("ns per span: records to SpanData {records:.0}; the floor {floor:.0}");
        })
        .join()
        .unwrap();
    }

    fn per_span(elapsed: Duration) -> f64 {
        elapsed.as_nanos() as f64 / SPANS as f64
    }

    /// A tell's `send` and `process` records as the default makes them: no trace state, no
    /// message id, no extras, interned names.
    fn tell_records() -> [SpanRecord; 2] {
        let mut process = crate::wire::tests::records().swap_remove(1);
        crate::wire::tests::without_trace_state(&mut process);
        process.parent_is_remote = false;
        process.message_id = 0;
        process.destination = opentelemetry::Value::from("counter");
        process.thread = Some((opentelemetry::Value::from("counter"), 7));
        let mut send = process.clone();
        send.operation = Operation::Tell;
        send.link = SenderLink::None;
        send.mailbox_wait_ns = None;
        [send, process]
    }

    /// Time spent building and dropping the spans of [`tell_records`], batch by batch (the
    /// records' copies are made outside it).
    fn build_records() -> Duration {
        let tell = tell_records();
        let scope = crate::pipeline::span_output::records_scope();
        let mut records = Vec::with_capacity(BATCH);
        let mut spent = Duration::ZERO;
        for _ in 0..SPANS / BATCH {
            records.extend(tell.iter().cycle().take(BATCH).cloned());
            let start = Instant::now();
            let spans: Vec<SpanData> = records
                .iter_mut()
                .map(|record| to_span_data(record, &scope))
                .collect();
            records.clear();
            drop(std::hint::black_box(spans));
            spent += start.elapsed();
        }
        spent
    }

    /// Time spent building and dropping SDK spans of the `process` record's shape (nine
    /// attributes, one link) with nothing but static values.
    fn build_floor() -> Duration {
        let scope = crate::pipeline::span_output::records_scope();
        let start = Instant::now();
        for round in 0..SPANS / BATCH {
            let spans: Vec<SpanData> = (0..BATCH)
                .map(|i| {
                    let span_context = SpanContext::new(
                        TraceId::from((round * BATCH + i + 1) as u128),
                        SpanId::from(7),
                        TraceFlags::SAMPLED,
                        false,
                        TraceState::NONE,
                    );
                    let mut attributes = Vec::with_capacity(9);
                    for key in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
                        attributes.push(KeyValue::new(key, "v"));
                    }
                    let link = Link::with_context(span_context.clone());
                    SpanData {
                        span_context,
                        parent_span_id: SpanId::from(3),
                        parent_span_is_remote: false,
                        span_kind: SpanKind::Consumer,
                        name: "process x".into(),
                        start_time: SystemTime::UNIX_EPOCH,
                        end_time: SystemTime::UNIX_EPOCH,
                        attributes,
                        dropped_attributes_count: 0,
                        events: SpanEvents::default(),
                        links: span_links(vec![link]),
                        status: Default::default(),
                        instrumentation_scope: scope.clone(),
                    }
                })
                .collect();
            drop(std::hint::black_box(spans));
        }
        start.elapsed()
    }
}
