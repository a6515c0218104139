//! [`ActorSystem`]: spawns actors on their threads, keeps the registry, stops them in order.
//!
//! One file per concern: [`builder`] (configuring), [`settings`] (what was configured),
//! [`registry`] (the live actors and the reports of those that stopped), [`spawn`]
//! (starting an actor's thread), [`shutdown`] (the ordered stop) and [`report`] (what it
//! says).

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use opentelemetry::metrics::ObservableUpDownCounter;

use crate::current;
use crate::metrics;
use crate::system::registry::Registry;
use crate::system::settings::Settings;

pub(crate) mod builder;
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod settings;
pub(crate) mod shutdown;
pub(crate) mod spawn;

/// A group of actors sharing a system: spawn them, find them by name, shut them down in order.
/// Cheap to clone; every clone is the same system.
///
/// Dropping the last clone the application holds shuts the system down in order, like an
/// explicit [`blocking_shutdown`](ActorSystem::blocking_shutdown): every mailbox is drained,
/// `stopped` runs, each actor's pipeline is flushed and the system's own pipeline last,
/// within the shutdown timeout. The drop blocks the dropping thread until then (it never
/// panics, also inside an async runtime). The handle a handler gets from
/// [`Ctx::system`](crate::Ctx::system) (and its clones) does not keep the system alive, so
/// actors cannot keep their own system from shutting down.
pub struct ActorSystem {
    inner: Arc<SystemInner>,
    /// Present on the application's handles: the last one dropped shuts the system down.
    owner: Option<Arc<Owner>>,
}

impl Clone for ActorSystem {
    fn clone(&self) -> Self {
        ActorSystem {
            inner: self.inner.clone(),
            owner: self.owner.clone(),
        }
    }
}

/// Shuts the system down when the application's last handle goes.
struct Owner {
    inner: Arc<SystemInner>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let system = ActorSystem {
            inner: self.inner.clone(),
            owner: None,
        };
        // A no-op when the application already shut the system down.
        drop(system.shutdown_from(current::actor()));
    }
}

impl std::fmt::Debug for ActorSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorSystem")
            .field("name", &self.name())
            .finish()
    }
}

struct SystemInner {
    settings: Arc<Settings>,
    registry: Mutex<Registry>,
    /// `actor.system.actors`, observed while the system lives (with metrics on).
    _live_actors: Option<ObservableUpDownCounter<i64>>,
}

impl ActorSystem {
    /// A running system with these settings, owned by the returned handle.
    fn new(settings: Settings) -> ActorSystem {
        let inner = Arc::new_cyclic(|me: &Weak<SystemInner>| {
            let me = me.clone();
            let live_actors = settings.tracing.system_meter.as_ref().map(|meter| {
                metrics::observe_live_actors(meter, &settings.name, move || {
                    let inner = me.upgrade()?;
                    let n = inner.registry.lock().ok()?.len();
                    Some(n)
                })
            });
            SystemInner {
                settings: Arc::new(settings),
                registry: Mutex::new(Registry::default()),
                _live_actors: live_actors,
            }
        });
        ActorSystem {
            owner: Some(Arc::new(Owner {
                inner: inner.clone(),
            })),
            inner,
        }
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    /// Names of the live actors, in spawn order.
    pub fn actor_names(&self) -> Vec<String> {
        self.registry().names()
    }

    /// Messages that reached no handler so far, across the system's actors (see
    /// [`DeadLetter`](crate::DeadLetter)).
    pub fn dead_letters(&self) -> u64 {
        self.inner.settings.dead_letters.count()
    }

    /// A handle on the same system that does not keep it alive (for actor threads).
    pub(crate) fn handle(&self) -> ActorSystem {
        ActorSystem {
            inner: self.inner.clone(),
            owner: None,
        }
    }

    pub(crate) fn settings(&self) -> &Arc<Settings> {
        &self.inner.settings
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry holds no invariant a panicking holder could break halfway.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Extracts the context of a trace that started outside (HTTP headers, a queue
    /// message, another language's SDK) with the propagator this system knows: its
    /// [`Propagation::Carrier`](crate::trace::Propagation::Carrier) propagator, else its
    /// instrumentation's (W3C trace context and baggage for `actor-otel`), else the global
    /// one, which is W3C when none is installed. Under the default
    /// [`CarrierPolicy`](crate::trace::carrier::CarrierPolicy). Then
    /// `actor.tell(msg).with_context(cx)`.
    pub fn extract(
        &self,
        carrier: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        let tracing = &self.inner.settings.tracing;
        crate::trace::carrier::extract_for(
            &tracing.options.propagation,
            tracing.instrumentation.as_deref(),
            carrier,
        )
    }
}
