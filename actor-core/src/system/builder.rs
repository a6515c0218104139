//! Configuring a system ([`ActorSystemBuilder`]) and one actor ([`ActorBuilder`]).

use std::sync::Arc;
use std::time::Duration;

use crate::actor::Actor;
use crate::actor_thread::spin::DEFAULT_SPIN;
use crate::actor_thread::supervision::Supervision;
use crate::dead_letter::{DeadLetter, DeadLetterHandler, DeadLetterOffice};
use crate::error::SpawnError;
use crate::handle::actor_ref::ActorRef;
use crate::handle::pool::PoolBuilder;
use crate::info::{ActorId, ActorInfo};
use crate::mailbox::size::MailboxSize;
use crate::metrics::MetricsOptions;
use crate::system::settings::{ActorOptions, Hooks, Settings};
use crate::system::ActorSystem;
use crate::trace::instrumentation::Instrumentation;
use crate::trace::options::{Relation, TracingOptions};
use crate::trace::send::Tracing;
use crate::tree::node::Node;
use crate::tree::strategy::SupervisionStrategy;

impl ActorSystem {
    /// Starts configuring a system.
    pub fn builder() -> ActorSystemBuilder {
        ActorSystemBuilder {
            name: "actor-system".into(),
            mailbox: MailboxSize::default(),
            supervision: Supervision::default(),
            stop_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(10),
            ask_timeout: Some(Duration::from_secs(5)),
            spin: DEFAULT_SPIN,
            tracing: TracingOptions::default(),
            instrumentation: None,
            metrics: MetricsOptions::default(),
            hooks: Hooks::default(),
            dead_letters: None,
        }
    }

    /// Configures an actor before spawning it.
    pub fn actor(&self, name: impl Into<String>) -> ActorBuilder<'_> {
        ActorBuilder {
            system: self,
            name: name.into(),
            options: self.settings().actor_defaults(),
            parent: None,
        }
    }

    /// Configures a pool of `workers` actors behind one reference.
    pub fn pool(&self, name: impl Into<String>, workers: usize) -> PoolBuilder<'_> {
        PoolBuilder::new(self, name.into(), workers)
    }
}

/// Configures an [`ActorSystem`]: `ActorSystem::builder().name("app").build()`.
#[must_use = "a system builder does nothing until .build()"]
pub struct ActorSystemBuilder {
    name: String,
    mailbox: MailboxSize,
    supervision: Supervision,
    stop_timeout: Duration,
    shutdown_timeout: Duration,
    ask_timeout: Option<Duration>,
    spin: Duration,
    tracing: TracingOptions,
    instrumentation: Option<Arc<dyn Instrumentation>>,
    metrics: MetricsOptions,
    hooks: Hooks,
    dead_letters: Option<DeadLetterHandler>,
}

