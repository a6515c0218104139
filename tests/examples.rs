//! The examples run and print what the README says they show. `cargo test`
//! builds the examples; these tests run the built binaries.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actor_otel::testing::OtlpReceiver;

/// Runs an example binary with a clean OpenTelemetry environment plus `env`; returns stdout.
fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    run_with_stderr(name, args, env).0
}

/// [`run`], returning stdout and stderr.
fn run_with_stderr(name: &str, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path: PathBuf = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    let mut command = Command::new(&path);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("example {name} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed: {stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The waterfall blocks printed by the console exporter: one `Vec` of lines per trace.
fn traces(output: &str) -> Vec<Vec<String>> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut in_block = false;
    for line in output.lines() {
        if line.starts_with("trace ") {
            blocks.push(vec![line.to_owned()]);
            in_block = true;
        } else if in_block && line.starts_with("  ") {
            blocks.last_mut().unwrap().push(line.to_owned());
        } else {
            in_block = false;
        }
    }
    blocks
}

/// The line of span `name` in a block, with its indentation depth and thread.
fn row<'a>(block: &'a [String], name: &str) -> (usize, &'a str) {
    let line = block
        .iter()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no span {name} in {block:#?}"));
    let depth = (line.len() - line.trim_start().len() - 2) / 2;
    let thread = line.rsplit("  ").next().unwrap().trim();
    (depth, thread)
}

#[test]
fn worker_offload_shows_one_connected_trace_across_threads() {
    let out = run("worker_offload", &[], &[]);
    // The console default ends with each actor's final metrics.
    let metrics = out
        .lines()
        .skip_while(|l| !l.starts_with("metrics per actor"))
        .find(|l| l.trim_start().starts_with("worker"))
        .expect(&out);
    let cells: Vec<&str> = metrics.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        ["worker", "1", "1", "0", "0", "0"],
        "{metrics}"
    );
    assert!(
        cells[6].parse::<f64>().is_ok(),
        "the first message is timed: {metrics}"
    );
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 1, "{out}");
    let (d0, t0) = row(&blocks[0], "process_data");
    let (d1, t1) = row(&blocks[0], "process worker");
    let (d2, t2) = row(&blocks[0], "worker_process");
    assert_eq!((d0, d1, d2), (0, 1, 2), "{out}");
    assert_eq!(t0, "main");
    assert_eq!((t1, t2), ("worker", "worker"));
    assert!(out.contains("lost 0"), "{out}");
}

#[test]
fn worker_offload_on_a_plain_thread_shows_the_orphan() {
    let out = run("worker_offload", &["--plain-thread"], &[]);
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 2, "{out}");
    let with = |name: &str| {
        blocks
            .iter()
            .position(|b| b.iter().any(|l| l.contains(name)))
            .unwrap()
    };
    assert_ne!(
        with("process_data"),
        with("worker_process"),
        "two separate traces"
    );
}

#[test]
fn pool_gives_each_request_its_own_trace() {
    let out = run("pool", &[], &[]);
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 8, "{out}");
    for block in &blocks {
        let (d, _) = row(block, "GET /thumbnail");
        let (dp, worker) = row(block, "resize");
        assert_eq!((d, dp), (0, 2));
        assert!(worker.starts_with("resizer-"), "{block:#?}");
    }
    assert!(out.contains("8 requests, 8 traces"), "{out}");
}

#[test]
fn pipeline_is_one_trace_through_three_actors() {
    let out = run("pipeline", &[], &[]);
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 1, "{out}");
    let block = &blocks[0];
    assert_eq!(row(block, "ingest line").0, 0);
    assert_eq!(row(block, "process parse"), (1, "parse"));
    assert_eq!(row(block, "send enrich"), (2, "parse"));
    assert_eq!(row(block, "process enrich"), (3, "enrich"));
    assert_eq!(row(block, "process store"), (4, "store"));
    assert_eq!(row(block, "insert"), (5, "store"));
    assert!(
        out.contains("stopped in order: parse -> enrich -> store"),
        "{out}"
    );
}

#[test]
fn tracing_service_is_one_trace_per_request_and_logs_with_trace_ids() {
    let (out, err) = run_with_stderr("tracing_service", &[], &[]);
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 2, "{out}");
    for block in &blocks {
        // `checkout` is an `#[instrument]`ed function on main; the rest are `tracing`
        // spans and the framework's spans on the actors' threads, in one trace, no span twice.
        assert!(block[0].contains(" 6 spans "), "{block:#?}");
        assert_eq!(row(block, "checkout"), (0, "main"));
        assert_eq!(row(block, "process inventory"), (1, "inventory"));
        assert_eq!(row(block, "check stock"), (2, "inventory"));
        assert_eq!(row(block, "send audit"), (2, "inventory"));
        assert_eq!(row(block, "process audit"), (3, "audit"));
        assert_eq!(row(block, "write audit log"), (4, "audit"));
        // Each log line written in a handler names its actor and this trace.
        let trace_id = block[0].split_whitespace().nth(1).unwrap();
        for actor in ["inventory", "audit"] {
            assert!(
                err.lines().any(|l| l.contains(&format!("actor={actor} "))
                    && l.contains(&format!("trace_id={trace_id}"))),
                "{err}"
            );
        }
    }
    assert!(out.contains("order 1: reserved"), "{out}");
    assert!(out.contains("order 2: out of stock"), "{out}");
    assert!(
        out.contains("stopped in order: inventory -> audit"),
        "{out}"
    );
}

