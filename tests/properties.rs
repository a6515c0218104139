//! Property tests: carriers from outside never panic the extraction, never make
//! an invalid parent, and stay within the caps; any interleaving of tell / try_tell / ask /
//! stop loses no message and reorders none.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actor_core::trace::carrier::{extract_with, CarrierPolicy};
use actor_core::{Actor, ActorSystem, Ctx, Handler, MailboxSize, Message, SendError};
use common::telemetry::w3c_with_baggage;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use proptest::prelude::*;

/// Header values: well-formed, nearly well-formed, and arbitrary.
fn traceparent() -> impl Strategy<Value = String> {
    prop_oneof![
        "00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]",
        "[0-9a-f]{2}-[0-9a-f]{30,34}-[0-9a-f]{14,18}-[0-9a-f]{2}",
        "00-0{32}-[0-9a-f]{16}-01",
        "00-[0-9a-f]{32}-0{16}-01",
        any::<String>(),
        "\\PC{0,300}",
    ]
}

fn list(entry: &'static str, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(entry, 0..max).prop_map(|v| v.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn outside_carriers_never_yield_an_invalid_parent(
        tp in traceparent(),
        ts in prop_oneof![list("[a-z]{1,8}=[a-z0-9]{1,16}", 60), any::<String>()],
        bg in prop_oneof![list("[a-z]{1,8}=[a-zA-Z0-9%]{0,20}", 200), any::<String>(), "\\PC{0,9000}"],
    ) {
        let headers: HashMap<String, String> = [
            ("traceparent".to_owned(), tp.clone()),
            ("tracestate".to_owned(), ts),
            ("baggage".to_owned(), bg),
        ]
        .into();
        let policy = CarrierPolicy::default();
        let cx = extract_with(&w3c_with_baggage(), &headers, &policy);
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            prop_assert!(sc.trace_id() != TraceId::INVALID && sc.span_id() != SpanId::INVALID);
            prop_assert!(sc.is_remote());
            let expected = format!("{}-{}", sc.trace_id(), sc.span_id());
            prop_assert!(tp.contains(&expected), "adopted {expected} from {tp:?}");
            prop_assert!(sc.trace_state().header().len() <= policy.max_tracestate_len);
        }
        prop_assert!(cx.baggage().len() <= policy.max_baggage_entries);
        let refused = extract_with(&w3c_with_baggage(), &headers, &CarrierPolicy::without_baggage());
        prop_assert!(refused.baggage().is_empty());
    }
}

/// Records what it handles into a shared list, so it can be read after the actor stops.
struct Recorder(Arc<Mutex<Vec<u32>>>);
impl Actor for Recorder {}
struct Item(u32);
impl Message for Item {
    type Reply = ();
}
impl Handler<Item> for Recorder {
    async fn handle(&mut self, Item(n): Item, _cx: &mut Ctx<Self>) {
        self.0.lock().unwrap().push(n);
    }
}
struct Count;
impl Message for Count {
    type Reply = usize;
}
impl Handler<Count> for Recorder {
    async fn handle(&mut self, _: Count, _cx: &mut Ctx<Self>) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Tell,
    TryTell,
    Ask,
    Stop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![6 => Just(Op::Tell), 6 => Just(Op::TryTell), 2 => Just(Op::Ask), 1 => Just(Op::Stop)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn interleavings_lose_and_reorder_nothing(ops in prop::collection::vec(op(), 1..80)) {
        let system = ActorSystem::builder().mailbox(MailboxSize::Bounded(4)).build();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let actor = system.spawn("recorder", move || Recorder(l.clone())).unwrap();
        let mut accepted = Vec::new();
        let mut stopped = false;
        for (i, op) in ops.iter().enumerate() {
            let n = i as u32;
            let outcome = match op {
                Op::Tell => actor.blocking_tell(Item(n)),
                Op::TryTell => actor.try_tell(Item(n)),
                Op::Ask => match actor.blocking_ask(Count) {
                    Ok(count) => {
                        prop_assert_eq!(count, accepted.len(), "an ask sees every earlier tell");
                        continue;
                    }
                    Err(e) => {
                        prop_assert!(stopped, "asks only fail after a stop: {:?}", e);
                        continue;
                    }
                },
                Op::Stop => {
                    actor.stop();
                    stopped = true;
                    continue;
                }
            };
            match outcome {
                Ok(()) => {
                    prop_assert!(!stopped, "nothing is accepted after a stop");
                    accepted.push(n)
                }
                Err(SendError::Closed(Item(m))) => {
                    prop_assert!(stopped);
                    prop_assert_eq!(m, n, "the refused message comes back");
                }
                Err(SendError::Full(Item(m))) => prop_assert_eq!(m, n),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        system.blocking_shutdown();
        prop_assert_eq!(&*log.lock().unwrap(), &accepted);
    }
}
