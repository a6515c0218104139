//! [`RemoteRecipient`]: a handle for `M` served somewhere on a NATS subject; `tell`
//! publishes, `ask` is a request with its reply.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use actor_core::Message;
use async_nats::client::{PublishErrorKind, RequestErrorKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::batch::FrameHeaders;
use crate::codec::Codec;
use crate::connect::Nats;
use crate::error::{ErrorKind, RemoteAskError, RemoteSendError};
use crate::headers::HeaderInjector;
use crate::headers::{self, CONTENT_TYPE, ERROR, MESSAGE_TYPE};
use crate::names::message_type_name;
use crate::outbox::Destination;
use crate::trace::SendSpan;

/// What sends do while the connection is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outage {
    /// Queue them in the client (up to its [`client_capacity`](crate::NatsOptions::client_capacity));
    /// they go out after the reconnect. A send that finds the queue full waits up to its
    /// time limit, then gets its message back in `Timeout`. An ask still ends within its
    /// timeout. The default.
    #[default]
    Buffer,
    /// Refuse them at once with [`RemoteSendError::Disconnected`], the message back.
    Refuse,
}

/// A remote actor (or a pool of processes serving one subject with a queue group) that
/// handles `M`. Cheap to clone; sends from any async context. Nothing is retried: a tell is
/// delivered at most once.
///
/// Tells are [batched](RemoteRecipient::batching) by default: a tell is queued in the
/// connection's outbox and returns; tells that queue up behind each other go to the server
/// as one message, each with its own trace headers. A lone tell goes as an ordinary
/// message. Messages from one connection keep their order either way.
pub struct RemoteRecipient<M> {
    nats: Nats,
    destination: Arc<Destination>,
    batching: bool,
    outage: Outage,
    ask_timeout: Duration,
    send_timeout: Duration,
    _message: PhantomData<fn(M)>,
}

impl<M> Clone for RemoteRecipient<M> {
    fn clone(&self) -> Self {
        RemoteRecipient {
            nats: self.nats.clone(),
            destination: self.destination.clone(),
            batching: self.batching,
            outage: self.outage,
            ask_timeout: self.ask_timeout,
            send_timeout: self.send_timeout,
            _message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for RemoteRecipient<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRecipient")
            .field("subject", &self.destination.subject)
            .field("message_type", &self.destination.message_type)
            .field("codec", &self.destination.codec)
            .field("batching", &self.batching)
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// A remote recipient for `M` on `subject`: JSON, the message type named as
    /// [`message_type_name`] does, asks time out after 5 s, sends wait at most 5 s for
    /// room in the client's queue, tells are batched.
    pub fn recipient<M>(&self, subject: impl Into<String>) -> RemoteRecipient<M>
    where
        M: Message + Serialize,
        M::Reply: DeserializeOwned,
    {
        RemoteRecipient {
            nats: self.clone(),
            destination: Arc::new(Destination::new(
                subject.into().into(),
                message_type_name::<M>(),
                Codec::Json,
            )),
            batching: true,
            outage: Outage::Buffer,
            ask_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(5),
            _message: PhantomData,
        }
    }
}

impl<M> RemoteRecipient<M>
where
    M: Message + Serialize,
    M::Reply: DeserializeOwned,
{
    /// The body format (default JSON).
    pub fn codec(mut self, codec: Codec) -> Self {
        let to = &self.destination;
        self.destination = Arc::new(Destination::new(to.subject.clone(), to.message_type, codec));
        self
    }

    /// The name sent in `Actor-Message-Type` (default: [`message_type_name`]); it must
    /// match the name the serving side registered the type under.
    pub fn message_type(mut self, name: &'static str) -> Self {
        let to = &self.destination;
        self.destination = Arc::new(Destination::new(to.subject.clone(), name, to.codec));
        self
    }

    /// Whether tells that queue up behind each other go as one batch message (default
    /// `true`; see the crate's wire format). `false` sends every tell as a message of its
    /// own: for a subject whose subscribers are not `actor-nats` serve loops.
    pub fn batching(mut self, on: bool) -> Self {
        self.batching = on;
        self
    }

    /// What sends do while the connection is down (default [`Outage::Buffer`]).
    pub fn outage(mut self, outage: Outage) -> Self {
        self.outage = outage;
        self
    }

    /// The timeout of every ask that sets none (default 5 s).
    pub fn ask_timeout(mut self, limit: Duration) -> Self {
        self.ask_timeout = limit;
        self
    }

    /// How long a send waits for room in the client's queue (default 5 s).
    pub fn send_timeout(mut self, limit: Duration) -> Self {
        self.send_timeout = limit;
        self
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.destination.subject
    }

    /// Publishes `msg` (fire and forget, at most once). `Ok` means the connection took it:
    /// queued in its outbox (batching, while connected), written to the server, or queued
    /// in the client while reconnecting. [`Nats::flush`] waits until it is written.
    pub fn tell(&self, msg: M) -> RemoteTell<'_, M> {
        RemoteTell {
            recipient: self,
            msg: Some(msg),
            running: None,
        }
    }

    /// Sends `msg` as a request and waits for the reply, at most the
    /// [timeout](RemoteAsk::timeout).
    pub fn ask(&self, msg: M) -> RemoteAsk<'_, M> {
        RemoteAsk {
            recipient: self,
            msg: Some(msg),
            timeout: self.ask_timeout,
            running: None,
        }
    }

