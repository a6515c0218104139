//! [`NatsOptions`] and [`Nats`]: one connection to a NATS cluster, run by the runtime that
//! connected (or a `nats-io` thread of its own), shared by every served actor and remote
//! recipient made from it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actor_core::trace::carrier::CarrierPolicy;
use actor_core::trace::SharedRecorder;
use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::TextMapPropagator;

use crate::error::ConnectError;
use crate::outbox::Outbox;

/// How the client reconnects after it lost its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Attempts before the client gives up for good (`None`: never gives up; the default).
    pub max_attempts: Option<usize>,
    /// The longest wait between two attempts; waits grow from 0 doubling each attempt up to
    /// it (default 2 s).
    pub max_delay: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            max_attempts: None,
            max_delay: Duration::from_secs(2),
        }
    }
}

/// The credentials a client presents.
#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Token(String),
    UserPassword(String, String),
    Nkey(String),
    CredentialsFile(PathBuf),
}

/// How to connect: servers, identity, credentials, TLS, reconnects, buffers, and how traces
/// cross the wire. Build with [`NatsOptions::new`], then [`connect`](NatsOptions::connect).
#[derive(Clone)]
pub struct NatsOptions {
    urls: Vec<String>,
    name: Option<String>,
    auth: Auth,
    tls_roots: Vec<PathBuf>,
    tls_client: Option<(PathBuf, PathBuf)>,
    require_tls: bool,
    reconnect: ReconnectPolicy,
    connect_timeout: Duration,
    subscription_capacity: usize,
    client_capacity: usize,
    pub(crate) propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) carrier_policy: CarrierPolicy,
    pub(crate) tracer: Option<Arc<BoxedTracer>>,
    pub(crate) recorder: Option<SharedRecorder>,
    own_thread: bool,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("urls", &self.urls)
            .field("name", &self.name)
            .field("require_tls", &self.require_tls)
            .field("reconnect", &self.reconnect)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl NatsOptions {
    /// Options for the server(s) at `urls`: one URL, or several separated by commas
    /// (`nats://a:4222,nats://b:4222`); the client picks among them and fails over.
    pub fn new(urls: impl AsRef<str>) -> Self {
        NatsOptions {
            urls: urls
                .as_ref()
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
            name: None,
            auth: Auth::None,
            tls_roots: Vec::new(),
            tls_client: None,
            require_tls: false,
            reconnect: ReconnectPolicy::default(),
            connect_timeout: Duration::from_secs(5),
            subscription_capacity: 4096,
            client_capacity: 2048,
            propagator: None,
            carrier_policy: CarrierPolicy::default(),
            tracer: None,
            recorder: None,
            own_thread: false,
        }
    }

    /// One more server URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// The connection's name, as the server's monitoring shows it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Authenticate with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    /// Authenticate with a user and password.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Authenticate with an nkey seed (`SU…`).
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.auth = Auth::Nkey(seed.into());
        self
    }

    /// Authenticate with a credentials file (a user JWT and its nkey seed, as `nsc` writes).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Auth::CredentialsFile(path.into());
        self
    }

    /// Trust this CA certificate (PEM) for the server's TLS certificate; implies TLS.
    pub fn tls_root_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_roots.push(path.into());
        self.require_tls = true;
        self
    }

    /// Present this client certificate and key (PEM) for mutual TLS; implies TLS.
    pub fn tls_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls_client = Some((cert.into(), key.into()));
        self.require_tls = true;
        self
    }

    /// Refuse to talk to a server without TLS.
    pub fn require_tls(mut self, required: bool) -> Self {
        self.require_tls = required;
        self
    }

    /// How to reconnect after losing the server (default: forever, waits up to 2 s).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// The longest [`connect`](Self::connect) takes before it fails (default 5 s).
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// Messages a subscription buffers before the client drops new ones for a slow consumer
    /// (counted in [`NatsStats::slow_consumer_events`]; default 4096).
    pub fn subscription_capacity(mut self, messages: usize) -> Self {
        self.subscription_capacity = messages.max(1);
        self
    }

    /// Commands (publishes, requests) the client queues while it cannot write, for instance
    /// during a reconnect (default 2048); past it sends wait, up to their time limit.
    pub fn client_capacity(mut self, commands: usize) -> Self {
        self.client_capacity = commands.max(1);
        self
    }

    /// The propagator that writes and reads the trace context in message headers (default:
    /// the global one, or W3C Trace Context + Baggage when none is installed).
    pub fn propagator(mut self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) -> Self {
        self.propagator = Some(propagator);
        self
    }

    /// The tracer of callers' `send` spans (default: the global tracer provider's when
    /// connecting, which `actor_otel::Telemetry` installs unless told not to: build the
    /// telemetry first).
    pub fn tracer(mut self, tracer: BoxedTracer) -> Self {
        self.tracer = Some(Arc::new(tracer));
        self
    }

    /// Record callers' `send` spans as compact records into `recorder`, sampled by it,
    /// instead of making them through the tracer (as the framework records its own; with
    /// `actor-otel`: `telemetry.system_recorder()`, from the `Instrumentation` trait).
    pub fn recorder(mut self, recorder: SharedRecorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Run the connection and the serve loops on a thread of their own (`nats-io`, with a
    /// current-thread runtime) instead of the runtime that calls [`connect`](Self::connect).
    /// Use it when that runtime does not live as long as the connection, or is an actor's
    /// (connecting from inside a handler would serve on the actor's thread). Each message
    /// then crosses one more thread on each side ([`blocking_connect`](Self::blocking_connect)
    /// always does this).
    pub fn own_thread(mut self, own: bool) -> Self {
        self.own_thread = own;
        self
    }

    /// What is accepted from the trace headers of incoming messages (default:
    /// [`CarrierPolicy::default`], the W3C limits).
    pub fn carrier_policy(mut self, policy: CarrierPolicy) -> Self {
        self.carrier_policy = policy;
        self
    }

    /// Connects. The connection's task and the serve loops run on the calling tokio
    /// runtime, as with `async_nats::connect`, unless [`own_thread`](Self::own_thread) asks
    /// for a thread of their own. Fails with a [`ConnectError`] within the connect timeout.
    pub async fn connect(self) -> Result<Nats, ConnectError> {
        if self.own_thread {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            let thread = self.start_io_thread(ready_tx)?;
            let limit = self.connect_timeout;
            return match ready_rx.await {
                Ok(Ok((client, io, stop))) => Ok(Nats::new(client, io, Some((stop, thread)), self)),
                Ok(Err(e)) => {
                    let _ = thread.join();
                    Err(e)
                }
                Err(_) => Err(ConnectError::Timeout(limit)),
            };
        }
        let stats = Arc::new(Counters::default());
        let options = self.client_options()?.event_callback({
            let stats = stats.clone();
            move |event| {
                stats.record(&event);
                async {}
            }
        });
        let limit = self.connect_timeout;
        let client = tokio::time::timeout(limit, connect_to(options, self.urls.clone(), limit))
            .await
            .map_err(|_| ConnectError::Timeout(limit))??;
        let io = Io {
            runtime: tokio::runtime::Handle::current(),
            stats,
        };
        Ok(Nats::new(client, io, None, self))
    }

    /// [`connect`](Self::connect) from synchronous code (not from an async task), always on
    /// a thread of its own.
    pub fn blocking_connect(self) -> Result<Nats, ConnectError> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let thread = self.start_io_thread(ready_tx)?;
        match ready_rx.blocking_recv() {
            Ok(Ok((client, io, stop))) => Ok(Nats::new(client, io, Some((stop, thread)), self)),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(ConnectError::Timeout(self.connect_timeout)),
        }
    }

    fn start_io_thread(&self, ready: ReadySender) -> Result<JoinHandle<()>, ConnectError> {
        let options = self.client_options()?;
        let urls = self.urls.clone();
        let limit = self.connect_timeout;
        let stats = Arc::new(Counters::default());
        let thread = std::thread::Builder::new()
            .name("nats-io".into())
            .spawn(move || {
                // Built here, so it is never dropped inside the caller's async context.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(ConnectError::Thread(e)));
                        return;
                    }
                };
                let handle = runtime.handle().clone();
                runtime.block_on(async move {
                    let options = options.event_callback({
                        let stats = stats.clone();
                        move |event| {
                            stats.record(&event);
                            async {}
                        }
                    });
                    let connecting = connect_to(options, urls, limit);
                    let client = match tokio::time::timeout(limit, connecting).await {
                        Ok(Ok(client)) => client,
                        Ok(Err(e)) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                        Err(_) => {
                            let _ = ready.send(Err(ConnectError::Timeout(limit)));
                            return;
                        }
                    };
                    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
                    let io = Io {
                        runtime: handle,
                        stats,
                    };
                    if ready.send(Ok((client.clone(), io, stop_tx))).is_err() {
                        return;
                    }
                    // Runs the connection and every serve loop until the last handle goes.
                    let _ = stop_rx.await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(thread)
    }

    /// The async-nats options these stand for (credentials read now).
    fn client_options(&self) -> Result<async_nats::ConnectOptions, ConnectError> {
        let mut options = match &self.auth {
            Auth::None => async_nats::ConnectOptions::new(),
            Auth::Token(t) => async_nats::ConnectOptions::with_token(t.clone()),
            Auth::UserPassword(u, p) => {
                async_nats::ConnectOptions::with_user_and_password(u.clone(), p.clone())
            }
            Auth::Nkey(seed) => async_nats::ConnectOptions::with_nkey(seed.clone()),
            Auth::CredentialsFile(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConnectError::Credentials(format!("{}: {e}", path.display())))?;
                async_nats::ConnectOptions::with_credentials(&text)
                    .map_err(|e| ConnectError::Credentials(format!("{}: {e}", path.display())))?
            }
        };
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        for root in &self.tls_roots {
            options = options.add_root_certificates(root.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let max_delay = self.reconnect.max_delay;
        Ok(options
            .require_tls(self.require_tls)
            .connection_timeout(self.connect_timeout)
            .max_reconnects(self.reconnect.max_attempts)
            .reconnect_delay_callback(move |attempts| {
                let exp = attempts.saturating_sub(1).min(30) as u32;
                Duration::from_millis(2u64.saturating_pow(exp).saturating_sub(1)).min(max_delay)
            })
            .subscription_capacity(self.subscription_capacity)
            .client_capacity(self.client_capacity)
            // Replies wait as long as each ask's own timeout says.
            .request_timeout(None))
    }
}

async fn connect_to(
    options: async_nats::ConnectOptions,
    urls: Vec<String>,
    limit: Duration,
) -> Result<async_nats::Client, ConnectError> {
    let addrs = urls
        .iter()
        .map(|u| u.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectError::Url(e.to_string()))?;
    if addrs.is_empty() {
        return Err(ConnectError::Url("no server URL given".into()));
    }
    options
        .connect(addrs)
        .await
        .map_err(|e| ConnectError::from_nats(e, limit))
}

type Ready = Result<(async_nats::Client, Io, tokio::sync::oneshot::Sender<()>), ConnectError>;
type ReadySender = tokio::sync::oneshot::Sender<Ready>;

/// The runtime the connection and its serve loops run on, and the connection's counters.
pub(crate) struct Io {
    pub(crate) runtime: tokio::runtime::Handle,
    stats: Arc<Counters>,
}

/// Connection events, counted.
#[derive(Debug, Default)]
struct Counters {
    connects: AtomicU64,
    disconnects: AtomicU64,
    slow_consumers: AtomicU64,
    server_errors: AtomicU64,
}

impl Counters {
    fn record(&self, event: &async_nats::Event) {
        let counter = match event {
            async_nats::Event::Connected => &self.connects,
            async_nats::Event::Disconnected => &self.disconnects,
            async_nats::Event::SlowConsumer(_) => &self.slow_consumers,
            async_nats::Event::ServerError(_) => &self.server_errors,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a connection went through so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatsStats {
    /// Reconnections after the first connect.
    pub reconnects: u64,
    /// Times the connection was lost.
    pub disconnects: u64,
    /// Times the client dropped messages because a subscription's buffer was full.
    pub slow_consumer_events: u64,
    /// Errors the server reported (permission violations among them).
    pub server_errors: u64,
    /// Messages sent and received on the connection, from the client's statistics.
    pub out_messages: u64,
    /// Messages received.
    pub in_messages: u64,
    /// Batch messages sent: tells that queued up behind each other, sent as one message.
    pub batches_sent: u64,
    /// Tells the connection took but the client then refused, because it was closed.
    pub tells_lost: u64,
}

/// One connection to NATS: make [remote recipients](crate::RemoteRecipient) and
/// [serve](Nats::serve) actors with it. Clones share it; it closes when the last clone and
/// everything made from it are dropped (on its own thread, after flushing what is queued,
/// within 2 s; call [`flush`](Nats::flush) first otherwise).
#[derive(Clone)]
pub struct Nats {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: async_nats::Client,
    pub(crate) io: Io,
    /// Tells queued on their way to the client (see `outbox.rs`).
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) carrier_policy: CarrierPolicy,
    pub(crate) tracer: Arc<BoxedTracer>,
    /// Where `send` spans go as records, if they do.
    pub(crate) recorder: Option<SharedRecorder>,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("state", &self.inner.client.connection_state())
            .finish_non_exhaustive()
    }
}

impl Nats {
    fn new(
        client: async_nats::Client,
        io: Io,
        own_thread: Option<(tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>,
        options: NatsOptions,
    ) -> Self {
        let (stop, thread) = match own_thread {
            Some((stop, thread)) => (Some(stop), Some(thread)),
            None => (None, None),
        };
        Nats {
            inner: Arc::new(Inner {
                outbox: Arc::new(Outbox::new(client.clone(), io.runtime.clone())),
                client,
                io,
                propagator: options.propagator,
                carrier_policy: options.carrier_policy,
                tracer: options.tracer.unwrap_or_else(|| {
                    Arc::new(opentelemetry::global::tracer(crate::names::SCOPE))
                }),
                recorder: options.recorder,
                stop: Mutex::new(stop),
                thread: Mutex::new(thread),
            }),
        }
    }

    /// The async-nats client underneath, for what this crate does not wrap.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The server's largest accepted message (body and headers), in bytes.
    pub fn max_payload(&self) -> usize {
        self.inner.client.max_payload()
    }

    /// What the connection went through so far.
    pub fn stats(&self) -> NatsStats {
        let c = &self.inner.io.stats;
        let s = self.inner.client.statistics();
        NatsStats {
            reconnects: c.connects.load(Ordering::Relaxed).saturating_sub(1),
            disconnects: c.disconnects.load(Ordering::Relaxed),
            slow_consumer_events: c.slow_consumers.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            out_messages: s.out_messages.load(Ordering::Relaxed),
            in_messages: s.in_messages.load(Ordering::Relaxed),
            batches_sent: self.inner.outbox.batches(),
            tells_lost: self.inner.outbox.lost(),
        }
    }

    /// Waits until everything sent so far (queued tells included) was written to the
    /// server (at most `limit`).
    pub async fn flush(&self, limit: Duration) -> bool {
        let flushed = async {
            self.inner.outbox.drain().await;
            self.inner.client.flush().await
        };
        matches!(tokio::time::timeout(limit, flushed).await, Ok(Ok(())))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = stop.send(());
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            // Never join the I/O thread from itself (a last clone dropped in a serve task).
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}
