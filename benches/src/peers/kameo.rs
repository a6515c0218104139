//! kameo 0.22 with its defaults: actors spawned with `Spawn::spawn` (a tokio task and a bounded
//! mailbox of 64) on a default multi-thread tokio runtime.
//!
//! Tell is `actor_ref.tell(msg).send().await`: kameo's tell on a bounded mailbox waits for room
//! (backpressure) and never drops. `.send()` is the same call that `tell(msg).await` makes
//! through `IntoFuture`, without boxing the future. Ask is `actor_ref.ask(msg).send().await`.

use kameo::actor::{ActorRef, Spawn};
use kameo::message::{Context, Message};
use kameo::Actor;

use crate::Workload;

/// Counts `Tell`s, answers `Ping`s with the count.
#[derive(Actor)]
pub struct Counter(u64);

/// A fire-and-forget message.
#[derive(Debug)]
pub struct Tell(pub u64);

impl Message<Tell> for Counter {
    type Reply = ();

    async fn handle(&mut self, _: Tell, _ctx: &mut Context<Self, Self::Reply>) {
        self.0 += 1;
    }
}

/// An ask: replies with the number of `Tell`s handled so far.
#[derive(Debug)]
pub struct Ping(pub u64);

impl Message<Ping> for Counter {
    type Reply = u64;

    async fn handle(&mut self, _: Ping, _ctx: &mut Context<Self, Self::Reply>) -> u64 {
        self.0
    }
}

/// kameo counters on a default multi-thread tokio runtime.
pub struct Kameo {
    runtime: tokio::runtime::Runtime,
    actors: Vec<ActorRef<Counter>>,
    /// `Tell`s sent to each actor so far.
    expected: Vec<u64>,
}

impl Kameo {
    /// Asks actor `i` for its count and checks that every tell sent to it was handled.
    fn confirm(&self, i: usize) {
        let seen = self
            .runtime
            .block_on(self.actors[i].ask(Ping(0)).send())
            .expect("kameo ask to confirm");
        assert_eq!(seen, self.expected[i], "kameo: every tell was handled");
    }
}

impl Workload for Kameo {
    const NAME: &'static str = "kameo";

    fn start(actors: usize) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let actors = runtime.block_on(async {
            (0..actors)
                .map(|_| Counter::spawn(Counter(0)))
                .collect::<Vec<_>>()
        });
        Kameo {
            runtime,
            expected: vec![0; actors.len()],
            actors,
        }
    }

    fn ask_rtt(&mut self, n: u64) {
        let actor = &self.actors[0];
        self.runtime.block_on(async {
            for i in 0..n {
                actor.ask(Ping(i)).send().await.expect("kameo ask");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let actor = &self.actors[0];
        self.runtime.block_on(async {
            for i in 0..n {
                actor.tell(Tell(i)).send().await.expect("kameo tell");
            }
        });
        self.expected[0] += n;
        self.confirm(0);
    }

    fn fanout(&mut self, n: u64) {
        let count = self.actors.len();
        let actors = &self.actors;
        self.runtime.block_on(async {
            for i in 0..n {
                actors[i as usize % count]
                    .tell(Tell(i))
                    .send()
                    .await
                    .expect("kameo tell");
            }
        });
        for i in 0..count {
            self.expected[i] += n / count as u64 + u64::from((i as u64) < n % count as u64);
            self.confirm(i);
        }
    }

    fn stop(self) {
        self.runtime.block_on(async {
            for actor in &self.actors {
                actor.stop_gracefully().await.expect("kameo stop");
            }
            for actor in &self.actors {
                actor.wait_for_shutdown().await;
            }
        });
    }
}
