//! Remote actors over loopback NATS against raw `async-nats` with the same payload, in
//! turns (every set-up runs once per round; medians of the rounds):
//!
//! - `ask`: sequential request/reply round trips. Raw: `Client::request` to a subscriber
//!   that answers with the same bytes. Ours: `RemoteRecipient::ask` to a served actor.
//! - `tell`: `n` messages published, timed until the receiving side has all `n`. Raw:
//!   `Client::publish` to a counting subscriber. Ours: `RemoteRecipient::tell` to a served
//!   actor that counts.
//! - `raw + headers`: the raw set-ups with the headers a traced message of ours carries
//!   (`Actor-Message-Type`, `traceparent`): what the wire format itself costs.
//!
//! Ours runs untraced (no SDK) and traced (a `send` record per message on the caller's side,
//! a `process` span per message in the serving system; every span encoded as the default
//! exporter, OTLP/HTTP, encodes it, and the bytes dropped: the export thread's work for a
//! real collector, without the network); traced with the built-in W3C propagator (the one
//! `Telemetry` installs) and with the SDK's W3C propagators set on both connections;
//! with tells batched (the default) and one message per tell; with the serving system's default
//! spin (20 µs) and a spin above the loopback round trip (150 µs, or `BENCH_SPIN_US`), which
//! lets a remote ask skip the serving side's thread wake-ups.
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-remote            # 7 rounds
//! cargo run --release -p actor-benches --bin bench-remote -- 3       # rounds
//! BENCH_SETUPS=raw,traced cargo run --release -p actor-benches --bin bench-remote  # some set-ups
//! ```
//!
//! `BENCH_SETUPS` (names separated by commas, or by semicolons when one holds a comma) keeps
//! only those set-ups, for profiles; the ratios are then to the first one kept.
//! `BENCH_ASKS=0` leaves the asks out.
//! `BENCH_THREAD_CPU=1` prints the CPU each thread spent per tell, and `nats-server`'s.
//! `BENCH_EXPORTER=noop` gives the traced set-ups the no-op SDK exporter (`Exporter::noop`,
//! for which records are built into SDK `SpanData` first; the exporter of the earlier
//! figures in BENCHMARKS.md) in place of the OTLP encoding (`Exporter::otlp_encode_only`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_nats::async_nats;
use actor_nats::testing::NatsServer;
use actor_nats::{Nats, NatsOptions, RemoteRecipient};
use actor_otel::{Exporter, Telemetry};
use futures::StreamExt as _;
use opentelemetry::global::BoxedTracer;

#[derive(serde::Serialize, serde::Deserialize)]
struct Add(u64);
impl Message for Add {
    type Reply = u64;
}

struct Counter {
    handled: Arc<AtomicU64>,
}
impl Actor for Counter {}
impl Handler<Add> for Counter {
    async fn handle(&mut self, Add(n): Add, _cx: &mut Ctx<Self>) -> u64 {
        self.handled.fetch_add(1, Ordering::Relaxed);
        n
    }
}

/// The body every set-up sends: `Add(1)` in JSON.
const BODY: &[u8] = b"1";
const ASKS: u64 = 5_000;
const TELLS: u64 = 50_000;

fn options(server: &NatsServer) -> NatsOptions {
    NatsOptions::new(server.url()).subscription_capacity(1 << 16)
}

/// A raw async-nats client on its own thread and current-thread runtime, answering
/// `raw.echo` with the request's bytes and counting `raw.sink`.
fn raw_side(url: String, sunk: Arc<AtomicU64>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    actor_benches::spawn_on_runtime("raw-side".into(), move || async move {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 16)
            .connect(url)
            .await
            .expect("connect");
        let mut echo = client.subscribe("raw.echo").await.expect("subscribe");
        let mut sink = client.subscribe("raw.sink").await.expect("subscribe");
        client.flush().await.expect("flush");
        ready_tx.send(()).expect("ready");
        let replier = client.clone();
        tokio::spawn(async move {
            while let Some(m) = echo.next().await {
                if let Some(reply) = m.reply {
                    let _ = replier.publish(reply, m.payload).await;
                }
            }
        });
        while sink.next().await.is_some() {
            sunk.fetch_add(1, Ordering::Relaxed);
        }
    });
    ready_rx.recv().expect("the raw side started");
}

