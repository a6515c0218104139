//! The `tracing` crate as a first-class caller and handler (feature `tracing`), on real
//! actor threads and real SDK pipelines exporting into memory: a caller inside a `tracing`
//! span is the parent of what it tells and asks (with the layer's context activation on and
//! off); `tracing` spans in a handler are children of its `process` span and go to the
//! actor's own pipeline; a bare `tracing::info!` in a handler is an event on the `process`
//! span, with no second `process` span; fmt log lines written in a handler carry the actor
//! and the trace id.
//!
//! Each test scopes its subscriber with `set_default`; actor threads run with the
//! dispatcher that was the default where they were spawned.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, Message};
use actor_otel::attribute::ACTOR_NAME;
use actor_otel::testing::{ExportedSpan, SpanStore};
use actor_otel::{PipelineMode, Telemetry};
use common::telemetry::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Tells and asks of the tests.
struct Hello;
impl Message for Hello {
    type Reply = ();
}

struct Ping;
impl Message for Ping {
    type Reply = u32;
}

/// Makes a `tracing` span across an `.await`, with an event inside it.
struct Lookup;
impl Message for Lookup {
    type Reply = ();
}

/// Writes a bare `tracing::info!` (in no span of its own).
struct Log;
impl Message for Log {
    type Reply = ();
}

#[derive(Default)]
struct Echo;
impl Actor for Echo {}

impl Handler<Hello> for Echo {
    async fn handle(&mut self, _: Hello, _cx: &mut Ctx<Self>) {}
}

impl Handler<Ping> for Echo {
    async fn handle(&mut self, _: Ping, _cx: &mut Ctx<Self>) -> u32 {
        7
    }
}

impl Handler<Lookup> for Echo {
    async fn handle(&mut self, _: Lookup, _cx: &mut Ctx<Self>) {
        async {
            tokio::task::yield_now().await;
            tracing::info!("looked up");
        }
        .instrument(tracing::info_span!("lookup"))
        .await;
    }
}

impl Handler<Log> for Echo {
    async fn handle(&mut self, _: Log, _cx: &mut Ctx<Self>) {
        tokio::task::yield_now().await;
        tracing::info!(answer = 42, "handled log");
    }
}

