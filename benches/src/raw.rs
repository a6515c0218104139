//! The raw baseline: the same shape with zero framework — a tokio mpsc channel into a
//! dedicated thread running a current_thread runtime, and a oneshot for each reply. The
//! channel is bounded (1024 slots, as our default mailbox) or, in [`RawUnbounded`],
//! unbounded.
//!
//! A second baseline, [`RawWithContext`], also carries the caller's OpenTelemetry `Context`
//! in every tell and makes it active around the (trivial) handling, as our framework does:
//! the difference between the two is what carrying a context costs in the raw shape.

use std::future::Future;

use opentelemetry::Context;
use tokio::sync::{mpsc, oneshot};

use crate::Workload;

/// What a tell carries besides being a tell.
pub trait Carried: Send + 'static {
    /// Made on the sender's side for each tell.
    fn capture() -> Self;
    /// Handled on the receiver's side.
    fn receive(self, count: &mut u64);
}

/// The caller's context and padding up to our envelope's 88 bytes: what the envelope's size
/// costs, apart from the context it carries.
impl Carried for (Context, [u64; 8]) {
    fn capture() -> Self {
        (Context::current(), [0; 8])
    }
    fn receive(self, count: &mut u64) {
        let _active = self.0.attach();
        *count += 1 + self.1[3];
    }
}

/// Nothing: the zero-framework baseline.
impl Carried for () {
    fn capture() -> Self {}
    fn receive(self, count: &mut u64) {
        *count += 1;
    }
}

/// The caller's context, active while the tell is handled.
impl Carried for Context {
    fn capture() -> Self {
        Context::current()
    }
    fn receive(self, count: &mut u64) {
        let _active = self.attach();
        *count += 1;
    }
}

/// The channel a raw baseline sends through.
pub trait Channel: 'static {
    /// The sending half.
    type Tx<M: Send + 'static>: Send + Sync;
    /// The receiving half.
    type Rx<M: Send + 'static>: Send;
    /// A new channel.
    fn channel<M: Send + 'static>() -> (Self::Tx<M>, Self::Rx<M>);
    /// Sends `msg` (waiting for room when bounded).
    fn send<M: Send + 'static>(tx: &Self::Tx<M>, msg: M) -> impl Future<Output = ()>;
    /// The next message; `None` once every sender is gone.
    fn recv<M: Send + 'static>(rx: &mut Self::Rx<M>) -> impl Future<Output = Option<M>> + Send;
}

/// A tokio mpsc channel of 1024 slots.
pub struct Bounded;
/// A tokio unbounded mpsc channel.
pub struct Unbounded;

impl Channel for Bounded {
    type Tx<M: Send + 'static> = mpsc::Sender<M>;
    type Rx<M: Send + 'static> = mpsc::Receiver<M>;
    fn channel<M: Send + 'static>() -> (Self::Tx<M>, Self::Rx<M>) {
        mpsc::channel(1024)
    }
    async fn send<M: Send + 'static>(tx: &Self::Tx<M>, msg: M) {
        assert!(tx.send(msg).await.is_ok(), "send: the raw thread is gone");
    }
    fn recv<M: Send + 'static>(rx: &mut Self::Rx<M>) -> impl Future<Output = Option<M>> + Send {
        rx.recv()
    }
}

impl Channel for Unbounded {
    type Tx<M: Send + 'static> = mpsc::UnboundedSender<M>;
    type Rx<M: Send + 'static> = mpsc::UnboundedReceiver<M>;
    fn channel<M: Send + 'static>() -> (Self::Tx<M>, Self::Rx<M>) {
        mpsc::unbounded_channel()
    }
    async fn send<M: Send + 'static>(tx: &Self::Tx<M>, msg: M) {
        assert!(tx.send(msg).is_ok(), "send: the raw thread is gone");
    }
    fn recv<M: Send + 'static>(rx: &mut Self::Rx<M>) -> impl Future<Output = Option<M>> + Send {
        rx.recv()
    }
}

enum Msg<T> {
    Tell(T),
    Ping(oneshot::Sender<u64>),
}

/// Threads that each own a counter behind a channel `C`; tells carry a `T`.
pub struct RawWith<T: Carried, C: Channel = Bounded> {
    senders: Vec<C::Tx<Msg<T>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    expected: Vec<u64>,
    runtime: tokio::runtime::Runtime,
    /// The caller's context: tells are sent from inside a (remote) span, as in `Ours`.
    caller: Context,
}

