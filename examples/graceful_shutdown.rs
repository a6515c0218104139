//! In-flight work, then SIGTERM (or Ctrl-C): the system refuses new messages, drains every
//! mailbox in order (dependents first), flushes each actor's pipeline on its own thread and
//! the system's last, then says what it drained and exported.
//!
//! ```text
//! cargo run --example graceful_shutdown            # sends itself SIGTERM after a moment
//! cargo run --example graceful_shutdown -- --wait  # waits for your Ctrl-C
//! ```

use std::time::Duration;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, MailboxSize, Message};
use actor_otel::testing::SpanStore;
use actor_otel::{Exporter, Telemetry};
use opentelemetry::trace::{Span, Tracer};
use opentelemetry::KeyValue;

/// A slow consumer, so work piles up in its mailbox.
struct Indexer;
impl Actor for Indexer {
    async fn stopped(&mut self, cx: &mut Ctx<Self>) {
        println!("{}: mailbox drained, stopping", cx.name());
    }
}

struct Document(u64);
impl Message for Document {
    type Reply = ();
}
impl Handler<Document> for Indexer {
    async fn handle(&mut self, Document(id): Document, cx: &mut Ctx<Self>) {
        let mut span = cx.tracer().start("index");
        span.set_attribute(KeyValue::new("document", id as i64));
        std::thread::sleep(Duration::from_millis(2));
        span.end();
    }
}

/// Forwards documents to the indexer: it depends on it, so it stops first.
struct Crawler {
    indexer: ActorRef<Indexer>,
}
impl Actor for Crawler {
    async fn stopped(&mut self, cx: &mut Ctx<Self>) {
        println!("{}: mailbox drained, stopping", cx.name());
    }
}
impl Handler<Document> for Crawler {
    async fn handle(&mut self, doc: Document, _cx: &mut Ctx<Self>) {
        let _ = self.indexer.tell(doc).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wait_for_user = std::env::args().any(|a| a == "--wait");
    // 400 small traces would flood the console: keep them in memory unless a collector is set.
    let store = SpanStore::new();
    let to_collector = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok();
    let exporter = if to_collector {
        Exporter::from_env()
    } else {
        Exporter::memory(&store)
    };
    let telemetry = Telemetry::builder()
        .service_name("graceful-shutdown")
        .exporter(exporter)
        .build()?;
    let system = ActorSystem::builder()
        .name("graceful-shutdown")
        .mailbox(MailboxSize::Unbounded)
        .instrumentation(telemetry.clone())
        .build();
    let indexer = system.spawn("indexer", || Indexer)?;
    let i = indexer.clone();
    let crawler = system
        .actor("crawler")
        .depends_on(indexer.id())
        .spawn(move || Crawler { indexer: i.clone() })?;

    for id in 0..400 {
        crawler.tell(Document(id)).await?;
    }
    println!(
        "ready: 400 documents in flight (pid {})",
        std::process::id()
    );
    if !wait_for_user {
        // Play the part of the orchestrator that stops the service.
        let pid = std::process::id().to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .await;
        });
    }

    let report = system.shutdown_on_signal().await?;
    println!(
        "signal received: stopped in order {}",
        report.order().join(" -> ")
    );
    let stats = telemetry.stats();
    println!(
        "drained {} messages; handled {}; exported {} of {} spans ({} lost); flushed {}",
        report.drained(),
        report.handled(),
        stats.spans_exported,
        stats.spans_ended,
        stats.spans_lost(),
        stats.flush_order.join(" -> ")
    );
    if !to_collector {
        println!("({} spans kept in memory; set OTEL_EXPORTER_OTLP_ENDPOINT to send them to a collector)", store.len());
    }
    Ok(())
}
