//! Each side of an untraced tell on its own, apart from the pipeline's dynamics: what the
//! caller spends to send a tell while the receiver is held (no receiver touches the channel
//! meanwhile), then what the receiver spends per message draining the full mailbox (no
//! sender touches it meanwhile). Our framework (unbounded mailbox) against the raw unbounded
//! channel carrying the caller's context, in turns; medians of the rounds.
//!
//! In `bench-one tell` both sides run at once on two vCPUs, and each side's cost there
//! depends on how often the other catches up with it (a receiver that empties the channel
//! registers its waker, and the sender's next wake-up then contends for that line). Here
//! each side's own work is measured alone, so a change to one side shows as itself.
//!
//! ```text
//! cargo run --release -p actor-benches --bin bench-sides            # 7 rounds of 200,000
//! cargo run --release -p actor-benches --bin bench-sides -- 5 100000
//! ```

use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, MailboxSize, Message};
use opentelemetry::Context;
use tokio::sync::{mpsc, oneshot};

/// Counts tells; held while it handles a `Hold`.
struct Counter(u64);
impl Actor for Counter {}

struct Add(#[allow(dead_code)] u64);
impl Message for Add {
    type Reply = ();
}
impl Handler<Add> for Counter {
    async fn handle(&mut self, _: Add, _cx: &mut Ctx<Self>) {
        self.0 += 1;
    }
}

/// Blocks the actor's thread until the sender side of its channel sends or goes away.
struct Hold(std_mpsc::Receiver<()>);
impl Message for Hold {
    type Reply = ();
}
impl Handler<Hold> for Counter {
    async fn handle(&mut self, Hold(release): Hold, _cx: &mut Ctx<Self>) {
        let _ = release.recv();
    }
}

struct Count;
impl Message for Count {
    type Reply = u64;
}
impl Handler<Count> for Counter {
    async fn handle(&mut self, _: Count, _cx: &mut Ctx<Self>) -> u64 {
        self.0
    }
}

/// ns per message on each side.
#[derive(Debug, Clone, Copy)]
struct Sides {
    send: f64,
    receive: f64,
}

fn per(n: u64, since: Instant) -> f64 {
    since.elapsed().as_nanos() as f64 / n as f64
}

/// One round on our framework.
fn ours(rt: &tokio::runtime::Runtime, actor: &ActorRef<Counter>, n: u64, seen: &mut u64) -> Sides {
    let _in_span = actor_benches::remote_caller(true).attach();
    let (release, held) = std_mpsc::channel();
    rt.block_on(async {
        actor.tell(Hold(held)).await.expect("hold");
        let start = Instant::now();
        for i in 0..n {
            actor.tell(Add(i)).await.expect("tell");
        }
        let send = per(n, start);
        let start = Instant::now();
        release.send(()).expect("the actor holds");
        let count = actor.ask(Count).await.expect("count");
        let receive = per(n, start);
        *seen += n;
        assert_eq!(count, *seen);
        Sides { send, receive }
    })
}

#[derive(Debug)]
enum RawMsg {
    Tell(Context),
    Hold(std_mpsc::Receiver<()>),
    Count(oneshot::Sender<u64>),
}

/// One round on the raw unbounded channel with the context.
fn raw(
    rt: &tokio::runtime::Runtime,
    tx: &mpsc::UnboundedSender<RawMsg>,
    n: u64,
    seen: &mut u64,
) -> Sides {
    let _in_span = actor_benches::remote_caller(true).attach();
    let (release, held) = std_mpsc::channel();
    rt.block_on(async {
        tx.send(RawMsg::Hold(held)).expect("hold");
        let start = Instant::now();
        for _ in 0..n {
            tx.send(RawMsg::Tell(Context::current())).expect("tell");
        }
        let send = per(n, start);
        let start = Instant::now();
        release.send(()).expect("the raw thread holds");
        let (reply, count) = oneshot::channel();
        tx.send(RawMsg::Count(reply)).expect("count");
        let count = count.await.expect("count");
        let receive = per(n, start);
        *seen += n;
        assert_eq!(count, *seen);
        Sides { send, receive }
    })
}

fn raw_thread() -> (mpsc::UnboundedSender<RawMsg>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<RawMsg>();
    let thread = actor_benches::spawn_on_runtime("raw-0".into(), move || async move {
        let mut count = 0u64;
        while let Some(msg) = rx.recv().await {
            match msg {
                RawMsg::Tell(cx) => {
                    let _active = cx.attach();
                    count += 1;
                }
                RawMsg::Hold(release) => {
                    let _ = release.recv();
                }
                RawMsg::Count(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    (tx, thread)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("rounds and messages: numbers"))
        .collect();
    let rounds = args.first().copied().unwrap_or(7) as usize;
    let n = args.get(1).copied().unwrap_or(200_000);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let system = ActorSystem::builder()
        .name("sides")
        .mailbox(MailboxSize::Unbounded)
        .build();
    let actor = system.spawn("counter", || Counter(0)).expect("spawn");
    let (tx, raw_thread) = raw_thread();

    let (mut ours_seen, mut raw_seen) = (0, 0);
    // A warm-up round each, not counted.
    ours(&rt, &actor, n, &mut ours_seen);
    raw(&rt, &tx, n, &mut raw_seen);
    let mut results: [(&str, Vec<Sides>); 2] = [
        ("raw unbounded channel + context", Vec::new()),
        ("actor-core (unbounded mailbox)", Vec::new()),
    ];
    for round in 1..=rounds {
        let r = raw(&rt, &tx, n, &mut raw_seen);
        let o = ours(&rt, &actor, n, &mut ours_seen);
        println!(
            "round {round}: raw send {:.0} receive {:.0}; ours send {:.0} receive {:.0} ns",
            r.send, r.receive, o.send, o.receive
        );
        results[0].1.push(r);
        results[1].1.push(o);
    }
    println!();
    println!("| side, ns per message | send | receive |");
    println!("|---|---:|---:|");
    let mut medians = Vec::new();
    for (name, sides) in &results {
        let send = actor_benches::median(sides.iter().map(|s| s.send));
        let receive = actor_benches::median(sides.iter().map(|s| s.receive));
        println!("| {name} | {send:.0} | {receive:.0} |");
        medians.push((send, receive));
    }
    let (raw_send, raw_receive) = medians[0];
    let (our_send, our_receive) = medians[1];
    println!(
        "| ratio | {:.2}x | {:.2}x |",
        our_send / raw_send,
        our_receive / raw_receive
    );

    drop(tx);
    raw_thread.join().expect("raw thread");
    system.blocking_shutdown();
}
