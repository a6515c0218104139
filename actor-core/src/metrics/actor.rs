//! [`ActorMetrics`]: one actor's instruments, made on its thread from the meter its
//! instrumentation gave it, and recorded by the receive loop.

use crate::trace::clock::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, Histogram, Meter, ObservableCounter, ObservableGauge,
};
use opentelemetry::KeyValue;

use crate::mailbox::room::Room;
use crate::metrics::attribute::{
    ACTOR_SYSTEM, CONSUMED, DEPTH, OTHER_TYPE, PANICS, PROCESS_DURATION, RESTARTS, SENT,
    WAIT_DURATION,
};
use crate::metrics::{MetricsOptions, SentCounts, DURATION_BOUNDARIES, MAX_MESSAGE_TYPES};
use crate::trace::attribute::{
    ERROR_TYPE, MESSAGE_TYPE, MESSAGING_DESTINATION_NAME, MESSAGING_OPERATION_NAME,
    MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE,
};
use crate::trace::meta::Stamp;

/// The series of one message type.
struct TypeSeries {
    message_type: &'static str,
    /// The `actor.message.type` it is recorded under (the type, or `_OTHER`).
    shown: &'static str,
    /// Written only by the actor's thread; observed at collection.
    consumed: Arc<AtomicU64>,
    duration: BoundHistogram<f64>,
    wait: BoundHistogram<f64>,
}

/// The consumed counts of every message type, with their attributes, for the observer.
type ConsumedSeries = Arc<Mutex<Vec<(Vec<KeyValue>, Arc<AtomicU64>)>>>;

/// One actor's instruments, on its thread.
pub(crate) struct ActorMetrics {
    /// `messaging.system`, `messaging.destination.name`, `actor.system`.
    base: Vec<KeyValue>,
    consumed: ConsumedSeries,
    duration: Histogram<f64>,
    wait: Histogram<f64>,
    types: Vec<TypeSeries>,
    panics: BoundCounter<u64>,
    restarts: BoundCounter<u64>,
    /// Kept so the observations live as long as the actor's instruments.
    _observed: (
        ObservableCounter<u64>,
        ObservableCounter<u64>,
        Option<ObservableGauge<u64>>,
    ),
    every: u32,
    tick: u32,
    /// Whether every message carries its send time (spans on): then the wait is sampled
    /// here, with the durations; otherwise senders sampled the messages they timed.
    stamps_sampled: bool,
}

/// A handler call being measured.
pub(crate) struct Measure {
    started: Timestamp,
}

impl ActorMetrics {
    /// The instruments of the actor `name` in system `system`, from `meter`: the sends
    /// counted in `sent` are observed, and the depth of a bounded mailbox (`room`) while
    /// the actor lives.
    pub(crate) fn new(
        meter: &Meter,
        name: &str,
        system: &str,
        sent: &Arc<SentCounts>,
        room: Option<Weak<Room>>,
        options: MetricsOptions,
        every_message_timed: bool,
    ) -> Self {
        let base = vec![
            KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
            KeyValue::new(MESSAGING_DESTINATION_NAME, name.to_owned()),
            KeyValue::new(ACTOR_SYSTEM, system.to_owned()),
        ];
        let with = |extra: &[KeyValue]| -> Vec<KeyValue> {
            base.iter().cloned().chain(extra.iter().cloned()).collect()
        };
        let sent = observe_sent(meter, sent.clone(), with(&[]));
        let consumed = ConsumedSeries::default();
        let observed_consumed = {
            let consumed = consumed.clone();
            meter
                .u64_observable_counter(CONSUMED)
                .with_unit("{message}")
                .with_description("Messages the actor handled")
                .with_callback(move |observer| {
                    for (attributes, count) in
                        consumed.lock().unwrap_or_else(|e| e.into_inner()).iter()
                    {
                        observer.observe(count.load(Ordering::Relaxed), attributes);
                    }
                })
                .build()
        };
        let depth = room.map(|room| {
            let attributes = with(&[]);
            meter
                .u64_observable_gauge(DEPTH)
                .with_unit("{message}")
                .with_description("Messages queued in the actor's bounded mailbox")
                .with_callback(move |observer| {
                    if let Some(room) = room.upgrade() {
                        observer.observe(room.queued() as u64, &attributes);
                    }
                })
                .build()
        });
        let panics = meter
            .u64_counter(PANICS)
            .with_unit("{panic}")
            .with_description("Panics caught in the actor's factory, `started` or handlers")
            .build()
            .bind(&base);
        let restarts = meter
            .u64_counter(RESTARTS)
            .with_unit("{restart}")
            .with_description("Restarts of the actor by its supervision")
            .build()
            .bind(&base);
        ActorMetrics {
            consumed,
            duration: meter
                .f64_histogram(PROCESS_DURATION)
                .with_unit("s")
                .with_description("How long the actor's handler ran for a message (sampled)")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            wait: meter
                .f64_histogram(WAIT_DURATION)
                .with_unit("s")
                .with_description("How long a message waited in the actor's mailbox (sampled)")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            base,
            types: Vec::new(),
            panics,
            restarts,
            _observed: (sent, observed_consumed, depth),
            every: options.every(),
            tick: 0,
            stamps_sampled: !every_message_timed,
        }
    }