/// The zero-framework baseline.
pub type Raw = RawWith<()>;
/// The zero-framework baseline through an unbounded channel.
pub type RawUnbounded = RawWith<(), Unbounded>;
/// The baseline that also carries the caller's context.
pub type RawWithContext = RawWith<Context>;
/// The unbounded baseline that also carries the caller's context: the floor of our
/// untraced tell, which carries it too.
pub type RawUnboundedWithContext = RawWith<Context, Unbounded>;
/// The baseline that carries the caller's context in a message as large as our envelope.
pub type RawPadded = RawWith<(Context, [u64; 8])>;
/// The unbounded baseline that carries the caller's context in a message as large as our
/// envelope.
pub type RawUnboundedPadded = RawWith<(Context, [u64; 8]), Unbounded>;

impl<T: Carried, C: Channel> RawWith<T, C> {
    fn confirm(&mut self, i: usize) {
        let tx = &self.senders[i];
        let seen = self.runtime.block_on(async {
            let (reply, answer) = oneshot::channel();
            C::send(tx, Msg::Ping(reply)).await;
            answer.await.expect("reply")
        });
        assert_eq!(seen, self.expected[i]);
    }
}

/// Names of the baselines in tables.
pub trait Named {
    /// Name in tables.
    const NAME: &'static str;
}
impl Named for RawWith<()> {
    const NAME: &'static str = "raw channel";
}
impl Named for RawWith<(), Unbounded> {
    const NAME: &'static str = "raw unbounded channel";
}
impl Named for RawWith<(Context, [u64; 8])> {
    const NAME: &'static str = "raw channel + context, 88 bytes";
}
impl Named for RawWith<(Context, [u64; 8]), Unbounded> {
    const NAME: &'static str = "raw unbounded channel + context, 88 bytes";
}
impl Named for RawWith<Context> {
    const NAME: &'static str = "raw channel + context";
}
impl Named for RawWith<Context, Unbounded> {
    const NAME: &'static str = "raw unbounded channel + context";
}

impl<T: Carried, C: Channel> Workload for RawWith<T, C>
where
    Self: Named,
{
    const NAME: &'static str = <Self as Named>::NAME;

    fn start(actors: usize) -> Self {
        let (senders, threads) = (0..actors)
            .map(|i| {
                let (tx, mut rx) = C::channel::<Msg<T>>();
                let thread = crate::spawn_on_runtime(format!("raw-{i}"), move || async move {
                    let mut count = 0u64;
                    while let Some(msg) = C::recv(&mut rx).await {
                        match msg {
                            Msg::Tell(carried) => carried.receive(&mut count),
                            Msg::Ping(reply) => {
                                let _ = reply.send(count);
                            }
                        }
                    }
                });
                (tx, thread)
            })
            .unzip();
        RawWith {
            senders,
            threads,
            expected: vec![0; actors],
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            caller: crate::remote_caller(true),
        }
    }

    fn ask_rtt(&mut self, n: u64) {
        let tx = &self.senders[0];
        self.runtime.block_on(async {
            for _ in 0..n {
                let (reply, answer) = oneshot::channel();
                C::send(tx, Msg::Ping(reply)).await;
                answer.await.expect("reply");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let _in_span = self.caller.clone().attach();
        let tx = &self.senders[0];
        self.runtime.block_on(async {
            for _ in 0..n {
                C::send(tx, Msg::Tell(T::capture())).await;
            }
        });
        self.expected[0] += n;
        self.confirm(0);
    }

    fn fanout(&mut self, n: u64) {
        let _in_span = self.caller.clone().attach();
        let count = self.senders.len();
        let senders = &self.senders;
        self.runtime.block_on(async {
            for i in 0..n {
                C::send(&senders[i as usize % count], Msg::Tell(T::capture())).await;
            }
        });
        for i in 0..count {
            self.expected[i] += n / count as u64 + u64::from((i as u64) < n % count as u64);
            self.confirm(i);
        }
    }

    fn stop(self) {
        drop(self.senders);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

// The zero-framework baseline's message stays two words (the reply sender has no spare
// niche for the tag), as before it became generic.
const _: () = assert!(std::mem::size_of::<Msg<()>>() == 16);
const _: () = assert!(std::mem::size_of::<Msg<(Context, [u64; 8])>>() == 88);
