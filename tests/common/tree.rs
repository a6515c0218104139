//! Actors for supervision trees: a [`Sup`] that spawns the children its [`Spec`] lists in
//! `started`, and [`Leaf`] children that crash on demand; both log `started <name>` and
//! `stopped <name>` into a shared [`Log`].

use std::sync::{Arc, Mutex};

use actor_core::{Actor, ActorSystem, Ctx, Handler, SupervisionStrategy};

use super::watching::{Crash, Ping};

/// What the tree's actors did, in order.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A tree to build: a leaf, or a supervisor with its strategy and children.
#[derive(Clone)]
pub enum Spec {
    Leaf(&'static str),
    Sup(&'static str, SupervisionStrategy, Vec<Spec>),
}

/// A child that logs its lifecycle and crashes on [`Crash`].
pub struct Leaf {
    pub log: Log,
}

impl Actor for Leaf {
    async fn started(&mut self, cx: &mut Ctx<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("started {}", cx.name()));
    }
    async fn stopped(&mut self, cx: &mut Ctx<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("stopped {}", cx.name()));
    }
}

impl Handler<Crash> for Leaf {
    async fn handle(&mut self, _: Crash, _: &mut Ctx<Self>) {
        panic!("leaf crash");
    }
}

impl Handler<Ping> for Leaf {
    async fn handle(&mut self, _: Ping, _: &mut Ctx<Self>) {}
}

/// A supervisor: spawns its children in `started`, in the order of its spec.
pub struct Sup {
    pub children: Vec<Spec>,
    pub log: Log,
}

impl Actor for Sup {
    async fn started(&mut self, cx: &mut Ctx<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("started {}", cx.name()));
        for spec in &self.children {
            spawn_under(cx, spec, &self.log);
        }
    }
    async fn stopped(&mut self, cx: &mut Ctx<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("stopped {}", cx.name()));
    }
}

impl Handler<Ping> for Sup {
    async fn handle(&mut self, _: Ping, _: &mut Ctx<Self>) {}
}

fn spawn_under(cx: &Ctx<Sup>, spec: &Spec, log: &Log) {
    let log = log.clone();
    match spec.clone() {
        Spec::Leaf(name) => {
            cx.spawn_child(name, move || Leaf { log: log.clone() })
                .expect("spawn a leaf");
        }
        Spec::Sup(name, strategy, children) => {
            cx.child(name)
                .supervise(strategy)
                .spawn(move || Sup {
                    children: children.clone(),
                    log: log.clone(),
                })
                .expect("spawn a supervisor");
        }
    }
}

/// Spawns the tree `spec` (a [`Spec::Sup`]) at the root of `system`.
pub fn spawn_tree(system: &ActorSystem, spec: Spec) -> (actor_core::ActorRef<Sup>, Log) {
    let log = Log::default();
    let Spec::Sup(name, strategy, children) = spec else {
        panic!("the root is a supervisor");
    };
    let shared = log.clone();
    let root = system
        .actor(name)
        .supervise(strategy)
        .spawn(move || Sup {
            children: children.clone(),
            log: shared.clone(),
        })
        .unwrap();
    (root, log)
}

/// The log's lines from `from` on.
pub fn lines_from(log: &Log, from: usize) -> Vec<String> {
    log.lock().unwrap()[from..].to_vec()
}

/// How many lines the log has.
pub fn log_len(log: &Log) -> usize {
    log.lock().unwrap().len()
}
