//! The system's own instrument: how many actors it runs.

use opentelemetry::metrics::{Meter, ObservableUpDownCounter};
use opentelemetry::KeyValue;

use crate::metrics::attribute::{ACTOR_SYSTEM, LIVE_ACTORS};
use crate::trace::attribute::{MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE};

/// Observes `live()` as `actor.system.actors` of the system `name` while `live` answers.
pub(crate) fn observe_live_actors(
    meter: &Meter,
    name: &str,
    live: impl Fn() -> Option<usize> + Send + Sync + 'static,
) -> ObservableUpDownCounter<i64> {
    let attributes = [
        KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
        KeyValue::new(ACTOR_SYSTEM, name.to_owned()),
    ];
    meter
        .i64_observable_up_down_counter(LIVE_ACTORS)
        .with_unit("{actor}")
        .with_description("Actors running in the system")
        .with_callback(move |observer| {
            if let Some(n) = live() {
                observer.observe(n as i64, &attributes);
            }
        })
        .build()
}
