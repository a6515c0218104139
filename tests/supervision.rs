//! Supervision trees on real threads: children spawned with `Ctx::spawn_child`, the three
//! restart scopes (which children restart, in which order, counted by their `started`
//! hooks and the report's `restarts`), escalation beyond the restart intensity (to a
//! parent that restarts the subtree, and up to the root, reported `Escalated` with the
//! tree), children stopped before their parent (at shutdown and when the parent stops on
//! its own), and the `supervise` span in the failing message's trace.

mod common;

use std::time::Duration;

use actor_core::trace::attribute::SUPERVISED_CHILD;
use actor_core::{ActorRef, ShutdownReport, StopReason, SupervisionStrategy};
use actor_otel::PipelineMode;
use common::telemetry::{root, traced};
use common::tree::*;
use common::watching::{ended, Crash, Ping};
use common::{eventually, system};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt;

const MINUTE: Duration = Duration::from_secs(60);

fn three_leaves(strategy: SupervisionStrategy) -> Spec {
    Spec::Sup(
        "sup",
        strategy,
        vec![Spec::Leaf("a"), Spec::Leaf("b"), Spec::Leaf("c")],
    )
}

/// The report of the one actor named `name` that is still around at shutdown, or the
/// last one of that name.
fn last<'r>(report: &'r ShutdownReport, name: &str) -> &'r actor_core::ActorReport {
    report
        .actors
        .iter()
        .filter(|a| a.name == name)
        .max_by_key(|a| a.id)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

async fn crash(system: &actor_core::ActorSystem, name: &str) {
    let leaf: ActorRef<Leaf> = system.lookup(name).expect("the leaf is live");
    leaf.tell(Crash).await.unwrap();
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let system = system();
    let (_sup, log) = spawn_tree(
        &system,
        three_leaves(SupervisionStrategy::one_for_one().max_restarts(3, MINUTE)),
    );
    eventually("the tree started", || log_len(&log) == 4);
    crash(&system, "b").await;
    eventually("b restarted", || log_len(&log) == 5);
    assert_eq!(lines_from(&log, 4), ["started b"]);
    let report = system.shutdown().await;
    let restarts: Vec<u32> = ["a", "b", "c"]
        .iter()
        .map(|n| last(&report, n).restarts)
        .collect();
    assert_eq!(restarts, [0, 1, 0]);
    assert_eq!(lines_from(&log, 5).len(), 4, "each stopped once: {log:?}");
}

