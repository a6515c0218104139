//! A chain of actors, parse → enrich → store, with ask and tell mixed: the caller asks
//! `parse`, `parse` tells `enrich`, `enrich` asks `store`. One trace across four threads.
//!
//! ```text
//! cargo run --example pipeline
//! ```

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, Message};
use actor_otel::{Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue};

/// A raw record, as read from the wire.
struct Raw(String);
impl Message for Raw {
    type Reply = usize;
}

/// A parsed record.
struct Parsed(Vec<String>);
impl Message for Parsed {
    type Reply = ();
}

/// An enriched record, ready to store.
struct Enriched(Vec<(String, usize)>);
impl Message for Enriched {
    type Reply = usize;
}

struct Parse {
    enrich: ActorRef<Enrich>,
}
impl Actor for Parse {}
impl Handler<Raw> for Parse {
    async fn handle(&mut self, Raw(line): Raw, cx: &mut Ctx<Self>) -> usize {
        let fields: Vec<String> = cx.tracer().in_span("split fields", |_| {
            line.split(',').map(str::to_owned).collect()
        });
        let count = fields.len();
        // Fire-and-forget: parse does not wait for enrichment.
        let _ = self.enrich.tell(Parsed(fields)).await;
        count
    }
}

struct Enrich {
    store: ActorRef<Store>,
}
impl Actor for Enrich {}
impl Handler<Parsed> for Enrich {
    async fn handle(&mut self, Parsed(fields): Parsed, cx: &mut Ctx<Self>) {
        let mut span = cx.tracer().start("lookup lengths");
        let enriched: Vec<(String, usize)> = fields
            .into_iter()
            .map(|f| {
                let n = f.len();
                (f, n)
            })
            .collect();
        span.end();
        // Request/reply: enrich waits until the record is stored.
        match self.store.ask(Enriched(enriched)).await {
            Ok(total) => cx
                .tracer()
                .start(format!("stored, {total} records in total"))
                .end(),
            Err(e) => eprintln!("store failed: {e}"),
        }
    }
}

#[derive(Default)]
struct Store {
    records: Vec<Vec<(String, usize)>>,
}
impl Actor for Store {}
impl Handler<Enriched> for Store {
    async fn handle(&mut self, Enriched(record): Enriched, cx: &mut Ctx<Self>) -> usize {
        let mut span = cx.tracer().start("insert");
        span.set_attribute(KeyValue::new("fields", record.len() as i64));
        // Storage takes a while; only this actor's thread waits.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.records.push(record);
        span.end();
        self.records.len()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder()
        .service_name("pipeline-example")
        .exporter(Exporter::from_env())
        .build()?;
    let system = ActorSystem::builder()
        .name("pipeline-example")
        .instrumentation(telemetry.clone())
        .build();
    let store = system.spawn("store", Store::default)?;
    let s = store.clone();
    let enrich = system
        .actor("enrich")
        .depends_on(store.id())
        .spawn(move || Enrich { store: s.clone() })?;
    let e = enrich.clone();
    let parse = system
        .actor("parse")
        .depends_on(enrich.id())
        .spawn(move || Parse { enrich: e.clone() })?;

    let cx = Context::current_with_span(global::tracer("ingest").start("ingest line"));
    let fields = parse
        .ask(Raw("alpha,beta,gamma".into()))
        .with_context(cx.clone())
        .await?;
    cx.span().end();
    println!("parsed {fields} fields; enrich and store continue in the same trace");

    let report = system.shutdown().await;
    println!("stopped in order: {}", report.order().join(" -> "));
    Ok(())
}
