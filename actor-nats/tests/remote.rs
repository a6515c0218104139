//! Serve and call over a real nats-server: replies, tells, both codecs, and every way a
//! call fails, each with its typed error.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::ActorSystem;
use actor_nats::{Codec, ErrorKind, RemoteAskError, RemoteSendError};
use common::{connect, counter, server, Add, Boom};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_and_tell_reach_the_actor_in_both_codecs() {
    let server = server();
    // Served from a connection on a thread of its own, called from one on this runtime.
    let serving_side = common::options(&server)
        .own_thread(true)
        .connect()
        .await
        .unwrap();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("remote").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let serving = serving_side
        .serve("svc.counter")
        .handle(actor.recipient::<Add>())
        .start()
        .await
        .unwrap();

    let json = nats.recipient::<Add>("svc.counter");
    let binary = nats.recipient::<Add>("svc.counter").codec(Codec::Postcard);
    assert_eq!(json.ask(Add(2)).await.unwrap(), 2);
    assert_eq!(binary.ask(Add(3)).await.unwrap(), 5);
    for _ in 0..10 {
        json.tell(Add(1)).await.unwrap();
        binary.tell(Add(1)).await.unwrap();
    }
    // Tells and asks from one connection arrive in order: this ask comes after the tells.
    assert_eq!(json.ask(Add(0)).await.unwrap(), 25);
    let stats = serving.stats();
    assert_eq!(stats.received, 23);
    assert_eq!(stats.handled, 23);
    assert_eq!(seen.load(Ordering::SeqCst), 23);
    serving.stop().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_or_unknown_messages_never_reach_the_actor_and_are_counted() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("remote").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let serving = nats
        .serve("svc.strict")
        .handle(actor.recipient::<Add>())
        .start()
        .await
        .unwrap();
    let client = nats.client();

    // A body that is not an `Add`.
    let mut headers = actor_nats::async_nats::HeaderMap::new();
    headers.insert(actor_nats::headers::MESSAGE_TYPE, "Add");
    let reply = client
        .request_with_headers("svc.strict", headers, "\"not a number\"".into())
        .await
        .unwrap();
    let kind = reply
        .headers
        .as_ref()
        .and_then(|h| h.get(actor_nats::headers::ERROR));
    assert_eq!(kind.map(|v| v.as_str()), Some("decode"));
    // A type nobody serves there, through the typed API: a Decode error naming the type.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Unknown(u8);
    impl actor_core::Message for Unknown {
        type Reply = u64;
    }
    let err = nats
        .recipient::<Unknown>("svc.strict")
        .ask(Unknown(1))
        .await
        .unwrap_err();
    match &err {
        RemoteAskError::Decode(text) => assert!(text.contains("Unknown"), "{text}"),
        other => panic!("expected Decode, got {other:?}"),
    }
    // A tell that does not decode is counted too (nobody to tell).
    let mut headers = actor_nats::async_nats::HeaderMap::new();
    headers.insert(actor_nats::headers::MESSAGE_TYPE, "Add");
    client
        .publish_with_headers("svc.strict", headers, "{".into())
        .await
        .unwrap();
    // An unknown content type.
    let mut headers = actor_nats::async_nats::HeaderMap::new();
    headers.insert(actor_nats::headers::MESSAGE_TYPE, "Add");
    headers.insert(actor_nats::headers::CONTENT_TYPE, "application/xml");
    let reply = client
        .request_with_headers("svc.strict", headers, "<add/>".into())
        .await
        .unwrap();
    let kind = reply
        .headers
        .as_ref()
        .and_then(|h| h.get(actor_nats::headers::ERROR));
    assert_eq!(kind.map(|v| v.as_str()), Some("decode"));

    // The reply to an ask that does decode comes after all of them.
    assert_eq!(
        nats.recipient::<Add>("svc.strict")
            .ask(Add(4))
            .await
            .unwrap(),
        4
    );
    let stats = serving.stats();
    assert_eq!(stats.received, 5);
    assert_eq!(stats.undecodable, 3);
    assert_eq!(stats.unknown_type, 1);
    assert_eq!(stats.handled, 1);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the actor saw only the good one"
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_or_a_stopped_actor_comes_back_as_a_remote_error() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("remote").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let _serving = nats
        .serve("svc.fragile")
        .handle(actor.recipient::<Add>())
        .handle(actor.recipient::<Boom>())
        .start()
        .await
        .unwrap();
    let boom = nats.recipient::<Boom>("svc.fragile");
    match boom.ask(Boom("disk on fire".into())).await {
        Err(RemoteAskError::Remote {
            kind: ErrorKind::Panicked,
            text,
        }) => assert!(text.contains("disk on fire"), "{text}"),
        other => panic!("expected a remote panic, got {other:?}"),
    }
    // Supervision restarted it: it still answers.
    assert_eq!(
        nats.recipient::<Add>("svc.fragile")
            .ask(Add(1))
            .await
            .unwrap(),
        1
    );
    system.shutdown().await;
    match nats.recipient::<Add>("svc.fragile").ask(Add(1)).await {
        Err(RemoteAskError::Remote {
            kind: ErrorKind::Stopped,
            ..
        }) => {}
        other => panic!("expected Stopped, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_serving_hands_the_message_back_and_a_silent_server_times_out() {
    let server = server();
    let nats = connect(&server).await;
    let remote = nats.recipient::<Add>("svc.nobody");
    match remote.ask(Add(7)).await {
        Err(RemoteAskError::NoResponders(Add(7))) => {}
        other => panic!("expected NoResponders with the message, got {other:?}"),
    }
    // A subscriber that never answers: the ask ends with Timeout within its limit.
    let _silent = nats.client().subscribe("svc.silent").await.unwrap();
    nats.flush(Duration::from_secs(1)).await;
    let started = Instant::now();
    let err = nats
        .recipient::<Add>("svc.silent")
        .ask(Add(1))
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // An invalid subject is refused before sending, the message back.
    match nats.recipient::<Add>("bad subject").tell(Add(9)).await {
        Err(RemoteSendError::Transport(Add(9), _)) => {}
        other => panic!("expected Transport with the message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_nothing_or_one_type_twice_is_refused() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("remote").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    match nats.serve("svc.none").start().await {
        Err(actor_nats::ServeError::NoHandlers) => {}
        other => panic!("expected NoHandlers, got {other:?}"),
    }
    match nats
        .serve("svc.twice")
        .handle(actor.recipient::<Add>())
        .handle_as("Add", actor.recipient::<Boom>())
        .start()
        .await
    {
        Err(actor_nats::ServeError::DuplicateType(name)) => assert_eq!(name, "Add"),
        other => panic!("expected DuplicateType, got {other:?}"),
    }
    // A custom wire name on both sides.
    let _serving = nats
        .serve("svc.named")
        .handle_as("counter.add", actor.recipient::<Add>())
        .start()
        .await
        .unwrap();
    let remote = nats
        .recipient::<Add>("svc.named")
        .message_type("counter.add");
    assert_eq!(remote.ask(Add(3)).await.unwrap(), 3);
    system.shutdown().await;
}

#[test]
fn blocking_connect_works_from_sync_code_on_a_thread_of_its_own() {
    let server = server();
    let nats = common::options(&server).blocking_connect().unwrap();
    assert!(nats.is_connected());
    let system = ActorSystem::builder().name("sync").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(async {
        // Served on the connection's own thread, called from this short-lived runtime.
        let _serving = nats
            .serve("svc.sync")
            .handle(actor.recipient::<Add>())
            .start()
            .await
            .unwrap();
        nats.recipient::<Add>("svc.sync").ask(Add(6)).await.unwrap()
    });
    assert_eq!(answer, 6);
    drop(runtime);
    drop(nats);
    system.blocking_shutdown();
    // (Dropping the last handle joined the `nats-io` thread; other tests in this binary run
    // their own, so the thread list is not checked here.)
}
