//! Several set-ups of one workload, run in turns: round after round, each set-up runs once,
//! so a change in the machine's speed (this VM's thread wake-ups flip between a fast and a
//! slow mode, sometimes mid-run) hits every set-up alike. Differences between set-ups (the
//! cost of tracing, say) are then taken between runs that saw the same machine.

use std::time::{Duration, Instant};

use crate::{cpu_time, median, task_cpu, task_cpu_since, Workload};

/// Wall-clock and CPU nanoseconds per operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerOp {
    /// Elapsed time per operation.
    pub wall: f64,
    /// CPU time of every thread of the process per operation.
    pub cpu: f64,
    /// CPU time of the busiest single thread per operation: with a core for each thread,
    /// no set-up can run faster than this (0 where there is no `/proc`).
    pub busiest: f64,
}

impl PerOp {
    /// The difference of every figure to `base`'s.
    pub fn minus(self, base: PerOp) -> PerOp {
        PerOp {
            wall: self.wall - base.wall,
            cpu: self.cpu - base.cpu,
            busiest: self.busiest - base.busiest,
        }
    }
}

/// One started set-up, run through a type-erased closure.
struct SetUp {
    name: &'static str,
    run: Box<dyn FnMut() -> PerOp>,
    stop: Box<dyn FnOnce()>,
    samples: Vec<PerOp>,
}

/// Set-ups of one workload, run in turns.
pub struct Turns {
    workload: &'static str,
    ops: Option<u64>,
    setups: Vec<SetUp>,
}

impl Turns {
    /// Set-ups of `workload`: `"ask"`, `"tell"` or `"fanout"`.
    pub fn new(workload: &'static str) -> Self {
        Turns {
            workload,
            ops: None,
            setups: Vec::new(),
        }
    }

    /// Operations per run (default: 20,000 asks, 1,000,000 tells); set before adding.
    pub fn ops(mut self, n: u64) -> Self {
        self.ops = Some(n);
        self
    }

    /// Starts `W` for this workload (and warms it up).
    pub fn add<W: Workload + 'static>(mut self) -> Self {
        let (actors, n, op): (usize, u64, fn(&mut W, u64)) = match self.workload {
            "ask" => (1, 20_000, W::ask_rtt),
            "tell" => (1, 1_000_000, W::tell),
            "fanout" => (4, 1_000_000, W::fanout),
            other => panic!("unknown workload {other}: ask, tell or fanout"),
        };
        let n = self.ops.unwrap_or(n);
        let w = std::rc::Rc::new(std::cell::RefCell::new(Some(W::start(actors))));
        let runner = w.clone();
        let run = move || {
            let mut guard = runner.borrow_mut();
            let w = guard.as_mut().expect("running until stopped");
            let threads = task_cpu();
            let (wall, cpu) = (Instant::now(), cpu_time());
            op(w, n);
            let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
            let busiest = task_cpu_since(&threads)
                .iter()
                .map(|(.., ns)| *ns)
                .max()
                .unwrap_or(0);
            let per = |d: Duration| d.as_nanos() as f64 / n as f64;
            PerOp {
                wall: per(wall),
                cpu: per(cpu),
                busiest: busiest as f64 / n as f64,
            }
        };
        run(); // warm-up
        self.setups.push(SetUp {
            name: W::NAME,
            run: Box::new(run),
            stop: Box::new(move || {
                if let Some(w) = w.borrow_mut().take() {
                    w.stop();
                }
            }),
            samples: Vec::new(),
        });
        self
    }

    /// Runs `rounds` rounds, calling `each` after every run; then stops every set-up and
    /// returns each one's name with its medians.
    pub fn run(
        mut self,
        rounds: usize,
        mut each: impl FnMut(usize, &str, PerOp),
    ) -> Vec<(&'static str, PerOp)> {
        for round in 0..rounds {
            for s in &mut self.setups {
                let sample = (s.run)();
                each(round, s.name, sample);
                s.samples.push(sample);
            }
        }
        self.setups
            .into_iter()
            .map(|s| {
                let median = |f: fn(&PerOp) -> f64| median(s.samples.iter().map(f));
                let per_op = PerOp {
                    wall: median(|p| p.wall),
                    cpu: median(|p| p.cpu),
                    busiest: median(|p| p.busiest),
                };
                (s.stop)();
                (s.name, per_op)
            })
            .collect()
    }
}