    /// Encodes `msg` and checks what can be checked before sending.
    fn prepare(&self, msg: &M) -> Result<Bytes, PrepareError> {
        if self.refuses_now() {
            return Err(PrepareError::Disconnected);
        }
        self.encode(msg)
    }

    /// Whether sends are refused now: disconnected, with [`Outage::Refuse`].
    fn refuses_now(&self) -> bool {
        self.outage == Outage::Refuse && !self.nats.is_connected()
    }

    /// `msg` in this recipient's codec.
    fn encode(&self, msg: &M) -> Result<Bytes, PrepareError> {
        self.destination
            .codec
            .encode(msg)
            .map_err(|e| PrepareError::Encode(e.to_string()))
    }

    /// The request headers, with the trace; starts the `send` span.
    fn headers(&self, body_size: usize) -> (HeaderMap, SendSpan) {
        let mut headers = HeaderMap::new();
        headers.insert(MESSAGE_TYPE, self.destination.message_type);
        // JSON is what a request without a content type means: one header fewer.
        if self.destination.codec != Codec::Json {
            headers.insert(CONTENT_TYPE, self.destination.codec.content_type());
        }
        let span = self.send_span(body_size, &mut HeaderInjector(&mut headers));
        (headers, span)
    }

    fn send_span(
        &self,
        body_size: usize,
        headers: &mut dyn opentelemetry::propagation::Injector,
    ) -> SendSpan {
        SendSpan::start(&self.nats.inner, &self.destination, body_size, headers)
    }

    /// Refuses a message over the server's `max_payload` before the client sees it.
    fn check_size(&self, headers: &HeaderMap, body: &Bytes) -> Option<(usize, usize)> {
        let header_bytes: usize = headers
            .iter()
            .map(|(k, vs)| {
                vs.iter()
                    .map(|v| AsRef::<str>::as_ref(k).len() + v.as_str().len() + 4)
                    .sum::<usize>()
            })
            .sum();
        self.over_max_payload(header_bytes, body.len())
    }

    /// Whether `body` under `header_bytes` of header lines is over the server's
    /// `max_payload`: `(size, max)` when it is.
    fn over_max_payload(&self, header_bytes: usize, body_len: usize) -> Option<(usize, usize)> {
        let max = self.nats.max_payload();
        // `NATS/1.0\r\n` before the lines and an empty line after them.
        let size = body_len + header_bytes + 12;
        (size > max).then_some((size, max))
    }

    /// A tell as far as it goes without waiting: `Ok` with its outcome when it is done
    /// (queued in the outbox, or refused), else what is left to do. The usual batched tell
    /// ends here, with no future made for it.
    fn tell_now(&self, msg: M) -> Result<Result<(), RemoteSendError<M>>, TellLater<M>> {
        if self.refuses_now() {
            return Ok(Err(RemoteSendError::Disconnected(msg)));
        }
        let outbox = &self.nats.inner.outbox;
        // While disconnected the client's own queue holds tells (its capacity is the
        // limit), unless earlier tells are still in the outbox: they go first.
        let batched = self.batching
            && self.destination.is_publishable()
            && (self.nats.is_connected() || !outbox.is_idle());
        if !batched {
            return match self.encode(&msg) {
                Ok(body) => Err(TellLater::Publish(msg, body)),
                Err(e) => Ok(Err(e.with(msg))),
            };
        }
        // The body goes straight into the batch: encoded into this thread's scratch buffer.
        ENCODED.with_borrow_mut(|body| {
            body.clear();
            if let Err(e) = self.destination.codec.encode_into(&msg, body) {
                return Ok(Err(RemoteSendError::Encode(msg, e.to_string())));
            }
            let mut frame = FrameHeaders::default();
            let span = SendSpan::start_in_frame(
                &self.nats.inner,
                &self.destination,
                body.len(),
                &mut frame,
            );
            let to = &self.destination;
            // As a lone message it carries these header lines (`name: value\r\n`).
            let type_line = MESSAGE_TYPE.len() + to.message_type.len() + 4;
            let content_line = match to.codec {
                Codec::Json => 0,
                codec => CONTENT_TYPE.len() + codec.content_type().len() + 4,
            };
            if let Some((size, max)) =
                self.over_max_payload(type_line + content_line + frame.0.len(), body.len())
            {
                span.end(Some("message over max_payload"));
                return Ok(Err(RemoteSendError::TooLarge {
                    message: msg,
                    size,
                    max,
                }));
            }
            if outbox.try_push(to, &frame.0, body) {
                span.end(None);
                return Ok(Ok(()));
            }
            Err(TellLater::Push(Box::new(QueuedTell {
                msg,
                body: Bytes::copy_from_slice(body),
                frame,
                span,
            })))
        })
    }

