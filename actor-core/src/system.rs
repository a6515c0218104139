//! [`ActorSystem`]: spawns actors on their threads, keeps the registry, stops them in order.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cell::{ActorCell, Startup, SystemShared};
use crate::mailbox::{mailbox, MailboxSize};
use crate::receive::{ActorThread, Body};
use crate::shutdown::stop_order;
use crate::spin::Adaptive;
use crate::telemetry::{
    current_actor, Instrumentation, Relation, Relations, Tracing, TracingOptions,
};
use crate::{
    Actor, ActorId, ActorInfo, ActorRef, ActorReport, PoolBuilder, ShutdownReport, SpawnError,
    Supervision,
};

/// Ids are unique per process, across systems.
static NEXT_ACTOR_ID: AtomicU64 = AtomicU64::new(1);

/// A hook run on an actor's thread.
pub type ActorHook = Arc<dyn Fn(&ActorInfo) + Send + Sync>;

/// Hooks run on every actor's thread at start and at stop.
#[derive(Default)]
pub(crate) struct Hooks {
    pub on_start: Vec<ActorHook>,
    pub on_stop: Vec<ActorHook>,
}

/// Per-actor settings, chosen on an [`ActorBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct ActorOptions {
    pub mailbox: MailboxSize,
    pub supervision: Supervision,
    pub core: Option<usize>,
    pub depends_on: Vec<ActorId>,
    pub relations: Relations,
    pub track_load: bool,
}

/// A group of actors sharing a system: spawn them, find them by name, shut them down in order.
/// Cheap to clone; every clone is the same system.
///
/// Dropping the last clone the application holds shuts the system down in order, like an
/// explicit [`shutdown_blocking`](ActorSystem::shutdown_blocking): every mailbox is drained,
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
        drop(system.shutdown_from(current_actor()));
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
    shared: Arc<SystemShared>,
    hooks: Arc<Hooks>,
    defaults: Defaults,
    registry: Mutex<Registry>,
}

#[derive(Clone)]
struct Defaults {
    mailbox: MailboxSize,
    supervision: Supervision,
    /// The longest shutdown waits for one actor.
    stop_timeout: Duration,
    /// The longest shutdown waits for all actors together.
    shutdown_timeout: Duration,
}

/// Reports of actors that stopped on their own kept for the shutdown report; older ones
/// are only counted, so a system that churns through actors does not grow without bound.
pub const REPORT_HISTORY: usize = 10_000;

#[derive(Default)]
struct Registry {
    /// Live actors by id; ids grow, so this is spawn order.
    actors: BTreeMap<ActorId, Entry>,
    names: HashMap<Arc<str>, ActorId>,
    /// Actors that stopped on their own before shutdown, in the order they stopped.
    finished: VecDeque<ActorReport>,
    /// Reports dropped from `finished` to keep it within [`REPORT_HISTORY`].
    finished_omitted: u64,
    state: SystemState,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum SystemState {
    #[default]
    Running,
    ShuttingDown,
    Stopped,
}

struct Entry {
    name: Arc<str>,
    cell: Arc<ActorCell>,
    /// The `ActorRef<A>`, for lookup by name.
    handle: Box<dyn Any + Send + Sync>,
    done: Option<oneshot::Receiver<ActorReport>>,
    thread: Option<JoinHandle<()>>,
    depends_on: Vec<ActorId>,
}

/// Configures an [`ActorSystem`].
pub struct ActorSystemBuilder {
    name: String,
    defaults: Defaults,
    ask_timeout: Option<Duration>,
    spin: Duration,
    tracing: TracingOptions,
    instrumentation: Option<Arc<dyn Instrumentation>>,
    hooks: Hooks,
}

impl ActorSystemBuilder {
    /// The system's name (the `service.name` default in `actor-otel`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Default mailbox size for actors (default: bounded, 1024).
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.defaults.mailbox = size;
        self
    }

    /// Default supervision policy (default: restart 3 times within 10 s).
    pub fn supervision(mut self, policy: Supervision) -> Self {
        self.defaults.supervision = policy;
        self
    }

    /// Default ask timeout (default: 5 s; `None` waits forever).
    pub fn ask_timeout(mut self, limit: Option<Duration>) -> Self {
        self.ask_timeout = limit;
        self
    }

    /// Longest spin before an idle actor parks its thread, and before an ask awaits its
    /// reply (default: [`DEFAULT_SPIN`](crate::DEFAULT_SPIN), 20 µs). Spinning only happens
    /// while recent waits were shorter than this, so an idle actor costs no CPU; it saves
    /// the thread wake-up in request/reply traffic. `Duration::ZERO` turns it off.
    pub fn spin(mut self, limit: Duration) -> Self {
        self.spin = limit;
        self
    }