/// A traced system, its telemetry and store, with `telemetry.tracing_layer()` (context
/// activation as given) as the calling thread's default subscriber until the guard drops.
fn traced_with_layer(
    activation: bool,
) -> (
    ActorSystem,
    Telemetry,
    SpanStore,
    tracing::subscriber::DefaultGuard,
) {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let subscriber = tracing_subscriber::registry().with(
        telemetry
            .tracing_layer()
            .with_context_activation(activation),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    (system, telemetry, store, guard)
}

/// Panics unless `span` is `ancestor` or descends from it among `spans`.
fn assert_descends(span: &ExportedSpan, ancestor: &ExportedSpan, spans: &[ExportedSpan]) {
    let mut at = span.clone();
    for _ in 0..spans.len() {
        if at.span_id() == ancestor.span_id() {
            return;
        }
        match spans.iter().find(|s| s.span_id() == at.parent_span_id()) {
            Some(parent) => at = parent.clone(),
            None => break,
        }
    }
    panic!(
        "`{}` does not descend from `{}`: {:?}",
        span.name(),
        ancestor.name(),
        spans
            .iter()
            .map(|s| (s.name().to_owned(), s.span_id(), s.parent_span_id()))
            .collect::<Vec<_>>()
    );
}

#[tracing::instrument(name = "request", skip_all)]
async fn caller(echo: &ActorRef<Echo>) -> u32 {
    echo.tell(Hello).await.unwrap();
    echo.ask(Ping).await.unwrap()
}

/// A caller in `#[instrument]`: its tell (through its `send` span) and its ask are in its
/// trace, under it.
async fn caller_span_is_the_parent(activation: bool) {
    let (system, telemetry, store, _guard) = traced_with_layer(activation);
    let echo = system.spawn("echo", Echo::default).unwrap();
    assert_eq!(caller(&echo).await, 7);
    system.shutdown().await;

    let spans = store.spans();
    let request = store.one("request");
    let processes = store.named("process echo");
    assert_eq!(processes.len(), 2, "{spans:?}");
    for process in &processes {
        assert_eq!(process.trace_id(), request.trace_id());
        assert_descends(process, &request, &spans);
    }
    // The tell's `process` follows its `send`, a child of the caller's span; the ask (no
    // `send` span by default) is a direct child.
    let send = store.one("send echo");
    assert_child(&send, &request);
    assert!(processes.iter().any(|p| p.is_child_of(&send)));
    assert!(processes.iter().any(|p| p.is_child_of(&request)));
    // request, send, two process spans: nothing else (no `process` from `tracing`).
    assert_eq!(store.len(), 4, "{spans:?}");
    assert!(store.named("process").is_empty());
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn a_tracing_caller_is_the_parent_with_context_activation_on() {
    caller_span_is_the_parent(true).await;
}

/// Without the layer's context activation the OpenTelemetry context is empty in the
/// caller; the send takes the current `tracing` span's context instead.
#[tokio::test]
async fn a_tracing_caller_is_the_parent_with_context_activation_off() {
    caller_span_is_the_parent(false).await;
}

/// A caller in `info_span!` entered around blocking sends (no `.await`), activation off.
#[test]
fn an_entered_info_span_is_the_parent_of_blocking_sends() {
    let (system, telemetry, store, _guard) = traced_with_layer(false);
    let echo = system.spawn("echo", Echo::default).unwrap();
    {
        let _entered = tracing::info_span!("request").entered();
        echo.blocking_tell(Hello).unwrap();
        assert_eq!(echo.blocking_ask(Ping).unwrap(), 7);
    }
    system.blocking_shutdown();

    let spans = store.spans();
    let request = store.one("request");
    for process in store.named("process echo") {
        assert_descends(&process, &request, &spans);
    }
    assert_eq!(store.named("process echo").len(), 2);
    assert_all_exported(&telemetry, &store);
}

/// An `info_span!` in a handler (across an `.await`) is a child of the real `process`
/// span and is exported by the actor's own pipeline (its resource names the actor), not
/// the system's.
async fn a_handler_span_is_a_child_of_process(activation: bool) {
    let (system, telemetry, store, _guard) = traced_with_layer(activation);
    let echo = system.spawn("echo", Echo::default).unwrap();
    let cx = root(&telemetry, "request");
    echo.ask(Lookup).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let process = store.one("process echo");
    let lookup = store.one("lookup");
    assert_child(&process, &request);
    assert_child(&lookup, &process);
    assert_eq!(
        lookup.resource_attribute(ACTOR_NAME).map(|v| v.to_string()),
        Some("echo".to_owned()),
        "{:?}",
        lookup.resource
    );
    assert_eq!(
        process.resource_attribute(ACTOR_NAME),
        lookup.resource_attribute(ACTOR_NAME)
    );
    assert!(request.resource_attribute(ACTOR_NAME).is_none());
    // The event inside `lookup` is on `lookup`.
    assert!(lookup.span.events.iter().any(|e| e.name == "looked up"));
    assert_eq!(store.len(), 3, "{:?}", store.spans());
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn a_handler_span_is_a_child_of_process_in_the_actors_pipeline() {
    a_handler_span_is_a_child_of_process(true).await;
}

#[tokio::test]
async fn a_handler_span_is_a_child_of_process_without_context_activation() {
    a_handler_span_is_a_child_of_process(false).await;
}

/// A bare `tracing::info!` in a handler is an event on the exported `process` span, and
/// the `process` tracing span it is in is not exported as a span of its own.
async fn a_bare_event_lands_on_process(activation: bool) {
    let (system, telemetry, store, _guard) = traced_with_layer(activation);
    let echo = system.spawn("echo", Echo::default).unwrap();
    let cx = root(&telemetry, "request");
    echo.tell(Log).with_context(cx.clone()).await.unwrap();
    echo.ask(Log).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    system.shutdown().await;

    let processes = store.named("process echo");
    assert_eq!(processes.len(), 2);
    for process in &processes {
        let event = process
            .span
            .events
            .iter()
            .find(|e| e.name == "handled log")
            .unwrap_or_else(|| panic!("no event on {:?}", process.span));
        assert!(event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "answer" && kv.value.to_string() == "42"));
        // The layer's own attributes (`thread.id`, `code.*`, the tracing fields) are not
        // copied onto the real span, whose `thread.id` is the managed one.
        assert!(process.attribute("code.file.path").is_none());
        assert!(process.attribute("busy_ns").is_none());
    }
    // request, send (tell), two process spans: the `process` tracing spans became none.
    let stats = telemetry.stats();
    assert_eq!(store.len(), 4, "{:?}", store.spans());
    assert_eq!(stats.spans_ended, 4, "{stats:?}");
    assert!(store.named("process").is_empty());
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn a_bare_event_in_a_handler_is_an_event_on_process() {
    a_bare_event_lands_on_process(true).await;
}

#[tokio::test]
async fn a_bare_event_in_a_handler_is_an_event_on_process_without_context_activation() {
    a_bare_event_lands_on_process(false).await;
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The line `handled log` as fmt writes it, with and without the OpenTelemetry layer.
async fn log_line(with_layer: bool) -> (String, TraceId) {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let buffer = Buffer::default();
    let fmt = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = if with_layer {
        tracing::subscriber::set_default(fmt.with(telemetry.tracing_layer()))
    } else {
        tracing::subscriber::set_default(fmt)
    };
    let echo = system.spawn("echo", Echo::default).unwrap();
    let cx = root(&telemetry, "request");
    echo.ask(Log).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    system.shutdown().await;
    assert_eq!(
        store.one("process echo").trace_id(),
        store.one("request").trace_id()
    );
    let text = buffer.text();
    let line = text
        .lines()
        .find(|l| l.contains("handled log"))
        .unwrap_or_else(|| panic!("no line `handled log` in {text:?}"))
        .to_owned();
    (line, store.one("request").trace_id())
}

#[tokio::test]
async fn a_log_line_in_a_handler_carries_the_actor_and_the_trace_id() {
    for with_layer in [false, true] {
        let (line, trace_id) = log_line(with_layer).await;
        assert!(line.contains("process{"), "{line}");
        assert!(line.contains("actor=echo"), "{line}");
        assert!(line.contains("message.type="), "{line}");
        assert!(line.contains("Log"), "{line}");
        assert!(line.contains(&format!("trace_id={trace_id}")), "{line}");
        assert!(line.contains("answer=42"), "{line}");
    }
}

/// Outside any trace the `process` tracing span has no `trace_id`, and nothing is
/// exported for it.
#[tokio::test]
async fn a_handler_outside_any_trace_logs_without_a_trace_id() {
    let system = ActorSystem::builder().name("untraced").build();
    let buffer = Buffer::default();
    let fmt = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(fmt);
    let echo = system.spawn("echo", Echo::default).unwrap();
    echo.ask(Log).await.unwrap();
    system.shutdown().await;
    let text = buffer.text();
    let line = text
        .lines()
        .find(|l| l.contains("handled log"))
        .expect(&text);
    assert!(line.contains("actor=echo"), "{line}");
    assert!(!line.contains("trace_id"), "{line}");
}

// Logs: `tracing` events become OpenTelemetry log records through `Telemetry::log_layer`.

/// A `tracing::info!` in a handler is a log record of the actor's own pipeline carrying the
/// trace id and span id of its `process` span; an event outside actors is the system's.
async fn events_become_log_records(protocol: actor_otel::OtlpProtocol) {
    let receiver = receiver_for(protocol);
    let telemetry = Telemetry::builder()
        .service_name("logs-test")
        .exporter(otlp_to(protocol, &receiver))
        .global(false)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(telemetry.tracing_layer())
        .with(telemetry.log_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let echo = system.spawn("echo", Echo::default).unwrap();
    for _ in 0..3 {
        echo.ask(Log).await.unwrap();
    }
    tracing::warn!("outside any actor");
    system.shutdown().await;
    drop(_guard);

    let records = receiver.logs();
    let handled: Vec<_> = records
        .iter()
        .filter(|r| r.body() == "handled log")
        .collect();
    assert_eq!(handled.len(), 3, "{protocol:?}: {records:#?}");
    let spans = receiver.spans();
    for record in &handled {
        assert_eq!(record.resource[ACTOR_NAME], "echo");
        assert_eq!(record.attribute("answer").as_deref(), Some("42"));
        let process = spans
            .iter()
            .find(|s| s.span_id() == record.span_id())
            .expect("the record's span was exported");
        assert_eq!(process.name(), "process echo");
        assert_eq!(process.trace_id(), record.trace_id());
    }
    let distinct: std::collections::HashSet<_> = handled.iter().map(|r| r.trace_id()).collect();
    assert_eq!(distinct.len(), 3, "one trace per ask");
    let outside = records
        .iter()
        .find(|r| r.body() == "outside any actor")
        .expect("the system pipeline exports events outside actors");
    assert!(!outside.resource.contains_key(ACTOR_NAME));
    let stats = telemetry.stats();
    assert_eq!(stats.logs_emitted, stats.logs_exported, "{stats:?}");
}

#[tokio::test]
async fn tracing_events_become_log_records_over_http() {
    events_become_log_records(actor_otel::OtlpProtocol::HttpProtobuf).await;
}

#[tokio::test]
async fn tracing_events_become_log_records_over_grpc() {
    events_become_log_records(actor_otel::OtlpProtocol::Grpc).await;
}

/// Without a collector, the console prints the log records after the waterfall, each with
/// its actor and trace id.
#[tokio::test]
async fn the_console_prints_log_records_with_their_actor_and_trace() {
    let buffer = Buffer::default();
    let out: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(buffer.clone()));
    let telemetry = Telemetry::builder()
        .exporter(actor_otel::Exporter::console_to(out))
        .global(false)
        .build()
        .unwrap();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(telemetry.log_layer()),
    );
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let echo = system.spawn("echo", Echo::default).unwrap();
    let cx = root(&telemetry, "request");
    let trace = cx.span().span_context().trace_id();
    echo.ask(Log).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    system.shutdown().await;
    drop(system);
    telemetry.shutdown().unwrap();
    let text = buffer.text();
    let logs = text
        .split("log records (1):")
        .nth(1)
        .unwrap_or_else(|| panic!("no log section in {text}"));
    let line = logs.lines().find(|l| l.contains("handled log")).unwrap();
    assert!(line.contains("INFO") && line.contains("[echo]"), "{line}");
    assert!(line.contains(&format!("trace={trace}")), "{line}");
    assert!(
        text.find("process echo").unwrap() < text.find("log records").unwrap(),
        "after the waterfall: {text}"
    );
}

/// An exporter that takes no logs gives no log layer (a layer that does nothing), rather than
/// records that would be dropped.
#[test]
fn no_log_layer_without_a_log_exporter() {
    let telemetry = Telemetry::builder()
        .exporter(actor_otel::Exporter::noop().without_logs())
        .global(false)
        .build()
        .unwrap();
    assert!(telemetry.log_layer().is_none());
    assert!(telemetry.logger_provider().is_none());
}