struct Served {
    _system: ActorSystem,
    _serving: actor_nats::Serving,
    handled: Arc<AtomicU64>,
    _telemetry: Option<Telemetry>,
}

/// How the serving system is set up.
#[derive(Clone, Copy)]
struct Setting {
    traced: bool,
    /// Both connections carry the trace through the SDK's W3C propagators (as a global
    /// one installed by `Telemetry`) instead of the built-in one.
    sdk_propagator: bool,
    /// The serving system's spin (`None`: the default, 20 µs).
    spin: Option<Duration>,
}

async fn served(server: &NatsServer, subject: &str, setting: Setting) -> (Served, Nats) {
    let Setting {
        traced,
        sdk_propagator,
        spin,
    } = setting;
    let options = |server: &NatsServer| {
        let options = options(server);
        if !sdk_propagator {
            return options;
        }
        use opentelemetry::propagation::TextMapCompositePropagator;
        use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
        options.propagator(Arc::new(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])))
    };
    let telemetry = traced.then(|| {
        Telemetry::builder()
            .service_name("bench-remote")
            .exporter(
                if std::env::var("BENCH_EXPORTER").is_ok_and(|e| e == "noop") {
                    Exporter::noop()
                } else {
                    Exporter::otlp_encode_only()
                }
                .without_metrics(),
            )
            .global(false)
            .build()
            .expect("the exporter starts")
    });
    let mut builder = ActorSystem::builder().name(subject);
    if let Some(spin) = spin {
        builder = builder.spin(spin);
    }
    if let Some(t) = &telemetry {
        builder = builder.instrumentation(t.clone());
    }
    let system = builder.build();
    let handled = Arc::new(AtomicU64::new(0));
    let counter = {
        let handled = handled.clone();
        system
            .spawn("counter", move || Counter {
                handled: handled.clone(),
            })
            .expect("spawn")
    };
    // The serving side on a thread of its own, as the raw responder.
    let serving_side = options(server)
        .own_thread(true)
        .connect()
        .await
        .expect("connect");
    let serving = serving_side
        .serve(subject)
        .handle(counter.recipient::<Add>())
        .start()
        .await
        .expect("serve");
    let mut caller_options = options(server);
    if let Some(t) = &telemetry {
        use actor_core::trace::Instrumentation as _;
        caller_options = caller_options.tracer(BoxedTracer::new(Box::new(t.tracer("actor-nats"))));
        // The callers' `send` spans as compact records, as the framework records its own.
        if let Some(recorder) = t.system_recorder() {
            caller_options = caller_options.recorder(recorder);
        }
    }
    let caller = caller_options.connect().await.expect("connect");
    (
        Served {
            _system: system,
            _serving: serving,
            handled,
            _telemetry: telemetry,
        },
        caller,
    )
}