#[test]
fn graceful_shutdown_drains_and_flushes_in_order() {
    let out = run("graceful_shutdown", &[], &[]);
    let summary = out.lines().find(|l| l.starts_with("drained ")).expect(&out);
    assert!(summary.contains("handled 800"), "{summary}");
    assert!(summary.contains("(0 lost)"), "{summary}");
    assert!(summary.contains("exported 2000 of 2000 spans"), "{summary}");
    assert!(
        summary.ends_with("flushed crawler -> indexer -> system"),
        "{summary}"
    );
    assert!(out.contains("stopped in order crawler -> indexer"), "{out}");
}

#[test]
fn otlp_example_reaches_a_real_collector_over_http_and_grpc() {
    for (receiver, protocol) in [
        (OtlpReceiver::http().unwrap(), "http/protobuf"),
        (OtlpReceiver::grpc().unwrap(), "grpc"),
    ] {
        let out = run(
            "otlp",
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ],
        );
        assert!(out.contains("exported 3 of 3 spans (0 failed"), "{out}");
        let spans = receiver.spans();
        assert_eq!(spans.len(), 3);
        let trace = out
            .lines()
            .find_map(|l| l.split("trace ").nth(1))
            .unwrap()
            .trim();
        assert!(spans.iter().all(|s| s.trace_id() == trace), "{protocol}");
        // All three signals: the worker's final metrics and its log record on the trace.
        assert!(out.contains("exported 1 of 1 log records"), "{out}");
        assert_eq!(
            receiver.latest_total(
                "messaging.client.consumed.messages",
                &[("messaging.destination.name", "worker")]
            ),
            Some(1.0),
            "{protocol}"
        );
        let logs = receiver.logs();
        assert_eq!(logs.len(), 1, "{protocol}");
        assert_eq!(logs[0].trace_id(), trace, "{protocol}");
        assert_eq!(logs[0].body(), "job done");
        // One connection per signal (spans, metrics, logs) for all the actors, not one per
        // actor.
        assert!(
            receiver.connections() <= 3,
            "{protocol}: {}",
            receiver.connections()
        );
    }
}

#[test]
fn remote_is_one_waterfall_across_two_processes() {
    let out = run("remote", &[], &[]);
    let blocks = traces(&out);
    assert_eq!(blocks.len(), 1, "{out}");
    let block = &blocks[0];
    assert!(block[0].contains("7 spans from 2 processes"), "{block:#?}");
    let (d0, caller) = row(block, "checkout");
    let (d1, sender) = row(block, "send svc.greeter");
    let (d2, worker) = row(block, "process greeter");
    assert_eq!(row(block, "compose greeting"), (3, worker));
    assert_eq!(row(block, "write note").0, 3);
    assert_eq!((d0, d1, d2), (0, 1, 2), "{out}");
    assert_eq!(caller, sender);
    assert!(caller.starts_with("remote-caller pid "), "{caller}");
    assert!(worker.starts_with("remote-worker pid "), "{worker}");
    assert_ne!(caller.rsplit(' ').next(), worker.rsplit(' ').next());
    assert!(out.contains("reply: hello ada (1 note), from pid"), "{out}");
}

#[test]
fn remote_exports_both_processes_to_the_configured_collector() {
    let receiver = OtlpReceiver::http().unwrap();
    let out = run(
        "remote",
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())],
    );
    assert!(
        traces(&out).is_empty(),
        "no waterfall with a collector: {out}"
    );
    assert!(receiver.wait_for(7, Duration::from_secs(10)));
    let spans = receiver.spans();
    let trace_id = out
        .split("; trace ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect(&out);
    let pids: std::collections::BTreeSet<String> = spans
        .iter()
        .filter(|s| s.trace_id() == trace_id)
        .filter_map(|s| s.resource.get("process.pid").cloned())
        .collect();
    assert_eq!(pids.len(), 2, "one trace from two pids: {pids:?}");
}

#[test]
fn supervision_restarts_the_crashed_worker_and_prints_the_tree_and_its_trace() {
    let out = run("supervision", &[], &[]);
    assert_eq!(
        out.matches("worker-1 started").count(),
        2,
        "started, then restarted after the crash: {out}"
    );
    assert!(out.contains("order \"bad\" crashed worker-1"), "{out}");
    assert!(
        out.contains("order \"25\" parsed: 25"),
        "served after the restart: {out}"
    );
    assert!(
        out.contains("health check 3: 2 of 2 workers alive"),
        "{out}"
    );
    assert_eq!(
        out.matches("watcher: supervisor terminated (Requested)")
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.contains(
            "supervisor: Requested\n├── worker-1: Requested, 1 restarts, 1 panics\n└── worker-2: Requested"
        ),
        "the tree: {out}"
    );
    let blocks = traces(&out);
    let request = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.contains("POST /orders")))
        .expect("the request's trace");
    let (process_indent, _) = row(request, "process worker-1");
    let (supervise_indent, _) = row(request, "supervise supervisor");
    assert!(
        supervise_indent > process_indent,
        "the restart is inside the failing message's trace: {request:?}"
    );
    assert_eq!(
        request
            .iter()
            .filter(|l| l.contains("process worker-1"))
            .count(),
        3,
        "three orders, one trace: {request:?}"
    );
}
