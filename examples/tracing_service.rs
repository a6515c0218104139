//! A small checkout service instrumented with the `tracing` crate end to end (feature
//! `tracing`): the caller is an `#[instrument]`ed function, the handlers use `info_span!`
//! and bare `tracing::info!`, and one `tracing` subscriber both logs (fmt, to stderr) and
//! exports (through `Telemetry::tracing_layer`). Each request is one connected trace:
//!
//! ```text
//! checkout                     main
//!   process inventory          inventory
//!     check stock              inventory
//!     send audit               inventory
//!       process audit          audit
//!         write audit log      audit
//! ```
//!
//! and every log line written in a handler names its actor and trace id:
//!
//! ```text
//! INFO process{actor=inventory message.type="tracing_service::Reserve" trace_id=0783…}: tracing_service: reserving sku="apple" qty=3
//! ```
//!
//! ```text
//! cargo run --example tracing_service
//! ```

use std::io::IsTerminal as _;
use std::time::Duration;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, Message};
use actor_otel::{Exporter, Telemetry};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Reserve `qty` of `sku`; replies whether there was enough.
struct Reserve {
    sku: &'static str,
    qty: u32,
}
impl Message for Reserve {
    type Reply = bool;
}

/// One line for the audit log.
struct Record(String);
impl Message for Record {
    type Reply = ();
}

struct Inventory {
    apples: u32,
    audit: ActorRef<Audit>,
}
impl Actor for Inventory {}
impl Handler<Reserve> for Inventory {
    async fn handle(&mut self, Reserve { sku, qty }: Reserve, _cx: &mut Ctx<Self>) -> bool {
        // A bare event: logged with the actor and trace id, and an event on `process inventory`.
        tracing::info!(sku, qty, "reserving");
        let ok = async {
            // The stock lookup takes a while; only this actor's thread waits.
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.apples >= qty
        }
        .instrument(tracing::info_span!("check stock", sku))
        .await;
        if ok {
            self.apples -= qty;
        } else {
            tracing::warn!(sku, qty, left = self.apples, "not enough stock");
        }
        // Fire-and-forget, in the same trace.
        let _ = self.audit.tell(Record(format!("{sku} x{qty}: {ok}"))).await;
        ok
    }
}

#[derive(Default)]
struct Audit {
    lines: Vec<String>,
}
impl Actor for Audit {}
impl Handler<Record> for Audit {
    async fn handle(&mut self, Record(line): Record, _cx: &mut Ctx<Self>) {
        let _span = tracing::info_span!("write audit log").entered();
        tracing::info!(%line, "audited");
        self.lines.push(line);
    }
}

/// The caller side: an ordinary `#[instrument]`ed function.
#[tracing::instrument(skip(inventory))]
async fn checkout(order: u32, inventory: &ActorRef<Inventory>) -> bool {
    tracing::info!("checking out");
    inventory
        .ask(Reserve {
            sku: "apple",
            qty: 3,
        })
        .await
        .unwrap_or(false)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder()
        .service_name("tracing-service")
        .exporter(Exporter::from_env())
        .build()?;
    // The five lines of the README: one subscriber that exports and logs.
    let subscriber = tracing_subscriber::registry()
        .with(telemetry.tracing_layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        );
    tracing::subscriber::set_global_default(subscriber)?;

    let system = ActorSystem::builder()
        .name("tracing-service")
        .instrumentation(telemetry.clone())
        .build();
    let audit = system.spawn("audit", Audit::default)?;
    let a = audit.clone();
    let inventory = system
        .actor("inventory")
        .depends_on(audit.id())
        .spawn(move || Inventory {
            apples: 4,
            audit: a.clone(),
        })?;

    for order in 1..=2 {
        let ok = checkout(order, &inventory).await;
        println!(
            "order {order}: {}",
            if ok { "reserved" } else { "out of stock" }
        );
    }

    let report = system.shutdown().await;
    println!("stopped in order: {}", report.order().join(" -> "));
    Ok(())
}
