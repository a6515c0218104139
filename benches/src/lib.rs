//! Workloads shared by the criterion benchmarks (`benches/actors.rs`) and the quick table
//! (`bench-table`): the same message shapes on our framework, on a raw channel baseline, and
//! on peer frameworks.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod chart;
pub mod ours;
pub mod peers;
pub mod raw;
pub mod turns;

pub use ours::{
    Ours, OursBatching, OursMetrics, OursOtlpEncode, OursOtlpHttp, OursPerActor, OursProcessOnly,
    OursSdkSpans, OursUnbounded, OursUnsampled,
};
pub use raw::{Raw, RawUnbounded, RawUnboundedWithContext, RawWithContext};

/// One framework under benchmark, with `actors` actors that count `Tell`s and answer `Ping`s.
/// All calls are made from the benchmark's own thread.
pub trait Workload: Sized {
    /// Name in tables.
    const NAME: &'static str;
    /// Starts `actors` actors.
    fn start(actors: usize) -> Self;
    /// `n` sequential ask/reply round trips to the first actor.
    fn ask_rtt(&mut self, n: u64);
    /// `n` fire-and-forget messages to the first actor, then one ask that confirms all of them
    /// were handled.
    fn tell(&mut self, n: u64);
    /// `n` fire-and-forget messages round-robin over all actors, then one ask to each that
    /// confirms all were handled.
    fn fanout(&mut self, n: u64);
    /// Stops everything.
    fn stop(self);
}

/// What the framework adds per message for tracing when no SDK is installed: capturing the
/// caller's context on send (`Context::current`) and making it the active context around
/// one poll of the handler (moved in and attached, as the receive loop's `InContext` does);
/// from inside a span or from none. Nanoseconds per message, averaged over `n` messages.
pub fn no_sdk_propagation_ns(n: u64, in_span: bool) -> f64 {
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry::Context;
    use std::future::Future;
    use std::task::{Context as TaskContext, Poll, Waker};

    let mut task = TaskContext::from_waker(Waker::noop());
    let span = Context::new().with_remote_span_context(opentelemetry::trace::SpanContext::new(
        opentelemetry::trace::TraceId::from(1),
        opentelemetry::trace::SpanId::from(1),
        opentelemetry::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    ));
    let _in_span = in_span.then(|| span.attach());
    let start = std::time::Instant::now();
    for i in 0..n {
        let captured = Context::current();
        let mut handler = std::pin::pin!(std::future::ready(i));
        let active = captured.attach();
        let Poll::Ready(v) = handler.as_mut().poll(&mut task) else {
            unreachable!("ready futures are ready")
        };
        drop(active);
        std::hint::black_box(v);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// The context the benchmarks send from: inside a remote caller's span (one fixed trace),
/// sampled or not. Every set-up carries the same context, so none pays for a different one.
pub fn remote_caller(sampled: bool) -> opentelemetry::Context {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c),
        SpanId::from(0xb7ad_6b71_6920_3331),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        Default::default(),
    ))
}

/// The median of some measurements (the upper one of an even count); panics on none.
pub fn median(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut xs: Vec<f64> = xs.into_iter().collect();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Spawns a thread named `name` that runs the future `body` makes on a current-thread
/// runtime of its own: how the raw baselines' receivers run, like an actor's thread.
pub fn spawn_on_runtime<F, Fut>(name: String, body: F) -> std::thread::JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(body())
        })
        .expect("thread")
}

/// The CPU time of this process's threads of one name.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpu {
    /// How many threads have the name.
    pub threads: usize,
    /// Their CPU time so far, summed, in ns.
    pub ns: u64,
}

/// CPU time per thread name of this process so far (`/proc/self/task/*/schedstat`; empty
/// where there is no `/proc`).
pub fn thread_cpu() -> std::collections::BTreeMap<String, ThreadCpu> {
    let mut out = std::collections::BTreeMap::new();
    for (_, name, ns) in task_cpu() {
        let entry: &mut ThreadCpu = out.entry(name).or_default();
        entry.threads += 1;
        entry.ns += ns;
    }
    out
}

