//! Remote actors over NATS, traced across processes: this process starts a second OS
//! process (this same example, `--worker`) that serves a `greeter` actor on the subject
//! `svc.greeter`; this one asks and tells it, and both export their spans.
//!
//! ```text
//! cargo run --example remote                 # starts a local nats-server, prints one waterfall
//! NATS_URL=nats://127.0.0.1:4222 cargo run --example remote
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example remote
//! ```
//!
//! With `NATS_URL` unset it starts a `nats-server` on a free loopback port (and says how to
//! install one if there is none). With no collector configured, both processes export to an
//! OTLP receiver embedded in this one, which prints the trace as one waterfall, each span
//! with its service and `process.pid`; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, both export
//! there and the collector sees one trace from two pids.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_nats::testing::NatsServer;
use actor_nats::NatsOptions;
use actor_otel::testing::{OtlpReceiver, ReceivedSpan};
use actor_otel::{Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};

const SUBJECT: &str = "svc.greeter";

#[derive(Debug, Serialize, Deserialize)]
struct Greet(String);
impl Message for Greet {
    type Reply = String;
}

#[derive(Debug, Serialize, Deserialize)]
struct Note(String);
impl Message for Note {
    type Reply = ();
}

struct Greeter {
    notes: usize,
}
impl Actor for Greeter {}

impl Handler<Greet> for Greeter {
    async fn handle(&mut self, Greet(name): Greet, cx: &mut Ctx<Self>) -> String {
        let mut span = cx.tracer().start("compose greeting");
        let text = format!(
            "hello {name} ({} note), from pid {}",
            self.notes,
            std::process::id()
        );
        span.end();
        text
    }
}

impl Handler<Note> for Greeter {
    async fn handle(&mut self, Note(_text): Note, cx: &mut Ctx<Self>) {
        let mut span = cx.tracer().start("write note");
        self.notes += 1;
        span.end();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--worker") {
        worker().await
    } else {
        caller().await
    }
}

/// The worker process: serves the greeter until its stdin closes.
async fn worker() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL")?;
    let telemetry = Telemetry::builder()
        .service_name("remote-worker")
        .exporter(Exporter::from_env())
        .build()?;
    let system = ActorSystem::builder()
        .name("remote-worker")
        .instrumentation(telemetry.clone())
        .build();
    let greeter = system.spawn("greeter", || Greeter { notes: 0 })?;
    let nats = NatsOptions::new(url)
        .name("remote-worker")
        .connect()
        .await?;
    let serving = nats
        .serve(SUBJECT)
        .handle(greeter.recipient::<Greet>())
        .handle(greeter.recipient::<Note>())
        .start()
        .await?;
    println!("worker ready, pid {}", std::process::id());
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await?;
    serving.stop().await;
    system.shutdown().await;
    telemetry.shutdown()?;
    Ok(())
}

/// The calling process.
async fn caller() -> Result<(), Box<dyn std::error::Error>> {
    // A server: NATS_URL's, else one started here.
    let local_server = match std::env::var("NATS_URL") {
        Ok(_) => None,
        Err(_) => match NatsServer::start() {
            Ok(server) => Some(server),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
    };
    let url = match &local_server {
        Some(server) => server.url(),
        None => std::env::var("NATS_URL")?,
    };
    // A collector: the configured one, else a receiver embedded here.
    let external = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let receiver = match external {
        Some(_) => None,
        None => Some(OtlpReceiver::http()?),
    };
    let endpoint = match (&external, &receiver) {
        (Some(endpoint), _) => endpoint.clone(),
        (None, Some(receiver)) => receiver.endpoint().to_owned(),
        (None, None) => unreachable!("one of the two is set"),
    };
    println!("NATS at {url}; exporting spans to {endpoint}");

    let mut worker = Command::new(std::env::current_exe()?)
        .arg("--worker")
        .env("NATS_URL", &url)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(worker.stdout.take().ok_or("no worker stdout")?).lines();
    let ready = lines.next().transpose()?.unwrap_or_default();
    println!("{ready}");

    let telemetry = Telemetry::builder()
        .service_name("remote-caller")
        .exporter(actor_otel::Exporter::otlp(
            actor_otel::OtlpProtocol::HttpProtobuf,
            Some(endpoint.clone()),
        ))
        .build()?;
    let nats = NatsOptions::new(&url)
        .name("remote-caller")
        .connect()
        .await?;
    let greeter = nats.recipient::<Greet>(SUBJECT);
    let notes = nats.recipient::<Note>(SUBJECT);

    let cx = Context::current_with_span(telemetry.tracer("caller").start("checkout"));
    let trace_id = cx.span().span_context().trace_id();
    // A tell, then an ask: one subject, one connection, so the note is handled first.
    notes
        .tell(Note("ada is here".into()))
        .with_context(cx.clone())
        .await?;
    let reply = greeter
        .ask(Greet("ada".into()))
        .timeout(Duration::from_secs(5))
        .with_context(cx.clone())
        .await?;
    println!("reply: {reply}");
    cx.span().end();

    // The worker flushes its spans when it stops.
    drop(worker.stdin.take());
    let status = worker.wait()?;
    telemetry.shutdown()?;
    println!("worker exited: {status}; trace {trace_id}");

    if let Some(receiver) = receiver {
        receiver.wait_for(7, Duration::from_secs(10));
        print_waterfall(&receiver.spans());
    }
    Ok(())
}

/// One waterfall per trace: each span under its parent, with its service and pid.
fn print_waterfall(spans: &[ReceivedSpan]) {
    let mut traces: Vec<String> = spans.iter().map(ReceivedSpan::trace_id).collect();
    traces.dedup();
    traces.sort();
    traces.dedup();
    for trace in traces {
        let in_trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id() == trace).collect();
        let start = in_trace
            .iter()
            .map(|s| s.span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let pids: std::collections::BTreeSet<&str> = in_trace
            .iter()
            .filter_map(|s| s.resource.get("process.pid").map(String::as_str))
            .collect();
        println!(
            "trace {trace}  {} spans from {} processes",
            in_trace.len(),
            pids.len()
        );
        let ids: HashMap<String, &ReceivedSpan> =
            in_trace.iter().map(|s| (s.span_id(), *s)).collect();
        let mut roots: Vec<&ReceivedSpan> = in_trace
            .iter()
            .copied()
            .filter(|s| !ids.contains_key(&s.parent_span_id()))
            .collect();
        roots.sort_by_key(|s| s.span.start_time_unix_nano);
        for root in roots {
            print_row(root, &in_trace, start, 0);
        }
    }
}

fn print_row(span: &ReceivedSpan, all: &[&ReceivedSpan], start: u64, depth: usize) {
    let offset = span.span.start_time_unix_nano.saturating_sub(start) as f64 / 1e6;
    let took = span
        .span
        .end_time_unix_nano
        .saturating_sub(span.span.start_time_unix_nano) as f64
        / 1e6;
    let service = span
        .resource
        .get("service.name")
        .cloned()
        .unwrap_or_default();
    let pid = span
        .resource
        .get("process.pid")
        .cloned()
        .unwrap_or_default();
    println!(
        "  {}{} {:>8.2} ms +{:.2} ms  {service} pid {pid}",
        "  ".repeat(depth),
        span.name(),
        took,
        offset,
    );
    let mut children: Vec<&&ReceivedSpan> = all
        .iter()
        .filter(|s| s.parent_span_id() == span.span_id())
        .collect();
    children.sort_by_key(|s| s.span.start_time_unix_nano);
    for child in children {
        print_row(child, all, start, depth + 1);
    }
}
