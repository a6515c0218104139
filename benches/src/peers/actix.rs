//! actix 0.13 with its defaults: a `System` on its own thread (one arbiter, so every actor runs
//! on that thread), actors started with `Actor::start` (default mailbox capacity 16).
//!
//! Tell is `Addr::do_send`: actix's fire-and-forget, which always enqueues (it ignores the
//! capacity instead of dropping or waiting) and only drops if the actor is gone. Ask is
//! `Addr::send(msg).await`. The bench thread drives those futures on a small tokio
//! current-thread runtime: actix's reply channels do not need the actix runtime.

use std::sync::mpsc;
use std::thread::JoinHandle;

use actix::{Actor, Addr, Context, Handler, Message, System};

use crate::Workload;

/// Counts `Tell`s, answers `Ping`s with the count.
pub struct Counter(u64);

impl Actor for Counter {
    type Context = Context<Self>;
}

/// A fire-and-forget message.
pub struct Tell(pub u64);

impl Message for Tell {
    type Result = ();
}

impl Handler<Tell> for Counter {
    type Result = ();

    fn handle(&mut self, _: Tell, _ctx: &mut Context<Self>) {
        self.0 += 1;
    }
}

/// An ask: replies with the number of `Tell`s handled so far.
pub struct Ping(pub u64);

impl Message for Ping {
    type Result = u64;
}

impl Handler<Ping> for Counter {
    type Result = u64;

    fn handle(&mut self, _: Ping, _ctx: &mut Context<Self>) -> u64 {
        self.0
    }
}

/// actix counters on a `System` thread, called from the bench thread.
pub struct Actix {
    system: System,
    thread: JoinHandle<()>,
    actors: Vec<Addr<Counter>>,
    /// Drives `Addr::send` futures on the bench thread.
    runtime: tokio::runtime::Runtime,
    /// `Tell`s sent to each actor so far.
    expected: Vec<u64>,
}

impl Actix {
    /// Asks actor `i` for its count and checks that every tell sent to it was handled.
    fn confirm(&self, i: usize) {
        let seen = self
            .runtime
            .block_on(self.actors[i].send(Ping(0)))
            .expect("actix send to confirm");
        assert_eq!(seen, self.expected[i], "actix: every tell was handled");
    }
}

impl Workload for Actix {
    const NAME: &'static str = "actix";

    fn start(actors: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("actix-system".into())
            .spawn(move || {
                let runner = System::new();
                let addrs = runner.block_on(async {
                    (0..actors).map(|_| Counter(0).start()).collect::<Vec<_>>()
                });
                tx.send((System::current(), addrs))
                    .expect("the bench thread waits for the addresses");
                runner.run().expect("actix system runs");
            })
            .expect("spawn the actix system thread");
        let (system, actors) = rx.recv().expect("actix system started");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        Actix {
            system,
            thread,
            expected: vec![0; actors.len()],
            actors,
            runtime,
        }
    }

    fn ask_rtt(&mut self, n: u64) {
        let actor = &self.actors[0];
        self.runtime.block_on(async {
            for i in 0..n {
                actor.send(Ping(i)).await.expect("actix send");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let actor = &self.actors[0];
        for i in 0..n {
            actor.do_send(Tell(i));
        }
        self.expected[0] += n;
        self.confirm(0);
    }

    fn fanout(&mut self, n: u64) {
        let count = self.actors.len();
        for i in 0..n {
            self.actors[i as usize % count].do_send(Tell(i));
        }
        for i in 0..count {
            self.expected[i] += n / count as u64 + u64::from((i as u64) < n % count as u64);
            self.confirm(i);
        }
    }

    fn stop(self) {
        drop(self.actors);
        self.system.stop();
        self.thread.join().expect("actix system thread exits");
    }
}