    /// The longest shutdown waits for any one actor to drain, stop and flush (default:
    /// 5 s). An actor that misses it is reported `DeadlineExceeded` and left behind, and
    /// the next one in the stop order is stopped.
    pub fn stop_timeout(mut self, limit: Duration) -> Self {
        self.defaults.stop_timeout = limit;
        self
    }

    /// The longest shutdown waits for all actors together (default: 10 s): one deadline
    /// for the whole stop order, however many actors are stuck. Past it, the actors not
    /// yet stopped are asked to stop at once and reported `DeadlineExceeded`. The system
    /// pipeline's final flush comes after, bounded by its own flush timeout.
    pub fn shutdown_timeout(mut self, limit: Duration) -> Self {
        self.defaults.shutdown_timeout = limit;
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

    /// Builds the system. No thread starts until the first actor is spawned.
    pub fn build(self) -> ActorSystem {
        if let Some(instrumentation) = &self.instrumentation {
            instrumentation.system_attached();
        }
        let shared = SystemShared {
            name: self.name.into(),
            tracing: Tracing::new(self.tracing, self.instrumentation),
            ask_timeout: self.ask_timeout,
            spin: self.spin,
        };
        let inner = Arc::new(SystemInner {
            shared: Arc::new(shared),
            hooks: Arc::new(self.hooks),
            defaults: self.defaults,
            registry: Mutex::new(Registry::default()),
        });
        ActorSystem {
            owner: Some(Arc::new(Owner {
                inner: inner.clone(),
            })),
            inner,
        }
    }
}

/// Configures one actor before it is spawned: `system.actor("name").mailbox(..).spawn(factory)`.
#[must_use = "an actor builder does nothing until .spawn()"]
pub struct ActorBuilder<'a> {
    system: &'a ActorSystem,
    name: String,
    options: ActorOptions,
}

impl ActorBuilder<'_> {
    /// This actor's mailbox size.
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.options.mailbox = size;
        self
    }

    /// This actor's supervision policy.
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

    /// How `process` spans relate to senders other than the actor itself (default: child).
    pub fn from_others(mut self, relation: Relation) -> Self {
        self.options.relations.from_others = relation;
        self
    }

    /// How `process` spans relate to the actor's own messages (default: linked, new trace).
    pub fn self_sends(mut self, relation: Relation) -> Self {
        self.options.relations.from_self = relation;
        self
    }

    /// Starts the actor's thread; `factory` builds the state there (and again at each restart).
    pub fn spawn<A, F>(self, factory: F) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        self.system.spawn_with(self.name, self.options, factory)
    }
}

impl ActorSystem {
    /// Starts configuring a system.
    pub fn builder() -> ActorSystemBuilder {
        ActorSystemBuilder {
            name: "actor-system".into(),
            defaults: Defaults {
                mailbox: MailboxSize::default(),
                supervision: Supervision::default(),
                stop_timeout: Duration::from_secs(5),
                shutdown_timeout: Duration::from_secs(10),
            },
            ask_timeout: Some(Duration::from_secs(5)),
            spin: crate::spin::DEFAULT_SPIN,
            tracing: TracingOptions::default(),
            instrumentation: None,
            hooks: Hooks::default(),
        }
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.inner.shared.name
    }