    /// Called before a handler runs: `Some` when this message's durations are sampled.
    #[inline]
    pub(crate) fn begin(&mut self) -> Option<Measure> {
        // The first message is measured, then one in `every`.
        if self.tick > 0 {
            self.tick -= 1;
            return None;
        }
        self.tick = self.every - 1;
        Some(Measure {
            started: Timestamp::now(),
        })
    }

    /// Records a handled message of `message_type`, sent at `stamp`.
    #[inline]
    pub(crate) fn handled(
        &mut self,
        message_type: &'static str,
        measure: Option<Measure>,
        stamp: Stamp,
    ) {
        let stamps_sampled = self.stamps_sampled;
        let series = self.series(message_type);
        // One writer: a load and a store, no read-modify-write.
        let consumed = series.consumed.load(Ordering::Relaxed);
        series.consumed.store(consumed + 1, Ordering::Relaxed);
        match measure {
            Some(Measure { started }) => {
                series
                    .duration
                    .record(Timestamp::now().since(started).as_secs_f64());
                if let Some(waited) = stamp.waited_until(started) {
                    series.wait.record(waited.as_secs_f64());
                }
            }
            // Only timed messages read the clock: the senders sampled them.
            None if stamps_sampled && stamp.is_timed() => {
                if let Some(waited) = stamp.waited_until(Timestamp::now()) {
                    series.wait.record(waited.as_secs_f64());
                }
            }
            None => {}
        }
    }

    /// Counts a panic caught.
    pub(crate) fn panicked(&self) {
        self.panics.add(1);
    }

    /// Counts a restart.
    pub(crate) fn restarted(&self) {
        self.restarts.add(1);
    }

    /// The series of `message_type`, made on its first message.
    #[inline]
    fn series(&mut self, message_type: &'static str) -> &TypeSeries {
        // Few types per actor: a pointer comparison usually finds it at the first place.
        let found = self.types.iter().position(|s| {
            std::ptr::eq(s.message_type, message_type) || s.message_type == message_type
        });
        let index = match found {
            Some(index) => index,
            None => self.add_series(message_type),
        };
        &self.types[index]
    }

    #[cold]
    fn add_series(&mut self, message_type: &'static str) -> usize {
        // Beyond the cap, a new type shares the series of `_OTHER` (made by the first one).
        let named = self.types.iter().filter(|s| s.shown != OTHER_TYPE).count();
        let shown = if named < MAX_MESSAGE_TYPES {
            message_type
        } else {
            OTHER_TYPE
        };
        let series = match self.types.iter().find(|s| s.shown == OTHER_TYPE) {
            Some(other) if shown == OTHER_TYPE => TypeSeries {
                message_type,
                shown,
                consumed: other.consumed.clone(),
                duration: other.duration.clone(),
                wait: other.wait.clone(),
            },
            _ => {
                let attributes: Vec<KeyValue> = self
                    .base
                    .iter()
                    .cloned()
                    .chain([
                        KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
                        KeyValue::new(MESSAGE_TYPE, shown),
                    ])
                    .collect();
                let consumed = Arc::new(AtomicU64::new(0));
                self.consumed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((attributes.clone(), consumed.clone()));
                TypeSeries {
                    message_type,
                    shown,
                    consumed,
                    duration: self.duration.bind(&attributes),
                    wait: self.wait.bind(&attributes),
                }
            }
        };
        self.types.push(series);
        self.types.len() - 1
    }
}

/// Observes the sends counted in `sent` (while the actor lives) as
/// `messaging.client.sent.messages`.
fn observe_sent(
    meter: &Meter,
    sent: Arc<SentCounts>,
    base: Vec<KeyValue>,
) -> ObservableCounter<u64> {
    let series = SentCounts::OUTCOMES.map(|refused| -> Vec<KeyValue> {
        base.iter()
            .cloned()
            .chain([KeyValue::new(MESSAGING_OPERATION_NAME, "send")])
            .chain(refused.map(|why| KeyValue::new(ERROR_TYPE, why)))
            .collect()
    });
    meter
        .u64_observable_counter(SENT)
        .with_unit("{message}")
        .with_description("Messages senders handed to the actor's mailbox, and refusals")
        .with_callback(move |observer| {
            // Delivered always; a refusal once it happened.
            for (i, (count, attributes)) in sent.read().into_iter().zip(&series).enumerate() {
                if count > 0 || i == 0 {
                    observer.observe(count, attributes);
                }
            }
        })
        .build()
}