/// CPU time of each thread of this process so far, in ns: its id, its name and the time
/// (`/proc/self/task/*/schedstat`; empty where there is no `/proc`).
pub fn task_cpu() -> Vec<(u32, String, u64)> {
    task_cpu_in("/proc/self/task")
}

/// CPU time used so far by every thread of process `pid`, in ns (0 when it cannot be read,
/// as for [`task_cpu`]).
pub fn process_cpu(pid: u32) -> u64 {
    task_cpu_in(&format!("/proc/{pid}/task"))
        .iter()
        .map(|(_, _, ns)| ns)
        .sum()
}

/// [`task_cpu`] for the threads listed in `dir`.
fn task_cpu_in(dir: &str) -> Vec<(u32, String, u64)> {
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let path = task.path();
            let id = task.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let schedstat = std::fs::read_to_string(path.join("schedstat")).ok()?;
            let ns = schedstat.split_whitespace().next()?.parse().ok()?;
            Some((id, name.trim().to_string(), ns))
        })
        .collect()
}

/// The CPU time each thread of this process spent since `before` (a [`task_cpu`] reading),
/// in ns: its id, its name and the time (a thread started since then counts from zero).
pub fn task_cpu_since(before: &[(u32, String, u64)]) -> Vec<(u32, String, u64)> {
    task_cpu()
        .into_iter()
        .map(|(id, name, now)| {
            let earlier = before.iter().find(|(b, ..)| *b == id).map_or(0, |t| t.2);
            (id, name, now.saturating_sub(earlier))
        })
        .collect()
}

/// CPU time used so far by every thread of this process.
pub fn cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(
        rc, 0,
        "CLOCK_PROCESS_CPUTIME_ID is always available on Linux"
    );
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Accepts and discards every span, as `actor_otel::Exporter::noop()` does inside our
/// pipeline: the SDK floor below exports into it.
#[derive(Debug)]
struct NoopExporter;

impl opentelemetry_sdk::trace::SpanExporter for NoopExporter {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// The floor under the tracing cost: what `opentelemetry_sdk` alone takes for one span,
/// started and ended on this thread, batched by the SDK's own `BatchSpanProcessor` into a
/// no-op exporter (CPU time of every thread, nanoseconds per span over `n` spans). The span
/// is a consumer span under a parent with the first `attributes` (up to 8) of our `process`
/// span's attributes and, with `link`, a link to the parent: `(8, true)` is the shape of our
/// `process` span.
pub fn sdk_span_floor_ns(n: u64, attributes: usize, link: bool) -> f64 {
    use opentelemetry::trace::{
        Link, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, Tracer,
        TracerProvider,
    };
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
    use opentelemetry_semantic_conventions::attribute as semconv;

    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(NoopExporter).build())
        .build();
    let tracer = provider.tracer("floor");
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7),
        SpanId::from(7),
        TraceFlags::SAMPLED,
        false,
        Default::default(),
    ));
    let start = cpu_time();
    for i in 0..n {
        let mut values = vec![
            KeyValue::new(semconv::MESSAGING_SYSTEM, "actor-core"),
            KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, "counter-0"),
            KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new("actor.message.type", "Tell"),
            KeyValue::new("actor.mailbox.wait_ns", i as i64),
            KeyValue::new(semconv::THREAD_NAME, "counter-0"),
            KeyValue::new(semconv::THREAD_ID, 2_i64),
        ];
        values.truncate(attributes);
        // An exact-size vector, as a caller building only these attributes would have.
        values.shrink_to_fit();
        let mut builder = tracer
            .span_builder("process counter-0")
            .with_kind(SpanKind::Consumer);
        if !values.is_empty() {
            builder = builder.with_attributes(values);
        }
        if link {
            builder = builder.with_links(vec![Link::with_context(
                parent.span().span_context().clone(),
            )]);
        }
        let span = builder.start_with_context(&tracer, &parent);
        drop(parent.with_span(span));
    }
    let _ = provider.force_flush();
    let per_span = (cpu_time() - start).as_nanos() as f64 / n as f64;
    let _ = provider.shutdown();
    per_span
}