#[tokio::test]
async fn one_for_all_restarts_every_sibling_in_spawn_order() {
    let system = system();
    let (_sup, log) = spawn_tree(
        &system,
        three_leaves(SupervisionStrategy::one_for_all().max_restarts(3, MINUTE)),
    );
    eventually("the tree started", || log_len(&log) == 4);
    crash(&system, "b").await;
    eventually("all restarted", || log_len(&log) == 9);
    assert_eq!(
        lines_from(&log, 4),
        [
            "stopped a",
            "started a",
            "started b",
            "stopped c",
            "started c"
        ]
    );
    let report = system.shutdown().await;
    for name in ["a", "b", "c"] {
        assert_eq!(last(&report, name).restarts, 1, "{name}");
    }
    assert_eq!(last(&report, "sup").restarts, 0);
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_the_later_ones() {
    let system = system();
    let (_sup, log) = spawn_tree(
        &system,
        three_leaves(SupervisionStrategy::rest_for_one().max_restarts(3, MINUTE)),
    );
    eventually("the tree started", || log_len(&log) == 4);
    crash(&system, "b").await;
    eventually("b and c restarted", || log_len(&log) == 7);
    assert_eq!(lines_from(&log, 4), ["started b", "stopped c", "started c"]);
    let report = system.shutdown().await;
    let restarts: Vec<u32> = ["a", "b", "c"]
        .iter()
        .map(|n| last(&report, n).restarts)
        .collect();
    assert_eq!(restarts, [0, 1, 1]);
}

#[tokio::test]
async fn escalation_reaches_the_root_and_is_reported_with_the_tree() {
    let system = system();
    let none = SupervisionStrategy::one_for_one().max_restarts(0, MINUTE);
    let (root, log) = spawn_tree(
        &system,
        Spec::Sup(
            "root",
            none,
            vec![Spec::Sup("mid", none, vec![Spec::Leaf("leaf")])],
        ),
    );
    eventually("the tree started", || log_len(&log) == 3);
    crash(&system, "leaf").await;
    assert_eq!(ended(&root).await.reason, StopReason::Escalated);
    let report = system.shutdown().await;
    assert_eq!(last(&report, "root").reason, StopReason::Escalated);
    assert_eq!(last(&report, "mid").reason, StopReason::Escalated);
    assert_eq!(last(&report, "leaf").reason, StopReason::Failed);
    assert_eq!(last(&report, "mid").parent, Some(root.id()));
    assert_eq!(
        report.tree(),
        "root: Escalated\n└── mid: Escalated\n    └── leaf: Failed, 1 panics\n"
    );
}

#[tokio::test]
async fn a_parent_that_escalates_is_restarted_with_its_subtree_by_its_own_parent() {
    let system = system();
    let (root, log) = spawn_tree(
        &system,
        Spec::Sup(
            "root",
            SupervisionStrategy::one_for_one().max_restarts(3, MINUTE),
            vec![Spec::Sup(
                "mid",
                SupervisionStrategy::one_for_one().max_restarts(0, MINUTE),
                vec![Spec::Leaf("leaf")],
            )],
        ),
    );
    eventually("the tree started", || log_len(&log) == 3);
    crash(&system, "leaf").await;
    eventually("mid and its leaf restarted", || log_len(&log) == 5);
    assert_eq!(lines_from(&log, 3), ["started mid", "started leaf"]);
    root.ask(Ping).await.unwrap();
    let report = system.shutdown().await;
    assert_eq!(last(&report, "mid").restarts, 1);
    assert_eq!(last(&report, "root").reason, StopReason::Requested);
    assert_eq!(
        report.tree(),
        "root: Requested\n└── mid: Requested, 1 restarts\n    ├── leaf: Failed, 1 panics\n    └── leaf: Requested\n"
    );
    // Shutdown stops the tree from the leaves up.
    let order = report.order();
    assert_eq!(&order[order.len() - 3..], ["leaf", "mid", "root"]);
}

#[tokio::test]
async fn a_parent_stopping_on_its_own_stops_its_children_first() {
    let system = system();
    let (sup, log) = spawn_tree(
        &system,
        Spec::Sup(
            "sup",
            SupervisionStrategy::default(),
            vec![Spec::Leaf("a"), Spec::Leaf("b")],
        ),
    );
    eventually("the tree started", || log_len(&log) == 3);
    let a: ActorRef<Leaf> = system.lookup("a").unwrap();
    sup.stop();
    ended(&sup).await;
    assert_eq!(
        lines_from(&log, 3),
        ["stopped b", "stopped a", "stopped sup"]
    );
    assert!(!a.is_alive());
    assert!(
        system.actor_names().is_empty(),
        "{:?}",
        system.actor_names()
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_restart_is_an_event_on_the_supervise_span_in_the_failing_message_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let (_sup, log) = spawn_tree(
        &system,
        Spec::Sup(
            "sup",
            SupervisionStrategy::one_for_all(),
            vec![Spec::Leaf("a"), Spec::Leaf("b")],
        ),
    );
    eventually("the tree started", || log_len(&log) == 3);
    let a: ActorRef<Leaf> = system.lookup("a").unwrap();
    let cx = root(&telemetry, "request");
    a.tell(Crash).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    eventually("both restarted", || log_len(&log) == 6);
    system.shutdown().await;

    let supervise = store.one("supervise sup");
    let request = store.one("request");
    assert_eq!(
        supervise.trace_id(),
        request.trace_id(),
        "in the failing trace"
    );
    let parent = store
        .spans()
        .into_iter()
        .find(|s| s.span_id() == supervise.parent_span_id())
        .expect("the supervise span's parent was exported");
    assert_eq!(parent.name(), "process a");
    let restarted: Vec<String> = supervise
        .span
        .events
        .iter()
        .filter(|e| e.name == "restart")
        .map(|e| {
            e.attributes
                .iter()
                .find(|kv| kv.key.as_str() == SUPERVISED_CHILD)
                .map(|kv| kv.value.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(restarted, ["a", "b"]);
    assert_eq!(
        store.named("supervise sup").len(),
        1,
        "one decision, one span"
    );
}