/// Waits until `counter` reaches `target` (at most 30 s; a shortfall is reported). It
/// sleeps between looks (tokio's timer: about 1 ms, under 2% of a round of tells): a
/// waiter that only yields would take a vCPU from the receiving side.
async fn wait_for(counter: &AtomicU64, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            panic!(
                "only {} of {target} arrived (dropped by a slow consumer?)",
                counter.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

/// One set-up of the run.
enum SetUp {
    Raw,
    RawWithHeaders,
    Ours {
        remote: RemoteRecipient<Add>,
        served: Served,
        /// The caller's connection (its stats: how the tells went out).
        caller: Nats,
    },
}

/// The spin that lets a remote ask skip the serving side's thread wake-ups: above the
/// loopback round trip (`BENCH_SPIN_US` sets another, for a VM whose round trip is longer).
fn remote_spin() -> Duration {
    let micros = std::env::var("BENCH_SPIN_US")
        .ok()
        .and_then(|us| us.parse().ok())
        .unwrap_or(150);
    Duration::from_micros(micros)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sunk = Arc::new(AtomicU64::new(0));
        raw_side(server.url(), sunk.clone());
        let raw = async_nats::ConnectOptions::new()
            .connect(server.url())
            .await
            .expect("connect");
        let mut setups: Vec<(&str, SetUp)> = vec![
            ("raw", SetUp::Raw),
            ("raw + headers", SetUp::RawWithHeaders),
        ];
        let spin = remote_spin();
        // Named once for the run: set-ups are named by `&'static str`.
        let spin_name = |traced: &str| -> &'static str {
            let name = format!("{traced}, spin {} µs", spin.as_micros());
            Box::leak(name.into_boxed_str())
        };
        // (name, subject, traced, SDK propagator, spin, batching)
        let ours = [
            ("untraced", "svc.plain", false, false, None, true),
            ("traced", "svc.traced", true, false, None, true),
            (
                "traced, SDK propagator",
                "svc.traced-sdk",
                true,
                true,
                None,
                true,
            ),
            (
                "untraced, one message per tell",
                "svc.unbatched",
                false,
                false,
                None,
                false,
            ),
            (
                spin_name("untraced"),
                "svc.spin",
                false,
                false,
                Some(spin),
                true,
            ),
            (
                spin_name("traced"),
                "svc.traced-spin",
                true,
                false,
                Some(spin),
                true,
            ),
        ];
        let wanted = |name: &str| match std::env::var("BENCH_SETUPS") {
            // Semicolons when a name holds a comma (`traced, spin 150 µs`).
            Ok(list) if list.contains(';') => list.split(';').any(|w| w.trim() == name),
            Ok(list) => list.split(',').any(|w| w.trim() == name),
            Err(_) => true,
        };
        setups.retain(|(name, _)| wanted(name));
        for (name, subject, traced, sdk_propagator, spin, batching) in ours {
            if !wanted(name) {
                continue;
            }
            let setting = Setting {
                traced,
                sdk_propagator,
                spin,
            };
            let (served, caller) = served(&server, subject, setting).await;
            let remote = caller.recipient::<Add>(subject).batching(batching);
            setups.push((
                name,
                SetUp::Ours {
                    remote,
                    served,
                    caller,
                },
            ));
        }
        let mut ask = vec![Vec::new(); setups.len()];
        let mut tell = vec![Vec::new(); setups.len()];
        // `BENCH_THREAD_CPU=1`: the CPU each thread spent during the tells, per tell.
        let per_thread = std::env::var_os("BENCH_THREAD_CPU").is_some();
        let mut tell_cpu = vec![BTreeMap::<(String, u32), u64>::new(); setups.len()];
        // `nats-server`'s CPU time in each set-up's tells (its own process).
        let mut server_cpu = vec![0u64; setups.len()];
        let server_pid = server.pid();
        // The headers ours sends, traced (JSON: no content type): type and traceparent.
        let headers = || {
            let mut h = async_nats::HeaderMap::new();
            h.insert("Actor-Message-Type", "Add");
            h.insert(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            );
            h
        };
        // `BENCH_ASKS=0` leaves the asks out (a profile of the tells alone).
        let asks: u64 = std::env::var("BENCH_ASKS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(ASKS);
        for round in 0..=rounds {
            // Round 0 warms up.
            for (i, (_, setup)) in setups.iter().enumerate() {
                let started = Instant::now();
                for _ in 0..asks {
                    match setup {
                        SetUp::Raw => {
                            raw.request("raw.echo", BODY.into())
                                .await
                                .expect("raw request");
                        }
                        SetUp::RawWithHeaders => {
                            raw.request_with_headers("raw.echo", headers(), BODY.into())
                                .await
                                .expect("raw request");
                        }
                        SetUp::Ours { remote, .. } => {
                            remote.ask(Add(1)).await.expect("ask");
                        }
                    }
                }
                if round > 0 {
                    ask[i].push(started.elapsed().as_nanos() as f64 / asks.max(1) as f64);
                }
            }
            for (i, (_, setup)) in setups.iter().enumerate() {
                let counter = match setup {
                    SetUp::Raw | SetUp::RawWithHeaders => &*sunk,
                    SetUp::Ours { served, .. } => &*served.handled,
                };
                let before = counter.load(Ordering::Relaxed);
                let cpu_before = per_thread.then(actor_benches::task_cpu);
                let server_before = server_pid.map(actor_benches::process_cpu);
                let started = Instant::now();
                for _ in 0..TELLS {
                    match setup {
                        SetUp::Raw => raw.publish("raw.sink", BODY.into()).await.expect("publish"),
                        SetUp::RawWithHeaders => raw
                            .publish_with_headers("raw.sink", headers(), BODY.into())
                            .await
                            .expect("publish"),
                        SetUp::Ours { remote, .. } => remote.tell(Add(1)).await.expect("tell"),
                    }
                }
                wait_for(counter, before + TELLS).await;
                if round > 0 {
                    tell[i].push(started.elapsed().as_nanos() as f64 / TELLS as f64);
                    if let (Some(pid), Some(before)) = (server_pid, server_before) {
                        server_cpu[i] += actor_benches::process_cpu(pid).saturating_sub(before);
                    }
                    if let Some(cpu_before) = cpu_before {
                        for (id, name, ns) in actor_benches::task_cpu_since(&cpu_before) {
                            *tell_cpu[i].entry((name, id)).or_default() += ns;
                        }
                    }
                }
            }
            if round > 0 {
                eprintln!("round {round} done");
            }
        }
        let median = |xs: &[f64]| actor_benches::median(xs.iter().copied());
        // How the tells went out: fewer, larger NATS messages when they were batched (the
        // asks, one message each, are counted in the messages out too).
        println!("| set-up | tells | NATS messages out | batches | tells per NATS message |");
        println!("|---|---:|---:|---:|---:|");
        for (name, setup) in &setups {
            if let SetUp::Ours { caller, .. } = setup {
                let stats = caller.stats();
                let tells = TELLS * (rounds as u64 + 1);
                println!(
                    "| {name} | {tells} | {} | {} | {:.1} |",
                    stats.out_messages,
                    stats.batches_sent,
                    tells as f64 / stats.out_messages.max(1) as f64
                );
            }
        }
        if per_thread {
            let tells = (TELLS * rounds as u64) as f64;
            for (i, (name, _)) in setups.iter().enumerate() {
                let total: u64 = tell_cpu[i].values().sum();
                let mut by_name: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
                for ((thread, _), &ns) in &tell_cpu[i] {
                    let entry = by_name.entry(thread).or_default();
                    *entry = (entry.0 + usize::from(ns > 0), entry.1 + ns);
                }
                let threads: Vec<String> = by_name
                    .iter()
                    .filter(|(_, &(_, ns))| ns as f64 / tells >= 10.0)
                    .map(|(thread, &(count, ns))| {
                        let count = if count > 1 {
                            format!(" ×{count}")
                        } else {
                            String::new()
                        };
                        format!("{thread}{count} {:.0}", ns as f64 / tells)
                    })
                    .collect();
                // With a core for every thread, throughput would follow the busiest one.
                let busiest = tell_cpu[i]
                    .iter()
                    .max_by_key(|(_, &ns)| ns)
                    .map(|((thread, _), &ns)| format!("{thread} {:.0}", ns as f64 / tells))
                    .unwrap_or_default();
                // On two vCPUs, throughput follows the CPU of every thread, the server's too.
                let server = server_cpu[i] as f64 / tells;
                eprintln!(
                    "CPU per tell, {name}: {:.0} ns ({}); nats-server {server:.0}, with it {:.0}; busiest thread: {busiest}",
                    total as f64 / tells,
                    threads.join(", "),
                    total as f64 / tells + server
                );
            }
        }
        // A traced figure is only worth something if every span was exported.
        for (name, setup) in &setups {
            if let SetUp::Ours { served, .. } = setup {
                if let Some(t) = &served._telemetry {
                    actor_benches::ours::warn_if_spans_lost(&format!("{name}: "), t);
                }
            }
        }
        println!();
        println!("| workload | set-up | µs/op | msgs/s | ratio to raw |");
        println!("|---|---|---:|---:|---:|");
        let raw_ask = median(&ask[0]);
        for (i, (name, _)) in setups.iter().enumerate() {
            let m = median(&ask[i]);
            println!(
                "| ask round trip | {name} | {:.1} | {:.1} k | {:.2}x |",
                m / 1e3,
                1e6 / m,
                m / raw_ask
            );
        }
        let raw_tell = median(&tell[0]);
        for (i, (name, _)) in setups.iter().enumerate() {
            let m = median(&tell[i]);
            println!(
                "| tell throughput | {name} | {:.2} | {:.0} k | {:.2}x throughput |",
                m / 1e3,
                1e6 / m,
                raw_tell / m
            );
        }
    });
}
