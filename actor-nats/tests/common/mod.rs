//! Actors and helpers shared by the actor-nats tests. Every test starts its own real
//! `nats-server` on a free loopback port.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actor_core::{Actor, Ctx, Handler, Message};
use actor_nats::testing::NatsServer;
use actor_nats::{Nats, NatsOptions, ReconnectPolicy};
use actor_otel::testing::OtlpReceiver;
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry, TelemetryBuilder};
use serde::{Deserialize, Serialize};

/// A server, or a failure that says how to install one.
pub fn server() -> NatsServer {
    server_with("")
}

/// A server with this configuration, or a failure that says how to install one.
pub fn server_with(config: &str) -> NatsServer {
    match NatsServer::with_config(config) {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

/// Telemetry for `service` exporting to `receiver` over OTLP/HTTP every 20 ms (to build,
/// as the global SDK or not).
pub fn exporting_to(receiver: &OtlpReceiver, service: &str) -> TelemetryBuilder {
    Telemetry::builder()
        .service_name(service)
        .exporter(Exporter::otlp(
            OtlpProtocol::HttpProtobuf,
            Some(receiver.endpoint().to_owned()),
        ))
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
}

/// [`exporting_to`], not installed as the global SDK.
pub fn telemetry_to(receiver: &OtlpReceiver, service: &str) -> Telemetry {
    exporting_to(receiver, service)
        .global(false)
        .build()
        .expect("telemetry")
}

/// Options for `server` that reconnect quickly (tests restart servers).
pub fn options(server: &NatsServer) -> NatsOptions {
    NatsOptions::new(server.url())
        .name("actor-nats-test")
        .connect_timeout(Duration::from_secs(5))
        .reconnect(ReconnectPolicy {
            max_attempts: None,
            max_delay: Duration::from_millis(100),
        })
}

pub async fn connect(server: &NatsServer) -> Nats {
    options(server).connect().await.expect("connect")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Add(pub u64);
impl Message for Add {
    type Reply = u64;
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Boom(pub String);
impl Message for Boom {
    type Reply = u64;
}

/// Holds its handler until the gate opens (a slow consumer).
#[derive(Debug, Serialize, Deserialize)]
pub struct Wait(pub u64);
impl Message for Wait {
    type Reply = u64;
}

/// Counts what it handled; `seen` is shared with the test.
pub struct Counter {
    pub total: u64,
    pub seen: Arc<AtomicU64>,
    pub gate: Option<Arc<std::sync::Barrier>>,
}
impl Actor for Counter {}

impl Handler<Add> for Counter {
    async fn handle(&mut self, Add(n): Add, _cx: &mut Ctx<Self>) -> u64 {
        self.seen.fetch_add(1, Ordering::SeqCst);
        self.total += n;
        self.total
    }
}

impl Handler<Boom> for Counter {
    async fn handle(&mut self, Boom(text): Boom, _cx: &mut Ctx<Self>) -> u64 {
        self.seen.fetch_add(1, Ordering::SeqCst);
        panic!("{text}")
    }
}

impl Handler<Wait> for Counter {
    async fn handle(&mut self, Wait(n): Wait, _cx: &mut Ctx<Self>) -> u64 {
        self.seen.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(n));
        n
    }
}

pub fn counter(seen: &Arc<AtomicU64>) -> impl Fn() -> Counter + Send + 'static {
    let seen = seen.clone();
    move || Counter {
        total: 0,
        seen: seen.clone(),
        gate: None,
    }
}