impl std::fmt::Debug for ActorSystemBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorSystemBuilder")
            .field("name", &self.name)
            .field("mailbox", &self.mailbox)
            .field("supervision", &self.supervision)
            .field("stop_timeout", &self.stop_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("ask_timeout", &self.ask_timeout)
            .field("spin", &self.spin)
            .field("tracing", &self.tracing)
            .field("instrumentation", &self.instrumentation.is_some())
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl ActorSystemBuilder {
    /// The system's name (the `service.name` default in `actor-otel`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Default mailbox size for actors (default: bounded, 1024).
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.mailbox = size;
        self
    }

    /// Default supervision policy (default: restart 3 times within 10 s).
    pub fn supervision(mut self, policy: Supervision) -> Self {
        self.supervision = policy;
        self
    }

    /// Default ask timeout (default: 5 s; `None` waits forever).
    pub fn ask_timeout(mut self, limit: Option<Duration>) -> Self {
        self.ask_timeout = limit;
        self
    }

    /// Longest spin before an idle actor parks its thread, and before an ask awaits its
    /// reply (default: 20 µs). Spinning only happens
    /// while recent waits were shorter than this, so an idle actor costs no CPU; it saves
    /// the thread wake-up in request/reply traffic. After a late reply, the next ask probes with
    /// a spin 100 µs longer, to find out whether spinning pays off again; while probes
    /// miss, one ask in 16 to 1,024 (fewer after each miss) probes. `Duration::ZERO` turns it off.
    pub fn spin(mut self, limit: Duration) -> Self {
        self.spin = limit;
        self
    }

    /// The longest shutdown waits for any one actor to drain, stop and flush (default:
    /// 5 s). An actor that misses it is reported `DeadlineExceeded` and left behind, and
    /// the next one in the stop order is stopped.
    pub fn stop_timeout(mut self, limit: Duration) -> Self {
        self.stop_timeout = limit;
        self
    }

    /// The longest shutdown waits for all actors together (default: 10 s): one deadline
    /// for the whole stop order, however many actors are stuck. Past it, the actors not
    /// yet stopped are asked to stop at once and reported `DeadlineExceeded`. The system
    /// pipeline's final flush comes after, bounded by its own flush timeout.
    pub fn shutdown_timeout(mut self, limit: Duration) -> Self {
        self.shutdown_timeout = limit;
        self
    }

    /// Which spans to make and how contexts travel (see [`TracingOptions`]).
    pub fn tracing(mut self, options: TracingOptions) -> Self {
        self.tracing = options;
        self
    }

    /// Installs an OpenTelemetry SDK integration (see `actor-otel`), which turns on spans.
    pub fn instrumentation(mut self, instrumentation: impl Instrumentation) -> Self {
        self.instrumentation = Some(Arc::new(instrumentation));
        self
    }

    /// How actors record [metrics](crate::metrics), when the instrumentation gives them
    /// meters (see [`MetricsOptions`]).
    pub fn metrics(mut self, options: MetricsOptions) -> Self {
        self.metrics = options;
        self
    }

    /// Runs `hook` on every actor's thread when it starts, before the state is built.
    pub fn on_actor_start(mut self, hook: impl Fn(&ActorInfo) + Send + Sync + 'static) -> Self {
        self.hooks.on_start.push(Arc::new(hook));
        self
    }

    /// Runs `hook` on every actor's thread when it stops, after its mailbox is drained and
    /// its `stopped` hook ran, before the telemetry teardown.
    pub fn on_actor_stop(mut self, hook: impl Fn(&ActorInfo) + Send + Sync + 'static) -> Self {
        self.hooks.on_stop.push(Arc::new(hook));
        self
    }

    /// Calls `handler` for every message that reaches no handler (see [`DeadLetter`]), on
    /// the thread where it was refused or dropped. Keep it short: it may run on an actor's
    /// thread. Dead letters are counted with or without it.
    pub fn on_dead_letter(mut self, handler: impl Fn(&DeadLetter) + Send + Sync + 'static) -> Self {
        self.dead_letters = Some(Arc::new(handler));
        self
    }

    /// Builds the system. No thread starts until the first actor is spawned.
    pub fn build(self) -> ActorSystem {
        if let Some(instrumentation) = &self.instrumentation {
            instrumentation.system_attached();
        }
        ActorSystem::new(self.into_settings())
    }

    /// The settings this builder describes.
    pub(crate) fn into_settings(self) -> Settings {
        Settings {
            name: self.name.into(),
            tracing: Tracing::new(self.tracing, self.instrumentation, self.metrics),
            ask_timeout: self.ask_timeout,
            spin: self.spin,
            mailbox: self.mailbox,
            supervision: self.supervision,
            stop_timeout: self.stop_timeout,
            shutdown_timeout: self.shutdown_timeout,
            hooks: self.hooks,
            dead_letters: DeadLetterOffice::new(self.dead_letters),
        }
    }
}

/// Configures one actor before it is spawned: `system.actor("name").mailbox(..).spawn(factory)`.
#[must_use = "an actor builder does nothing until .spawn()"]
pub struct ActorBuilder<'a> {
    system: &'a ActorSystem,
    name: String,
    options: ActorOptions,
    /// The parent's node, for a child.
    parent: Option<Arc<Node>>,
}

impl std::fmt::Debug for ActorBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorBuilder")
            .field("name", &self.name)
            .field("options", &self.options)
            .field("parent", &self.parent.as_ref().map(|p| p.id))
            .finish()
    }
}

impl ActorBuilder<'_> {
    /// This actor's mailbox size.
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.options.mailbox = size;
        self
    }

    /// How this actor supervises the children it spawns with
    /// [`Ctx::spawn_child`](crate::Ctx::spawn_child) (default:
    /// [`SupervisionStrategy::one_for_one`]).
    pub fn supervise(mut self, strategy: SupervisionStrategy) -> Self {
        self.options.strategy = strategy;
        self
    }

    /// Makes the actor a child of `parent` (from `Ctx::child`).
    pub(crate) fn under(mut self, parent: Arc<Node>) -> Self {
        self.parent = Some(parent);
        self
    }

    /// This actor's supervision policy (for a child, its parent's strategy decides).
    pub fn supervision(mut self, policy: Supervision) -> Self {
        self.options.supervision = policy;
        self
    }

    /// Binds the actor's thread to CPU core `core` (an index below the number of cores).
    pub fn pin_to_core(mut self, core: usize) -> Self {
        self.options.core = Some(core);
        self
    }

    /// Declares that this actor sends to `other`, so shutdown stops this one first.
    pub fn depends_on(mut self, other: ActorId) -> Self {
        self.options.depends_on.push(other);
        self
    }

    /// How this actor's `process` spans relate to the spans of senders other than itself
    /// (default: [`Relation::Parent`], one trace).
    pub fn trace_from_others(mut self, relation: Relation) -> Self {
        self.options.relations.from_others = relation;
        self
    }

    /// How this actor's `process` spans relate to its messages to itself (default:
    /// [`Relation::Link`], a new linked trace, so timers and loops do not grow one trace).
    pub fn trace_self_sends(mut self, relation: Relation) -> Self {
        self.options.relations.from_self = relation;
        self
    }

    /// Starts the actor's thread; `factory` builds the state there (and again at each restart).
    pub fn spawn<A, F>(self, factory: F) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        self.system
            .spawn_with(self.name, self.options, self.parent, factory)
    }
}
