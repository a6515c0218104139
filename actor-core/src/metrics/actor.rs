//! [`ActorMetrics`]: one actor's instruments, made on its thread from the meter its
//! instrumentation gave it, and recorded by the receive loop.

use std::sync::{Arc, Weak};
use std::time::Instant;

use opentelemetry::metrics::{
    BoundCounter, BoundGauge, BoundHistogram, Counter, Histogram, Meter, ObservableCounter,
};
use opentelemetry::KeyValue;

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
    consumed: BoundCounter<u64>,
    duration: BoundHistogram<f64>,
    wait: BoundHistogram<f64>,
}

/// One actor's instruments, on its thread.
pub(crate) struct ActorMetrics {
    /// `messaging.system`, `messaging.destination.name`, `actor.system`.
    base: Vec<KeyValue>,
    consumed: Counter<u64>,
    duration: Histogram<f64>,
    wait: Histogram<f64>,
    types: Vec<TypeSeries>,
    panics: BoundCounter<u64>,
    restarts: BoundCounter<u64>,
    depth: BoundGauge<u64>,
    /// Kept so the observation of sends lives as long as the actor's instruments.
    _sent: ObservableCounter<u64>,
    every: u32,
    tick: u32,
    /// Whether every message carries its send time (spans on): then the wait is sampled
    /// here, with the durations; otherwise senders sampled the messages they timed.
    stamps_sampled: bool,
}

/// A handler call being measured.
pub(crate) struct Measure {
    started: Instant,
}

impl ActorMetrics {
    /// The instruments of the actor `name` in system `system`, from `meter`; the sends
    /// counted in `sent` are observed while the actor lives.
    pub(crate) fn new(
        meter: &Meter,
        name: &str,
        system: &str,
        sent: &Arc<SentCounts>,
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
        let sent = observe_sent(meter, Arc::downgrade(sent), with(&[]));
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
        let depth = meter
            .u64_gauge(DEPTH)
            .with_unit("{message}")
            .with_description("Messages queued in the actor's mailbox when it took its last batch")
            .build()
            .bind(&base);
        ActorMetrics {
            consumed: meter
                .u64_counter(CONSUMED)
                .with_unit("{message}")
                .with_description("Messages the actor handled")
                .build(),
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
            depth,
            _sent: sent,
            every: options.every(),
            tick: 0,
            stamps_sampled: !every_message_timed,
        }
    }

    /// Called before a handler runs: `Some` when this message's durations are sampled.
    #[inline]
    pub(crate) fn begin(&mut self) -> Option<Measure> {
        self.tick += 1;
        if self.tick < self.every {
            return None;
        }
        self.tick = 0;
        Some(Measure {
            started: Instant::now(),
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
        series.consumed.add(1);
        match measure {
            Some(Measure { started }) => {
                series.duration.record(started.elapsed().as_secs_f64());
                if let Some(waited) = stamp.waited_until(started) {
                    series.wait.record(waited.as_secs_f64());
                }
            }
            None if stamps_sampled => {
                if let Some(waited) = stamp.waited_until(Instant::now()) {
                    series.wait.record(waited.as_secs_f64());
                }
            }
            None => {}
        }
    }

    /// Records the mailbox depth seen when a batch was taken.
    #[inline]
    pub(crate) fn depth(&self, queued: usize) {
        self.depth.record(queued as u64);
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
        let shown = if self.types.len() < MAX_MESSAGE_TYPES {
            message_type
        } else {
            OTHER_TYPE
        };
        let attributes: Vec<KeyValue> = self
            .base
            .iter()
            .cloned()
            .chain([
                KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
                KeyValue::new(MESSAGE_TYPE, shown),
            ])
            .collect();
        self.types.push(TypeSeries {
            message_type,
            consumed: self.consumed.bind(&attributes),
            duration: self.duration.bind(&attributes),
            wait: self.wait.bind(&attributes),
        });
        self.types.len() - 1
    }
}

/// Observes the sends counted in `sent` (while the actor lives) as
/// `messaging.client.sent.messages`.
fn observe_sent(
    meter: &Meter,
    sent: Weak<SentCounts>,
    base: Vec<KeyValue>,
) -> ObservableCounter<u64> {
    let delivered: Vec<KeyValue> = base
        .iter()
        .cloned()
        .chain([KeyValue::new(MESSAGING_OPERATION_NAME, "send")])
        .collect();
    let refused = |why: &'static str| -> Vec<KeyValue> {
        delivered
            .iter()
            .cloned()
            .chain([KeyValue::new(ERROR_TYPE, why)])
            .collect()
    };
    let series = [
        delivered.clone(),
        refused("full"),
        refused("closed"),
        refused("timeout"),
    ];
    meter
        .u64_observable_counter(SENT)
        .with_unit("{message}")
        .with_description("Messages senders handed to the actor's mailbox, and refusals")
        .with_callback(move |observer| {
            let Some(sent) = sent.upgrade() else {
                return;
            };
            for ((_, count), attributes) in sent.read().iter().zip(&series) {
                if *count > 0 || attributes.len() == series[0].len() {
                    observer.observe(*count, attributes);
                }
            }
        })
        .build()
}
