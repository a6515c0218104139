//! [`Outbox`]: the connection's queue of tells. A tell is queued here and returns; a
//! flush task on the connection's runtime sends what queued, in order. Consecutive tells
//! to the same destination that queued up behind each other go as one batch message
//! (`batch.rs`), each with its own trace headers; a lone tell goes as an ordinary message.
//! Every other send on the connection (asks, unbatched tells) first
//! [drains](Outbox::drain) it, so one connection keeps its messages in order.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actor_core::trace::DeliveryParts;
use async_nats::{HeaderMap, Subject};
use bytes::BytesMut;
use opentelemetry::Value;
use tokio::sync::Notify;

use crate::batch::{write_frame, Frames, FRAME_OVERHEAD};
use crate::codec::Codec;
use crate::headers::{BATCH, CONTENT_TYPE, MESSAGE_TYPE};

/// Tells queued at most, over all destinations; past it a tell waits for room.
pub(crate) const MAX_QUEUED: usize = 1024;
/// The largest batch body, in bytes (lower when the server's `max_payload` is).
pub(crate) const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Room left in a batch for its NATS headers (`Actor-Message-Type`, `Content-Type`,
/// `Actor-Batch`).
const HEADROOM: usize = 512;

/// Where a recipient's tells go and how they are labelled: tells to one `Destination`
/// (one recipient and its clones) can share a batch.
#[derive(Debug)]
pub(crate) struct Destination {
    pub(crate) subject: Subject,
    pub(crate) message_type: &'static str,
    pub(crate) codec: Codec,
    /// `send <subject>` and the subject as an attribute value, made once.
    pub(crate) span_name: Cow<'static, str>,
    pub(crate) subject_value: Value,
    /// What a `send` record says of NATS, shared by every record to this destination.
    pub(crate) delivery: Arc<DeliveryParts>,
}

impl Destination {
    /// The destination of `message_type` in `codec` on `subject`.
    pub(crate) fn new(subject: Subject, message_type: &'static str, codec: Codec) -> Self {
        let name: Arc<str> = Arc::from(subject.as_str());
        Destination {
            span_name: actor_core::trace::interned_name(format!("send {subject}")),
            subject_value: actor_core::trace::interned_value(&name),
            subject,
            message_type,
            codec,
            delivery: Arc::new(DeliveryParts {
                system: Value::from(crate::names::MESSAGING_SYSTEM_NATS),
                attributes: Vec::new(),
            }),
        }
    }

    /// Whether the client would publish to the subject: one it refuses goes unbatched, so
    /// its tell gets the client's error.
    pub(crate) fn is_publishable(&self) -> bool {
        !self.subject.is_empty() && !self.subject.contains([' ', '\t', '\r', '\n'])
    }

    /// The NATS headers every message to this destination carries.
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(MESSAGE_TYPE, self.message_type);
        // JSON is what a message without a content type means: one header fewer.
        if self.codec != Codec::Json {
            headers.insert(CONTENT_TYPE, self.codec.content_type());
        }
        headers
    }
}

/// Consecutive tells to one destination: the frames of one batch.
struct Run {
    to: Arc<Destination>,
    frames: BytesMut,
    count: usize,
}

#[derive(Default)]
struct State {
    runs: VecDeque<Run>,
    queued: usize,
    /// A flush task is spawned and will see every run queued from now on.
    scheduled: bool,
}

/// The connection's queue of tells (see the module docs).
pub(crate) struct Outbox {
    client: async_nats::Client,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
    /// Held while runs are taken and published, so they reach the client in order.
    publishing: tokio::sync::Mutex<()>,
    room: Notify,
    batches: AtomicU64,
    lost: AtomicU64,
}

