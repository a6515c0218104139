//! Serving: a local actor exposed on a NATS subject, for chosen message types. The serve
//! loop runs on the connection's runtime, never on the actor's thread; each message is handed
//! to the actor as an ordinary local `ask` (a request) or `tell` (a publish), in the
//! caller's trace.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actor_core::{AskError, Message, Recipient, SendError};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{oneshot, Semaphore};

use crate::batch::Frames;
use crate::codec::Codec;
use crate::connect::Nats;
use crate::error::{ErrorKind, ServeError};
use crate::headers::{self, HeaderExtractor, BATCH, CONTENT_TYPE, ERROR, MESSAGE_TYPE};
use crate::names::message_type_name;
use actor_core::trace::Delivery;

use crate::trace::Received;

/// Configures what a subject serves; [`start`](ServeBuilder::start) subscribes.
pub struct ServeBuilder {
    nats: Nats,
    subject: String,
    group: Option<String>,
    handlers: HashMap<&'static str, Arc<dyn Handle>>,
    duplicate: Option<String>,
    max_in_flight: usize,
    timeout: Duration,
}

impl std::fmt::Debug for ServeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeBuilder")
            .field("subject", &self.subject)
            .field("group", &self.group)
            .field("types", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// Starts configuring what `subject` serves.
    pub fn serve(&self, subject: impl Into<String>) -> ServeBuilder {
        ServeBuilder {
            nats: self.clone(),
            subject: subject.into(),
            group: None,
            handlers: HashMap::new(),
            duplicate: None,
            max_in_flight: 256,
            timeout: Duration::from_secs(30),
        }
    }
}

impl ServeBuilder {
    /// Join queue group `group`: the processes serving the subject in one group share its
    /// messages, each message going to one of them.
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Messages handed to the actor and not answered yet, at most (default 256). Past it
    /// the loop stops reading; the client buffers up to its subscription capacity and
    /// then drops (a slow consumer, counted), so memory stays bounded.
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// How long the serving side waits for the actor, room in its mailbox and its reply
    /// (default 30 s); then the caller gets [`ErrorKind::Timeout`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Serves `M` under its default name ([`message_type_name`]).
    pub fn handle<M>(self, recipient: Recipient<M>) -> Self
    where
        M: Message + DeserializeOwned,
        M::Reply: Serialize,
    {
        self.handle_as(message_type_name::<M>(), recipient)
    }

