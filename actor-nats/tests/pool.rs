//! A queue-group pool across two OS processes: this test binary starts itself twice as a
//! worker (the `pool_worker` test, which does nothing unless asked to) serving one actor on
//! `pool.jobs` in queue group `pool`; every message, ask or tell, is handled exactly once,
//! by one of them, while both live.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use serde::{Deserialize, Serialize};

const WORKER_URL: &str = "ACTOR_NATS_POOL_WORKER_URL";

#[derive(Debug, Serialize, Deserialize)]
struct Job(u64);
impl Message for Job {
    /// The worker's pid and the job.
    type Reply = (u32, u64);
}

#[derive(Debug, Serialize, Deserialize)]
struct Report;
impl Message for Report {
    type Reply = Vec<u64>;
}

#[derive(Default)]
struct Worker {
    handled: Vec<u64>,
}
impl Actor for Worker {}
impl Handler<Job> for Worker {
    async fn handle(&mut self, Job(id): Job, _cx: &mut Ctx<Self>) -> (u32, u64) {
        self.handled.push(id);
        (std::process::id(), id)
    }
}
impl Handler<Report> for Worker {
    async fn handle(&mut self, _: Report, _cx: &mut Ctx<Self>) -> Vec<u64> {
        self.handled.clone()
    }
}

/// The worker role: serves until its stdin closes. A no-op in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_worker() {
    let Ok(url) = std::env::var(WORKER_URL) else {
        return;
    };
    let nats = actor_nats::NatsOptions::new(url).connect().await.unwrap();
    let system = ActorSystem::builder().name("pool-worker").build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    let _jobs = nats
        .serve("pool.jobs")
        .queue_group("pool")
        .handle(worker.recipient::<Job>())
        .start()
        .await
        .unwrap();
    let pid = std::process::id();
    let _report = nats
        .serve(format!("pool.report.{pid}"))
        .handle(worker.recipient::<Report>())
        .start()
        .await
        .unwrap();
    println!("POOL-WORKER-READY {pid}");
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await
    .unwrap();
    system.shutdown().await;
}

/// A worker process, killed if the test fails before closing its stdin.
struct WorkerProcess {
    child: Child,
    pid: u32,
}

impl WorkerProcess {
    fn start(url: &str) -> WorkerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "pool_worker",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(WORKER_URL, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may print `test pool_worker ... ` before it on the same line.
                if let Some((_, pid)) = line.split_once("POOL-WORKER-READY ") {
                    let _ = tx.send(pid.trim().parse::<u32>().unwrap_or(0));
                }
            }
        });
        let pid = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker process did not get ready");
        WorkerProcess { child, pid }
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(self.child.try_wait().unwrap().is_some_and(|s| s.success()));
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_group_across_two_processes_handles_each_message_exactly_once() {
    if std::env::var(WORKER_URL).is_ok() {
        return;
    }
    let server = common::server();
    let workers = [
        WorkerProcess::start(&server.url()),
        WorkerProcess::start(&server.url()),
    ];
    let pids: BTreeSet<u32> = workers.iter().map(|w| w.pid).collect();
    assert_eq!(pids.len(), 2);
    let nats = common::connect(&server).await;
    let jobs = nats.recipient::<Job>("pool.jobs");

    let mut by_worker: HashMap<u32, usize> = HashMap::new();
    let mut answered = BTreeSet::new();
    for id in 0..200 {
        let (pid, echoed) = jobs.ask(Job(id)).await.unwrap();
        assert_eq!(echoed, id);
        assert!(pids.contains(&pid));
        *by_worker.entry(pid).or_default() += 1;
        answered.insert(id);
    }
    assert_eq!(
        by_worker.len(),
        2,
        "both processes took part: {by_worker:?}"
    );
    for id in 1000..1200 {
        jobs.tell(Job(id)).await.unwrap();
    }
    assert!(nats.flush(Duration::from_secs(5)).await);

    // Each id handled once, by one process: 400 in all, no id twice.
    let deadline = Instant::now() + Duration::from_secs(15);
    let reports = loop {
        let mut reports = HashMap::new();
        for pid in &pids {
            let handled = nats
                .recipient::<Report>(format!("pool.report.{pid}"))
                .ask(Report)
                .await
                .unwrap();
            reports.insert(*pid, handled);
        }
        let total: usize = reports.values().map(Vec::len).sum();
        if total >= 400 || Instant::now() > deadline {
            break reports;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut all = BTreeSet::new();
    for (pid, handled) in &reports {
        let asks = handled.iter().filter(|id| **id < 1000).count();
        assert_eq!(asks, by_worker[pid], "the replies say who handled each ask");
        for id in handled {
            assert!(all.insert(*id), "{id} handled twice");
        }
    }
    let expected: BTreeSet<u64> = (0..200).chain(1000..1200).collect();
    assert_eq!(all, expected);
    for worker in workers {
        worker.finish();
    }
}