    /// The rest of a tell that [`tell_now`](Self::tell_now) could not finish.
    async fn tell_later(&self, later: TellLater<M>) -> Result<(), RemoteSendError<M>> {
        match later {
            TellLater::Publish(msg, body) => {
                self.nats.inner.outbox.drain().await;
                self.publish_tell(msg, body).await
            }
            TellLater::Push(queued) => {
                let QueuedTell {
                    msg,
                    body,
                    frame,
                    span,
                } = *queued;
                let outbox = &self.nats.inner.outbox;
                if outbox
                    .push(&self.destination, &frame.0, &body, self.send_timeout)
                    .await
                {
                    span.end(None);
                    Ok(())
                } else {
                    span.end(Some("outbox full"));
                    Err(RemoteSendError::Timeout(msg))
                }
            }
        }
    }

    /// A tell as a message of its own, published at once.
    async fn publish_tell(&self, msg: M, body: Bytes) -> Result<(), RemoteSendError<M>> {
        let (headers, span) = self.headers(body.len());
        if let Some((size, max)) = self.check_size(&headers, &body) {
            span.end(Some("message over max_payload"));
            return Err(RemoteSendError::TooLarge {
                message: msg,
                size,
                max,
            });
        }
        let publish = self.nats.inner.client.publish_with_headers(
            self.destination.subject.clone(),
            headers,
            body,
        );
        // The timer is armed only when the client's queue is full (no timer per tell).
        let mut publish = std::pin::pin!(publish);
        let published = match futures::poll!(publish.as_mut()) {
            Poll::Ready(done) => Ok(done),
            Poll::Pending => tokio::time::timeout(self.send_timeout, publish).await,
        };
        match published {
            Ok(Ok(())) => {
                span.end(None);
                Ok(())
            }
            Ok(Err(e)) => {
                span.end(Some("not sent"));
                Err(match e.kind() {
                    PublishErrorKind::MaxPayloadExceeded => RemoteSendError::TooLarge {
                        message: msg,
                        size: 0,
                        max: self.nats.max_payload(),
                    },
                    _ => RemoteSendError::Transport(msg, e.to_string()),
                })
            }
            Err(_) => {
                span.end(Some("client queue full"));
                Err(RemoteSendError::Timeout(msg))
            }
        }
    }

    async fn run_ask(&self, msg: M, timeout: Duration) -> Result<M::Reply, RemoteAskError<M>> {
        let body = match self.prepare(&msg) {
            Ok(body) => body,
            Err(e) => return Err(RemoteAskError::Send(e.with(msg))),
        };
        let (headers, span) = self.headers(body.len());
        if let Some((size, max)) = self.check_size(&headers, &body) {
            span.end(Some("message over max_payload"));
            return Err(RemoteAskError::Send(RemoteSendError::TooLarge {
                message: msg,
                size,
                max,
            }));
        }
        // One timer for the whole ask, queueing included (none inside async-nats).
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(body)
            .timeout(None);
        let inner = &self.nats.inner;
        let sent = tokio::time::timeout(timeout, async {
            // After the tells queued before it, as on one connection.
            inner.outbox.drain().await;
            inner
                .client
                .send_request(self.destination.subject.clone(), request)
                .await
        })
        .await;
        let result = match sent {
            Err(_) => Err(RemoteAskError::Timeout(timeout)),
            Ok(Err(e)) => Err(match e.kind() {
                RequestErrorKind::TimedOut => RemoteAskError::Timeout(timeout),
                RequestErrorKind::NoResponders => RemoteAskError::NoResponders(msg),
                RequestErrorKind::MaxPayloadExceeded => {
                    RemoteAskError::Send(RemoteSendError::TooLarge {
                        message: msg,
                        size: 0,
                        max: self.nats.max_payload(),
                    })
                }
                RequestErrorKind::InvalidSubject => {
                    RemoteAskError::Send(RemoteSendError::Transport(msg, e.to_string()))
                }
                RequestErrorKind::Other => RemoteAskError::Transport(e.to_string()),
            }),
            Ok(Ok(reply)) => self.read_reply(reply),
        };
        span.end(result.as_ref().err().map(|e| e.to_string()).as_deref());
        result
    }