    /// Serves `M` under the wire name `name` (header `Actor-Message-Type`).
    pub fn handle_as<M>(mut self, name: &'static str, recipient: Recipient<M>) -> Self
    where
        M: Message + DeserializeOwned,
        M::Reply: Serialize,
    {
        if self
            .handlers
            .insert(name, Arc::new(Typed { recipient }))
            .is_some()
        {
            self.duplicate = Some(name.to_owned());
        }
        self
    }

    /// Subscribes, waits until the server has the subscription (so callers find it at once),
    /// then serves on the connection's runtime until the [`Serving`] handle is stopped or
    /// dropped.
    pub async fn start(self) -> Result<Serving, ServeError> {
        if let Some(name) = self.duplicate {
            return Err(ServeError::DuplicateType(name));
        }
        if self.handlers.is_empty() {
            return Err(ServeError::NoHandlers);
        }
        let client = &self.nats.inner.client;
        let subscriber = match &self.group {
            Some(group) => client
                .queue_subscribe(self.subject.clone(), group.clone())
                .await
                .map_err(|e| ServeError::Subscribe(e.to_string()))?,
            None => client
                .subscribe(self.subject.clone())
                .await
                .map_err(|e| ServeError::Subscribe(e.to_string()))?,
        };
        client
            .flush()
            .await
            .map_err(|e| ServeError::Subscribe(e.to_string()))?;
        confirm_subscribed(client).await;
        let counters = Arc::new(Counters::default());
        let mut types: Vec<&'static str> = self.handlers.keys().copied().collect();
        types.sort_unstable();
        let subject_value = actor_core::trace::interned_value(&Arc::from(self.subject.as_str()));
        let group_value = self
            .group
            .as_deref()
            .map(|g| actor_core::trace::interned_value(&Arc::from(g)));
        let shared = Arc::new(Shared {
            nats: self.nats.clone(),
            subject: self.subject,
            only: (self.handlers.len() == 1)
                .then(|| self.handlers.values().next().cloned())
                .flatten(),
            handlers: self.handlers,
            types: types.join(", "),
            timeout: self.timeout,
            counters: counters.clone(),
            arrival: crate::trace::arrival(&subject_value, group_value.as_ref(), None),
            subject_value,
            group_value,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let max = self.max_in_flight;
        self.nats.inner.io.runtime.spawn(async move {
            serve_loop(subscriber, shared, max, stop_rx).await;
            let _ = done_tx.send(());
        });
        Ok(Serving {
            stop: Some(stop_tx),
            done: Some(done_rx),
            counters,
            _nats: self.nats,
        })
    }
}

/// Waits until the server has processed the subscription, so a caller on another
/// connection finds it: a flush only writes it out. The server answers a request to a
/// subject nobody serves with "no responders" after everything this connection sent before
/// it, the subscription included. Needs subscribe permission on `_INBOX.>` (the reply
/// inbox); without it the wait ends after 1 s and serving starts anyway.
async fn confirm_subscribed(client: &async_nats::Client) {
    let probe = format!("{}.ready", client.new_inbox());
    let _ = tokio::time::timeout(Duration::from_secs(1), client.request(probe, Bytes::new())).await;
}

/// What a serving subject did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeStats {
    /// Messages received on the subject (each message of a batch counted).
    pub received: u64,
    /// Messages the actor handled (a reply sent, or a tell delivered to its mailbox).
    pub handled: u64,
    /// Messages refused because nothing is served for their message type; the actor never
    /// saw them.
    pub unknown_type: u64,
    /// Messages refused because their body did not decode; the actor never saw them.
    pub undecodable: u64,
    /// Messages the actor took but did not answer (panicked, stopped, too slow).
    pub failed: u64,
    /// Messages handed to the actor and not finished now.
    pub in_flight: usize,
    /// The most that were in flight at once.
    pub peak_in_flight: usize,
}

/// A subject being served. [`stop`](Serving::stop) drains the subscription (the server
/// stops sending; what it already sent is still served) and waits for what is in flight;
/// dropping it does the same without waiting.
pub struct Serving {
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
    counters: Arc<Counters>,
    _nats: Nats,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// What it did so far.
    pub fn stats(&self) -> ServeStats {
        self.counters.snapshot()
    }

    /// Drains the subscription (what the server sent before is still served) and waits
    /// for the messages in flight to be answered (at most the serving timeout); returns
    /// the final stats, to which nothing is added afterwards.
    pub async fn stop(mut self) -> ServeStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        self.counters.snapshot()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    handled: AtomicU64,
    unknown_type: AtomicU64,
    undecodable: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

impl Counters {
    /// Counts how one message ended.
    fn count(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Done(_) => &self.handled,
            Outcome::UnknownType(_) => &self.unknown_type,
            Outcome::Undecodable(_) => &self.undecodable,
            Outcome::Failed(..) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ServeStats {
        ServeStats {
            received: self.received.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            unknown_type: self.unknown_type.load(Ordering::Relaxed),
            undecodable: self.undecodable.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
        }
    }
}

/// What every message of one served subject needs.
struct Shared {
    nats: Nats,
    subject: String,
    handlers: HashMap<&'static str, Arc<dyn Handle>>,
    /// The handler used for a message without a type header when only one type is served.
    only: Option<Arc<dyn Handle>>,
    types: String,
    timeout: Duration,
    counters: Arc<Counters>,
    /// `subject` and `group` as attribute values, made once (no allocation per message).
    subject_value: Value,
    group_value: Option<Value>,
    /// How a lone message arrives, for its `process` span (each shares it).
    arrival: Delivery,
}

impl Shared {
    /// How the messages of a batch of `count` arrive.
    fn batch_arrival(&self, count: usize) -> Delivery {
        crate::trace::arrival(&self.subject_value, self.group_value.as_ref(), Some(count))
    }
}

async fn serve_loop(
    mut subscriber: async_nats::Subscriber,
    shared: Arc<Shared>,
    max_in_flight: usize,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut draining = false;
    loop {
        // Once stopping, the subscription is drained: the server stops sending, and what it
        // sent before is still served (none of it dropped unseen); then the stream ends.
        let permit = tokio::select! {
            _ = &mut stop, if !draining => {
                draining = true;
                let _ = subscriber.drain().await;
                continue;
            }
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let message = tokio::select! {
            _ = &mut stop, if !draining => {
                draining = true;
                let _ = subscriber.drain().await;
                continue;
            }
            message = subscriber.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let c = &shared.counters;
        c.received.fetch_add(1, Ordering::Relaxed);
        let now = c.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        if message.reply.is_none() {
            // Tells (and batches of them) are handed over here, in the order they came,
            // waiting for room in the mailbox: none overtakes another, and a full mailbox
            // slows the reading instead of piling up tasks.
            serve_one(&shared, message).await;
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            continue;
        }
        let shared = shared.clone();
        let mut task = Box::pin(async move {
            serve_one(&shared, message).await;
            shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
        // An ask is put in the mailbox at its first poll, here, after the messages before
        // it; its task then waits for the reply.
        if futures::poll!(task.as_mut()).is_pending() {
            tokio::spawn(task);
        }
    }
    // Let what is in flight answer, within the serving timeout.
    let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        shared.timeout + Duration::from_secs(1),
        permits.acquire_many(all),
    )
    .await;
}

/// How one message ended on the serving side.
enum Outcome {
    /// Handled; the reply body when one is wanted.
    Done(Option<Bytes>),
    /// Refused before the actor saw it.
    UnknownType(String),
    Undecodable(String),
    /// The actor took it and failed.
    Failed(ErrorKind, String),
}

async fn serve_one(shared: &Arc<Shared>, message: async_nats::Message) {
    let headers = message.headers.as_ref();
    let type_name = headers::get(headers, MESSAGE_TYPE);
    // `Actor-Batch: <n>`: the body is `n` tells (read once, for the routing and the count).
    let batch = headers::get(headers, BATCH);
    let handler = match type_name {
        Some(name) => shared.handlers.get(name.trim()).cloned(),
        None => shared.only.clone(),
    };
    let codec = Codec::from_content_type(headers::get(headers, CONTENT_TYPE));
    let outcome = match (handler, codec) {
        (None, _) => Outcome::UnknownType(format!(
            "`{}` serves no message type `{}` (it serves: {})",
            shared.subject,
            type_name.unwrap_or("(no Actor-Message-Type header)"),
            shared.types
        )),
        (Some(_), None) => Outcome::Undecodable(format!(
            "unknown content type `{}`",
            headers::get(headers, CONTENT_TYPE).unwrap_or_default()
        )),
        (Some(handler), Some(codec)) if batch.is_some() => {
            serve_batch(shared, &handler, codec, &message, batch).await;
            Outcome::Done(None)
        }
        (Some(handler), Some(codec)) => {
            let extractor = headers.map(HeaderExtractor);
            let received = crate::trace::received(
                &shared.nats.inner,
                extractor.as_ref().map(|e| e as _),
                handler
                    .makes_spans()
                    .then(|| (&shared.arrival, message.payload.len())),
            );
            handler
                .call(Job {
                    body: message.payload.clone(),
                    codec,
                    received,
                    wants_reply: message.reply.is_some(),
                    timeout: shared.timeout,
                })
                .await
        }
    };
    let batched = matches!(outcome, Outcome::Done(None)) && batch.is_some();
    if !batched {
        shared.counters.count(&outcome);
    }
    if let Some(reply) = message.reply {
        respond(shared, reply, codec.unwrap_or_default(), outcome).await;
    }
}

/// Serves the tells of a batch, one after the other, each in its own sender's trace; a
/// malformed batch ends at its broken frame, the rest counted as undecodable.
async fn serve_batch(
    shared: &Arc<Shared>,
    handler: &Arc<dyn Handle>,
    codec: Codec,
    message: &async_nats::Message,
    batch: Option<&str>,
) {
    let c = &shared.counters;
    let announced = batch.and_then(|n| n.trim().parse::<usize>().ok());
    let Some(count) = announced.filter(|n| *n > 0) else {
        c.count(&Outcome::Undecodable("a batch with no count".into()));
        return;
    };
    // The serve loop counted the batch's NATS message as one.
    c.received.fetch_add(count as u64 - 1, Ordering::Relaxed);
    let frames = Frames::new(message.payload.clone(), count);
    handler
        .tell_batch(shared.clone(), frames, count, codec)
        .await;
}

/// Publishes the reply, or the failure with its kind.
async fn respond(shared: &Shared, to: Subject, codec: Codec, outcome: Outcome) {
    let mut headers = HeaderMap::new();
    let body = match outcome {
        Outcome::Done(body) => {
            // A JSON reply goes without headers (a plain message is cheaper for NATS).
            if codec != Codec::Json {
                headers.insert(CONTENT_TYPE, codec.content_type());
            }
            body.unwrap_or_default()
        }
        Outcome::UnknownType(text) => failure(&mut headers, ErrorKind::UnknownType, text),
        Outcome::Undecodable(text) => failure(&mut headers, ErrorKind::Decode, text),
        Outcome::Failed(kind, text) => failure(&mut headers, kind, text),
    };
    // A lost reply is the asker's timeout; nothing else can be done with it here.
    let client = &shared.nats.inner.client;
    let _ = if headers.is_empty() {
        client.publish(to, body).await
    } else {
        client.publish_with_headers(to, headers, body).await
    };
}

fn failure(headers: &mut HeaderMap, kind: ErrorKind, text: String) -> Bytes {
    headers.insert(ERROR, kind.as_str());
    headers.insert(CONTENT_TYPE, "text/plain; charset=utf-8");
    Bytes::from(text)
}

/// One message for a typed handler.
struct Job {
    body: Bytes,
    codec: Codec,
    received: Received,
    wants_reply: bool,
    timeout: Duration,
}

/// A served message type: decode, hand to the actor, encode the reply.
trait Handle: Send + Sync {
    /// Serves one message.
    fn call(&self, job: Job) -> BoxFuture<'static, Outcome>;

    /// Whether the actor makes a `process` span for each message (then it gets the
    /// message's [`Delivery`](actor_core::trace::Delivery)).
    fn makes_spans(&self) -> bool;

    /// Serves the tells of a batch in order, counting how each ended.
    fn tell_batch(
        &self,
        shared: Arc<Shared>,
        frames: Frames,
        count: usize,
        codec: Codec,
    ) -> BoxFuture<'static, ()>;
}

struct Typed<M: Message> {
    recipient: Recipient<M>,
}

impl<M> Handle for Typed<M>
where
    M: Message + DeserializeOwned,
    M::Reply: Serialize,
{
    fn tell_batch(
        &self,
        shared: Arc<Shared>,
        frames: Frames,
        count: usize,
        codec: Codec,
    ) -> BoxFuture<'static, ()> {
        let recipient = self.recipient.clone();
        Box::pin(async move {
            let c = &shared.counters;
            let arrival = recipient.makes_spans().then(|| shared.batch_arrival(count));
            let mut frames = frames.enumerate();
            // From the first frame that cannot be read, nothing further can be.
            let mut unreadable = 0;
            // A chunk at a time, its contexts read together, in two vectors kept for the
            // batch (each element moved once; a chunk held inline would be moved whole).
            let mut chunk = Vec::with_capacity(crate::trace::CHUNK);
            let mut received = Vec::with_capacity(crate::trace::CHUNK);
            loop {
                for (index, frame) in frames.by_ref() {
                    match frame {
                        Ok(frame) => chunk.push(frame),
                        Err(_) => {
                            unreadable = count - index;
                            break;
                        }
                    }
                    if chunk.len() == crate::trace::CHUNK {
                        break;
                    }
                }
                if chunk.is_empty() {
                    break;
                }
                let inner = &shared.nats.inner;
                crate::trace::received_frames(inner, &chunk, arrival.as_ref(), &mut received);
                // Read in place: a `Received` is large, and each move of one is a copy.
                for (frame, received) in chunk.iter().zip(&received) {
                    let outcome =
                        tell_one(&recipient, &frame.body, codec, received, shared.timeout).await;
                    c.count(&outcome);
                }
                chunk.clear();
                received.clear();
            }
            c.undecodable
                .fetch_add(unreadable as u64, Ordering::Relaxed);
        })
    }

    fn makes_spans(&self) -> bool {
        self.recipient.makes_spans()
    }

    fn call(&self, job: Job) -> BoxFuture<'static, Outcome> {
        let recipient = self.recipient.clone();
        Box::pin(async move {
            if !job.wants_reply {
                return tell_one(&recipient, &job.body, job.codec, &job.received, job.timeout)
                    .await;
            }
            let msg: M = match decode::<M>(job.codec, &job.body) {
                Ok(msg) => msg,
                Err(undecodable) => return undecodable,
            };
            let asked = recipient
                .ask(msg)
                .timeout(job.timeout)
                .with_context(job.received.into_context())
                .await;
            match asked {
                Ok(reply) => match job.codec.encode(&reply) {
                    Ok(body) => Outcome::Done(Some(body)),
                    Err(e) => Outcome::Failed(
                        ErrorKind::Decode,
                        format!("the reply could not be encoded: {e}"),
                    ),
                },
                Err(AskError::Send(e)) => send_failure(e),
                Err(AskError::Timeout(d)) => {
                    Outcome::Failed(ErrorKind::Timeout, format!("no reply within {d:?}"))
                }
                Err(AskError::Panicked(text)) => Outcome::Failed(ErrorKind::Panicked, text),
                Err(e @ (AskError::Dropped | AskError::SelfAsk(_))) => {
                    Outcome::Failed(ErrorKind::Stopped, e.to_string())
                }
            }
        })
    }
}

/// `body` as an `M`, or why not.
fn decode<M: DeserializeOwned>(codec: Codec, body: &[u8]) -> Result<M, Outcome> {
    codec
        .decode(body)
        .map_err(|e| Outcome::Undecodable(format!("not a `{}`: {e}", message_type_name::<M>())))
}

/// Decodes one tell and puts it in the actor's mailbox as `received` says (the sender's
/// context and how it arrived): at once when there is room (no timer, no future, no
/// context made), else waiting at most `timeout`.
async fn tell_one<M>(
    recipient: &Recipient<M>,
    body: &[u8],
    codec: Codec,
    received: &Received,
    timeout: Duration,
) -> Outcome
where
    M: Message + DeserializeOwned,
{
    let msg: M = match decode::<M>(codec, body) {
        Ok(msg) => msg,
        Err(undecodable) => return undecodable,
    };
    let told = match received.send_in(|| recipient.try_tell(msg)) {
        Err(SendError::Full(msg)) => {
            let cx = received.clone().into_context();
            recipient.tell(msg).timeout(timeout).with_context(cx).await
        }
        tried => tried,
    };
    match told {
        Ok(()) => Outcome::Done(None),
        Err(e) => send_failure(e),
    }
}

fn send_failure<M>(e: SendError<M>) -> Outcome {
    let kind = match e {
        SendError::Closed(_) => ErrorKind::Stopped,
        SendError::Full(_) | SendError::Timeout(_) | SendError::WouldBlock(_) => ErrorKind::Timeout,
    };
    Outcome::Failed(kind, e.to_string())
}
