//! ractor 0.16 with its defaults: actors spawned with `Actor::spawn` (a tokio task and an
//! unbounded mailbox) on a default multi-thread tokio runtime.
//!
//! Tell is `ActorRef::cast` (synchronous, never waits: the mailbox is unbounded). Ask is the
//! `call!` macro: a message carrying an `RpcReplyPort`, awaited without a timeout.

use ractor::{call, Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

use crate::Workload;

/// Counts `Tell`s, answers `Ping`s with the count (kept in the actor's state).
pub struct Counter;

/// The messages of a [`Counter`]: ractor actors take one message type.
pub enum CounterMsg {
    /// A fire-and-forget message.
    Tell(u64),
    /// An ask: replies with the number of `Tell`s handled so far.
    Ping(u64, RpcReplyPort<u64>),
}

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Tell(_) => *count += 1,
            CounterMsg::Ping(_, reply) => {
                // The asker only goes away if the benchmark itself failed.
                let _ = reply.send(*count);
            }
        }
        Ok(())
    }
}

/// ractor counters on a default multi-thread tokio runtime.
pub struct Ractor {
    runtime: tokio::runtime::Runtime,
    actors: Vec<(ActorRef<CounterMsg>, JoinHandle<()>)>,
    /// `Tell`s sent to each actor so far.
    expected: Vec<u64>,
}

impl Ractor {
    /// Asks actor `i` for its count and checks that every tell sent to it was handled.
    fn confirm(&self, i: usize) {
        let actor = &self.actors[i].0;
        let seen = self
            .runtime
            .block_on(async { call!(actor, CounterMsg::Ping, 0) })
            .expect("ractor call to confirm");
        assert_eq!(seen, self.expected[i], "ractor: every tell was handled");
    }
}

impl Workload for Ractor {
    const NAME: &'static str = "ractor";

    fn start(actors: usize) -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let actors = runtime.block_on(async {
            let mut spawned = Vec::with_capacity(actors);
            for _ in 0..actors {
                spawned.push(Actor::spawn(None, Counter, ()).await.expect("ractor spawn"));
            }
            spawned
        });
        Ractor {
            runtime,
            expected: vec![0; actors.len()],
            actors,
        }
    }

    fn ask_rtt(&mut self, n: u64) {
        let actor = &self.actors[0].0;
        self.runtime.block_on(async {
            for i in 0..n {
                call!(actor, CounterMsg::Ping, i).expect("ractor call");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let actor = &self.actors[0].0;
        // `cast` is synchronous, but it runs inside the runtime like the other frameworks' tells.
        self.runtime.block_on(async {
            for i in 0..n {
                actor.cast(CounterMsg::Tell(i)).expect("ractor cast");
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
                    .0
                    .cast(CounterMsg::Tell(i))
                    .expect("ractor cast");
            }
        });
        for i in 0..count {
            self.expected[i] += n / count as u64 + u64::from((i as u64) < n % count as u64);
            self.confirm(i);
        }
    }

    fn stop(self) {
        self.runtime.block_on(async {
            for (actor, _) in &self.actors {
                actor.stop(None);
            }
            for (_, handle) in self.actors {
                handle.await.expect("ractor actor exits");
            }
        });
    }
}