    /// Spawns an actor with the system's defaults. `factory` runs on the actor's new thread,
    /// so the state may be `!Send`.
    pub fn spawn<A, F>(
        &self,
        name: impl Into<String>,
        factory: F,
    ) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        self.actor(name).spawn(factory)
    }

    /// Configures an actor before spawning it.
    pub fn actor(&self, name: impl Into<String>) -> ActorBuilder<'_> {
        ActorBuilder {
            system: self,
            name: name.into(),
            options: self.default_options(),
        }
    }

    /// Configures a pool of `workers` actors behind one reference.
    pub fn pool(&self, name: impl Into<String>, workers: usize) -> PoolBuilder<'_> {
        PoolBuilder::new(self, name.into(), workers)
    }

    /// Finds a live actor by name, if it has that type.
    pub fn lookup<A: Actor>(&self, name: &str) -> Option<ActorRef<A>> {
        let registry = self.registry();
        let id = registry.names.get(name)?;
        registry
            .actors
            .get(id)?
            .handle
            .downcast_ref::<ActorRef<A>>()
            .cloned()
    }

    /// Names of the live actors, in spawn order.
    pub fn actor_names(&self) -> Vec<String> {
        self.registry()
            .actors
            .values()
            .map(|e| e.name.to_string())
            .collect()
    }

    /// A handle on the same system that does not keep it alive (for actor threads).
    pub(crate) fn handle(&self) -> ActorSystem {
        ActorSystem {
            inner: self.inner.clone(),
            owner: None,
        }
    }

    pub(crate) fn default_options(&self) -> ActorOptions {
        ActorOptions {
            mailbox: self.inner.defaults.mailbox,
            supervision: self.inner.defaults.supervision,
            core: None,
            depends_on: Vec::new(),
            relations: Relations::default(),
            track_load: false,
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry holds no invariant a panicking holder could break halfway.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn spawn_with<A, F>(
        &self,
        name: String,
        options: ActorOptions,
        factory: F,
    ) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        if let Some(core) = options.core {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if core >= cores {
                return Err(SpawnError::NoSuchCore { core, cores });
            }
        }
        let name: Arc<str> = name.into();
        let id = ActorId(NEXT_ACTOR_ID.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mailbox::<A>(options.mailbox);
        let (startup_tx, startup_rx) = tokio::sync::watch::channel(Startup::Starting);
        let cell = Arc::new(ActorCell::new(
            id,
            name.clone(),
            self.inner.shared.clone(),
            tx.room(),
            startup_rx,
            options.track_load,
        ));
        let myself = ActorRef {
            cell: cell.clone(),
            tx,
        };
        let (done_tx, done_rx) = oneshot::channel();
        {
            let mut registry = self.registry();
            if registry.state != SystemState::Running {
                return Err(SpawnError::SystemStopped);
            }
            if registry.names.contains_key(&name) {
                return Err(SpawnError::NameTaken(name.to_string()));
            }
            registry.names.insert(name.clone(), id);
            registry.actors.insert(
                id,
                Entry {
                    name: name.clone(),
                    cell: cell.clone(),
                    handle: Box::new(myself.clone()),
                    done: Some(done_rx),
                    thread: None,
                    depends_on: options.depends_on.clone(),
                },
            );
        }
        let info = Arc::new(ActorInfo {
            id,
            name: name.clone(),
            system: self.inner.shared.name.clone(),
            thread_id: crate::telemetry::new_thread_id(),
            core: options.core,
        });
        let thread = ActorThread {
            body: Body {
                spin: Adaptive::new(self.inner.shared.spin),
                cell,
                rx,
                myself: myself.clone(),
                factory,
                options,
                info,
                system: self.handle(),
                hooks: self.inner.hooks.clone(),
                startup: startup_tx,
            },
            done: done_tx,
        };
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || thread.run());
        match spawned {
            Ok(handle) => {
                if let Some(entry) = self.registry().actors.get_mut(&id) {
                    entry.thread = Some(handle);
                }
                Ok(myself)
            }
            Err(e) => {
                self.forget(id);
                Err(SpawnError::Thread(e))
            }
        }
    }

    /// Removes an actor from the registry.
    fn forget(&self, id: ActorId) -> Option<Entry> {
        let mut registry = self.registry();
        let entry = registry.actors.remove(&id)?;
        registry.names.remove(&entry.name);
        Some(entry)
    }

    /// Called by an actor's thread as its last act.
    pub(crate) fn actor_finished(
        &self,
        id: ActorId,
        report: ActorReport,
        done: oneshot::Sender<ActorReport>,
    ) {
        let mut registry = self.registry();
        match registry.actors.remove(&id) {
            // Stopped on its own: keep the report for the shutdown report. The thread is
            // ending: dropping its handle (with the entry, outside the lock) detaches it.
            Some(entry) => {
                registry.names.remove(&entry.name);
                if registry.finished.len() == REPORT_HISTORY {
                    registry.finished.pop_front();
                    registry.finished_omitted += 1;
                }
                registry.finished.push_back(report);
                drop(registry);
                drop(entry);
            }
            // Shutdown took the entry and waits on this report.
            None => {
                drop(registry);
                let _ = done.send(report);
            }
        }
    }

    /// Stops every actor in order (see [`ShutdownReport`]) and then the system's own
    /// pipeline, without blocking the async caller. Each actor gets at most the stop
    /// timeout to drain, and all of them together the shutdown timeout; one that misses
    /// its time is reported and left behind, and the rest still stop. The report also
    /// lists the actors that stopped on their own before. A second call returns an empty
    /// report.
    pub async fn shutdown(&self) -> ShutdownReport {
        let system = self.clone();
        let caller = current_actor();
        let (tx, rx) = oneshot::async_channel();
        let spawned = std::thread::Builder::new()
            .name("actor-shutdown".into())
            .spawn(move || {
                let _ = tx.send(system.shutdown_from(caller));
            });
        match spawned {
            Ok(_) => rx.await.unwrap_or_default(),
            // No thread to spare: shut down here, blocking this one.
            Err(_) => self.shutdown_from(caller),
        }
    }

    /// [`shutdown`](ActorSystem::shutdown) for sync code: blocks until done.
    pub fn shutdown_blocking(&self) -> ShutdownReport {
        self.shutdown_from(current_actor())
    }

    /// Waits for SIGINT (Ctrl-C) or SIGTERM, then shuts down in order. Needs a tokio
    /// runtime with signals enabled (`enable_all`).
    pub async fn shutdown_on_signal(&self) -> std::io::Result<ShutdownReport> {
        wait_for_signal().await?;
        Ok(self.shutdown().await)
    }

    /// Extracts the context of a trace that started outside (HTTP headers, a queue
    /// message, another language's SDK) with the propagator this system knows: its
    /// [`Propagation::Carrier`](crate::Propagation::Carrier) propagator, else its
    /// instrumentation's (W3C trace context and baggage for `actor-otel`), else the global
    /// one, which is W3C when none is installed. Under the default
    /// [`CarrierPolicy`](crate::carrier::CarrierPolicy). Then
    /// `actor.tell(msg).with_context(cx)`.
    pub fn extract(
        &self,
        carrier: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        let tracing = &self.inner.shared.tracing;
        crate::carrier::extract_for(
            &tracing.options.propagation,
            tracing.instrumentation.as_deref(),
            carrier,
        )
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.registry().state != SystemState::Running
    }

    /// The ordered shutdown. `caller` is the actor calling it, if any: it is asked to stop
    /// but not waited for, since it is busy waiting here.
    fn shutdown_from(&self, caller: Option<ActorId>) -> ShutdownReport {
        let started = Instant::now();
        let (mut entries, mut reports, omitted) = {
            let mut registry = self.registry();
            if registry.state != SystemState::Running {
                return ShutdownReport::default();
            }
            registry.state = SystemState::ShuttingDown;
            registry.names.clear();
            (
                std::mem::take(&mut registry.actors),
                Vec::from(std::mem::take(&mut registry.finished)),
                registry.finished_omitted,
            )
        };
        let graph: Vec<(ActorId, Vec<ActorId>)> = entries
            .iter()
            .map(|(id, e)| (*id, e.depends_on.clone()))
            .collect();
        let defaults = &self.inner.defaults;
        let deadline = started.checked_add(defaults.shutdown_timeout);
        let order = stop_order(&graph);
        let mut out_of_time = false;
        for (position, id) in order.iter().enumerate() {
            let Some(mut entry) = entries.remove(id) else {
                continue;
            };
            entry.cell.request_stop();
            if Some(*id) == caller {
                continue;
            }
            let left = deadline.map_or(defaults.stop_timeout, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() && !out_of_time {
                out_of_time = true;
                // The whole shutdown is out of time: ask the rest to stop all at once
                // (they drain and flush on their own), report who did not make it.
                for id in &order[position + 1..] {
                    if let Some(entry) = entries.get(id) {
                        entry.cell.request_stop();
                    }
                }
            }
            let report = entry
                .done
                .take()
                .and_then(|done| done.recv_timeout(left.min(defaults.stop_timeout)).ok());
            match report {
                Some(report) => {
                    if let Some(thread) = entry.thread.take() {
                        let _ = thread.join();
                    }
                    reports.push(report);
                }
                None => reports.push(ActorReport::timed_out(*id, entry.name.to_string())),
            }
        }
        if let Some(instrumentation) = &self.inner.shared.tracing.instrumentation {
            // Shutdown may run in a drop, even while unwinding: a panic here must not abort.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                instrumentation.system_stopped()
            }));
        }
        self.registry().state = SystemState::Stopped;
        ShutdownReport {
            actors: reports,
            omitted,
            elapsed: started.elapsed(),
        }
    }

    /// Spawns a pool's workers (used by [`PoolBuilder`]).
    pub(crate) fn spawn_pool<A, F>(
        &self,
        name: &str,
        workers: usize,
        mut options: ActorOptions,
        factory: Arc<F>,
    ) -> Result<Vec<ActorRef<A>>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + Sync + 'static,
    {
        if workers == 0 {
            return Err(SpawnError::EmptyPool);
        }
        options.track_load = true;
        let mut refs = Vec::with_capacity(workers);
        for i in 0..workers {
            let factory = factory.clone();
            match self.spawn_with(format!("{name}-{i}"), options.clone(), move || factory()) {
                Ok(r) => refs.push(r),
                Err(e) => {
                    refs.iter().for_each(|r: &ActorRef<A>| r.stop());
                    return Err(e);
                }
            }
        }
        Ok(refs)
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