impl Outbox {
    /// An empty outbox for `client`, flushed by tasks on `runtime`.
    pub(crate) fn new(client: async_nats::Client, runtime: tokio::runtime::Handle) -> Self {
        Outbox {
            client,
            runtime,
            state: Mutex::new(State::default()),
            publishing: tokio::sync::Mutex::new(()),
            room: Notify::new(),
            batches: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether nothing is queued or being sent.
    pub(crate) fn is_idle(&self) -> bool {
        let state = self.state();
        state.runs.is_empty() && !state.scheduled
    }

    /// Batch messages sent so far (lone tells not counted).
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Tells taken into the outbox that the client then refused (it was closed).
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// The largest batch body, under the server's `max_payload`.
    fn batch_limit(&self) -> usize {
        MAX_BATCH_BYTES.min(self.client.max_payload().saturating_sub(HEADROOM))
    }

    /// Queues one tell (its frame's `headers` and `body`) for `to`, if there is room.
    pub(crate) fn try_push(
        self: &Arc<Self>,
        to: &Arc<Destination>,
        headers: &[u8],
        body: &[u8],
    ) -> bool {
        let size = FRAME_OVERHEAD + headers.len() + body.len();
        let limit = self.batch_limit();
        let mut state = self.state();
        if state.queued >= MAX_QUEUED {
            return false;
        }
        let joins_last = matches!(
            state.runs.back(),
            Some(run) if Arc::ptr_eq(&run.to, to) && run.frames.len() + size <= limit
        );
        if !joins_last {
            state.runs.push_back(Run {
                to: to.clone(),
                frames: BytesMut::new(),
                count: 0,
            });
        }
        if let Some(run) = state.runs.back_mut() {
            write_frame(&mut run.frames, headers, body);
            run.count += 1;
        }
        state.queued += 1;
        if !std::mem::replace(&mut state.scheduled, true) {
            drop(state);
            let outbox = self.clone();
            self.runtime.spawn(async move {
                let _publishing = outbox.publishing.lock().await;
                outbox.publish_queued().await;
            });
        }
        true
    }

    /// Queues one tell, waiting at most `limit` for room; `false` when there was none.
    pub(crate) async fn push(
        self: &Arc<Self>,
        to: &Arc<Destination>,
        headers: &[u8],
        body: &[u8],
        limit: Duration,
    ) -> bool {
        let waiting = async {
            loop {
                let mut room = pin!(self.room.notified());
                room.as_mut().enable();
                if self.try_push(to, headers, body) {
                    return;
                }
                room.await;
            }
        };
        tokio::time::timeout(limit, waiting).await.is_ok()
    }

    /// Hands everything queued so far to the client, in order; returns when it has.
    pub(crate) async fn drain(&self) {
        if self.is_idle() {
            return;
        }
        let _publishing = self.publishing.lock().await;
        self.publish_queued().await;
    }

    /// Publishes the queued runs one by one until none is left (with `publishing` held).
    async fn publish_queued(&self) {
        loop {
            let run = {
                let mut state = self.state();
                match state.runs.pop_front() {
                    Some(run) => {
                        state.queued -= run.count;
                        run
                    }
                    None => {
                        state.scheduled = false;
                        return;
                    }
                }
            };
            self.room.notify_waiters();
            let count = run.count;
            if !self.publish(run).await {
                self.lost.fetch_add(count as u64, Ordering::Relaxed);
            }
        }
    }

    /// Sends one run: a lone tell as an ordinary message, several as a batch.
    async fn publish(&self, run: Run) -> bool {
        let mut headers = run.to.headers();
        let body = if run.count == 1 {
            // Its trace goes in the NATS headers, as any client sends it.
            match Frames::new(run.frames.freeze(), 1).next() {
                Some(Ok(frame)) => {
                    if let Some(lines) = frame.header_lines() {
                        for (name, value) in lines {
                            headers.insert(name, value);
                        }
                    }
                    frame.body
                }
                // Written by `try_push` above: always whole.
                _ => return false,
            }
        } else {
            headers.insert(BATCH, run.count.to_string());
            self.batches.fetch_add(1, Ordering::Relaxed);
            run.frames.freeze()
        };
        self.client
            .publish_with_headers(run.to.subject.clone(), headers, body)
            .await
            .is_ok()
    }
}
