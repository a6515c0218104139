//! The raw baseline: the same shape with zero framework — a tokio mpsc channel into a
//! dedicated thread running a current_thread runtime, and a oneshot for each reply.

use tokio::sync::{mpsc, oneshot};

use crate::Workload;

enum Msg {
    Tell,
    Ping(oneshot::Sender<u64>),
}

/// Threads that each own a counter behind a channel.
pub struct Raw {
    senders: Vec<mpsc::Sender<Msg>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    expected: Vec<u64>,
    runtime: tokio::runtime::Runtime,
}

impl Raw {
    fn confirm(&mut self, i: usize) {
        let tx = &self.senders[i];
        let seen = self.runtime.block_on(async {
            let (reply, answer) = oneshot::channel();
            tx.send(Msg::Ping(reply)).await.expect("send");
            answer.await.expect("reply")
        });
        assert_eq!(seen, self.expected[i]);
    }
}

impl Workload for Raw {
    const NAME: &'static str = "raw channel";

    fn start(actors: usize) -> Self {
        let (senders, threads) = (0..actors)
            .map(|i| {
                let (tx, mut rx) = mpsc::channel::<Msg>(1024);
                let thread = std::thread::Builder::new()
                    .name(format!("raw-{i}"))
                    .spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        rt.block_on(async move {
                            let mut count = 0u64;
                            while let Some(msg) = rx.recv().await {
                                match msg {
                                    Msg::Tell => count += 1,
                                    Msg::Ping(reply) => {
                                        let _ = reply.send(count);
                                    }
                                }
                            }
                        });
                    })
                    .expect("thread");
                (tx, thread)
            })
            .unzip();
        Raw {
            senders,
            threads,
            expected: vec![0; actors],
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn ask_rtt(&mut self, n: u64) {
        let tx = &self.senders[0];
        self.runtime.block_on(async {
            for _ in 0..n {
                let (reply, answer) = oneshot::channel();
                tx.send(Msg::Ping(reply)).await.expect("send");
                answer.await.expect("reply");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let tx = &self.senders[0];
        self.runtime.block_on(async {
            for _ in 0..n {
                tx.send(Msg::Tell).await.expect("send");
            }
        });
        self.expected[0] += n;
        self.confirm(0);
    }

    fn fanout(&mut self, n: u64) {
        let count = self.senders.len();
        let senders = &self.senders;
        self.runtime.block_on(async {
            for i in 0..n {
                senders[i as usize % count]
                    .send(Msg::Tell)
                    .await
                    .expect("send");
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
