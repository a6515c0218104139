//! A small supervision tree: a supervisor with two workers (one crashes on bad input and is
//! restarted by the supervisor's one-for-one strategy), a timer-driven health check, and a
//! watcher that logs the supervisor's `Terminated`. Prints the tree and each trace's
//! waterfall (the crash and its restart are in the request's trace).
//!
//! ```text
//! cargo run --example supervision
//! ```

use std::time::Duration;

use actor_core::{
    Actor, ActorRef, ActorSystem, AskError, Ctx, Handler, Message, SupervisionStrategy, Terminated,
    TimerHandle,
};
use actor_otel::{Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;

/// Parses orders; panics on bad input (the supervisor restarts it).
struct Worker;
impl Actor for Worker {
    async fn started(&mut self, cx: &mut Ctx<Self>) {
        println!("{} started", cx.name());
    }
}

/// An order to parse.
struct Parse(&'static str);
impl Message for Parse {
    type Reply = u64;
}
impl Handler<Parse> for Worker {
    async fn handle(&mut self, Parse(text): Parse, _cx: &mut Ctx<Self>) -> u64 {
        text.parse().expect("an order is a number")
    }
}

/// Is the worker alive?
struct Ping;
impl Message for Ping {
    type Reply = ();
}
impl Handler<Ping> for Worker {
    async fn handle(&mut self, _: Ping, _cx: &mut Ctx<Self>) {}
}

/// Owns the workers and checks on them every 20 ms; stops after three checks.
struct Supervisor {
    workers: Vec<ActorRef<Worker>>,
    checks: u32,
    health: Option<TimerHandle>,
}
impl Actor for Supervisor {
    async fn started(&mut self, cx: &mut Ctx<Self>) {
        // Children are spawned in `started`: a restarted supervisor spawns them afresh.
        for name in ["worker-1", "worker-2"] {
            match cx.spawn_child(name, || Worker) {
                Ok(worker) => self.workers.push(worker),
                Err(e) => eprintln!("could not spawn {name}: {e}"),
            }
        }
        self.health = Some(cx.send_interval(Duration::from_millis(20), || HealthCheck));
    }
}

/// The timer's message.
struct HealthCheck;
impl Message for HealthCheck {
    type Reply = ();
}
impl Handler<HealthCheck> for Supervisor {
    async fn handle(&mut self, _: HealthCheck, cx: &mut Ctx<Self>) {
        let mut alive = 0;
        for worker in &self.workers {
            if worker.ask(Ping).await.is_ok() {
                alive += 1;
            }
        }
        self.checks += 1;
        println!(
            "health check {}: {alive} of {} workers alive",
            self.checks,
            self.workers.len()
        );
        if self.checks == 3 {
            if let Some(health) = &self.health {
                health.cancel();
            }
            cx.stop();
        }
    }
}

/// Logs the end of what it watches.
struct Watcher;
impl Actor for Watcher {}

/// Whom to watch.
struct Watch(ActorRef<Supervisor>);
impl Message for Watch {
    type Reply = ();
}
impl Handler<Watch> for Watcher {
    async fn handle(&mut self, Watch(supervisor): Watch, cx: &mut Ctx<Self>) {
        cx.watch(&supervisor);
    }
}
impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, t: Terminated, _cx: &mut Ctx<Self>) {
        println!("watcher: {} terminated ({:?})", t.name, t.reason);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder()
        .service_name("supervision-example")
        .exporter(Exporter::from_env())
        .build()?;
    let system = ActorSystem::builder()
        .name("supervision-example")
        .instrumentation(telemetry.clone())
        .build();
    let supervisor = system
        .actor("supervisor")
        .supervise(SupervisionStrategy::one_for_one().max_restarts(3, Duration::from_secs(10)))
        .spawn(|| Supervisor {
            workers: Vec::new(),
            checks: 0,
            health: None,
        })?;
    supervisor.wait_started().await?;
    let watcher = system.spawn("watcher", || Watcher)?;
    watcher.ask(Watch(supervisor.clone())).await?;

    let worker = system
        .lookup::<Worker>("worker-1")
        .ok_or("worker-1 is not running")?;
    let cx = Context::current_with_span(telemetry.tracer("orders").start("POST /orders"));
    for order in ["17", "bad", "25"] {
        match worker.ask(Parse(order)).with_context(cx.clone()).await {
            Ok(n) => println!("order {order:?} parsed: {n}"),
            Err(AskError::Panicked(why)) => {
                println!("order {order:?} crashed worker-1 ({why}); its supervisor restarts it")
            }
            Err(e) => return Err(e.into()),
        }
    }
    cx.span().end();

    let stopped = supervisor.wait_stopped().await.ok_or("no report")?;
    println!("supervisor stopped: {:?}", stopped.reason);
    let report = system.shutdown().await;
    println!("tree:\n{}", report.tree());
    telemetry.shutdown()?;
    Ok(())
}