    /// The reply, or the failure the serving side reported.
    fn read_reply(&self, reply: async_nats::Message) -> Result<M::Reply, RemoteAskError<M>> {
        let headers = reply.headers.as_ref();
        if let Some(kind) = headers::get(headers, ERROR) {
            let text = String::from_utf8_lossy(&reply.payload).into_owned();
            return Err(match ErrorKind::parse(kind) {
                Some(ErrorKind::UnknownType) | Some(ErrorKind::Decode) => {
                    RemoteAskError::Decode(format!("the serving side refused the request: {text}"))
                }
                Some(kind) => RemoteAskError::Remote { kind, text },
                None => RemoteAskError::Decode(format!("unknown failure `{kind}`: {text}")),
            });
        }
        let codec = Codec::from_content_type(headers::get(headers, CONTENT_TYPE))
            .unwrap_or(self.destination.codec);
        codec
            .decode(&reply.payload)
            .map_err(|e| RemoteAskError::Decode(format!("the reply: {e}")))
    }
}

/// Why a message could not even be sent.
enum PrepareError {
    Disconnected,
    Encode(String),
}

impl PrepareError {
    fn with<M>(self, msg: M) -> RemoteSendError<M> {
        match self {
            PrepareError::Disconnected => RemoteSendError::Disconnected(msg),
            PrepareError::Encode(e) => RemoteSendError::Encode(msg, e),
        }
    }
}

/// What is left of a tell that could not finish at once.
enum TellLater<M> {
    /// Published as a message of its own, after the tells queued before it.
    Publish(M, Bytes),
    /// Queued in the outbox once it has room.
    Push(Box<QueuedTell<M>>),
}

/// A batched tell waiting for room in the outbox: its `send` span started, its frame
/// written.
struct QueuedTell<M> {
    msg: M,
    body: Bytes,
    frame: FrameHeaders,
    span: SendSpan,
}

thread_local! {
    /// The body of a batched tell, encoded before it is copied into its batch.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A pending remote tell; `.await` it. Nothing is sent until the first poll, so the
/// caller's context then is the parent of its `send` span (`.with_context(cx)` works).
#[must_use = "a tell does nothing until awaited"]
pub struct RemoteTell<'a, M: Message> {
    recipient: &'a RemoteRecipient<M>,
    msg: Option<M>,
    running: Option<BoxFuture<'a, Result<(), RemoteSendError<M>>>>,
}

impl<M: Message> std::fmt::Debug for RemoteTell<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTell")
            .field("subject", &self.recipient.destination.subject)
            .finish_non_exhaustive()
    }
}

impl<M> Unpin for RemoteTell<'_, M> where M: Message {}

impl<'a, M> Future for RemoteTell<'a, M>
where
    M: Message + Serialize,
    M::Reply: DeserializeOwned,
{
    type Output = Result<(), RemoteSendError<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let running = match &mut this.running {
            Some(running) => running,
            None => {
                let Some(msg) = this.msg.take() else {
                    return Poll::Pending;
                };
                let recipient: &'a RemoteRecipient<M> = this.recipient;
                match recipient.tell_now(msg) {
                    Ok(done) => return Poll::Ready(done),
                    Err(later) => this.running.insert(Box::pin(recipient.tell_later(later))),
                }
            }
        };
        running.as_mut().poll(cx)
    }
}

/// A pending remote ask; set a [`timeout`](RemoteAsk::timeout), then `.await` it.
#[must_use = "an ask does nothing until awaited"]
pub struct RemoteAsk<'a, M: Message> {
    recipient: &'a RemoteRecipient<M>,
    msg: Option<M>,
    timeout: Duration,
    running: Option<BoxFuture<'a, Result<M::Reply, RemoteAskError<M>>>>,
}

impl<M: Message> std::fmt::Debug for RemoteAsk<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAsk")
            .field("subject", &self.recipient.destination.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<M: Message> RemoteAsk<'_, M> {
    /// Waits at most `limit` for the reply (the whole ask: queueing, sending, the reply).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }
}

impl<M> Unpin for RemoteAsk<'_, M> where M: Message {}

impl<'a, M> Future for RemoteAsk<'a, M>
where
    M: Message + Serialize,
    M::Reply: DeserializeOwned,
{
    type Output = Result<M::Reply, RemoteAskError<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let running = match &mut this.running {
            Some(running) => running,
            None => {
                let Some(msg) = this.msg.take() else {
                    return Poll::Pending;
                };
                let recipient: &'a RemoteRecipient<M> = this.recipient;
                this.running
                    .insert(Box::pin(recipient.run_ask(msg, this.timeout)))
            }
        };
        running.as_mut().poll(cx)
    }
}
