//! Typed errors: connecting, serving, and calling a remote actor. Every error that means
//! "not sent" hands the message back, as local sends do.

use std::time::Duration;

/// [`NatsOptions::connect`](crate::NatsOptions::connect) failed. It always ends within the
/// connect timeout (default 5 s).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused the credentials, or none were given where it requires some.
    #[error("the NATS server refused the connection: {0} (check the token, user and password, nkey or credentials file)")]
    Auth(String),
    /// No server answered within the connect timeout.
    #[error("no NATS server answered within {0:?}")]
    Timeout(Duration),
    /// A server URL does not parse.
    #[error("invalid NATS server URL: {0}")]
    Url(String),
    /// The credentials or nkey could not be read or used.
    #[error("NATS credentials: {0}")]
    Credentials(String),
    /// TLS could not be set up or the handshake failed.
    #[error("NATS TLS: {0}")]
    Tls(String),
    /// The servers could not be reached (refused, unreachable, reset).
    #[error("could not reach a NATS server: {0}")]
    Io(String),
    /// The connection's I/O thread could not be started.
    #[error("could not start the NATS I/O thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl ConnectError {
    pub(crate) fn from_nats(err: async_nats::ConnectError, timeout: Duration) -> Self {
        use async_nats::ConnectErrorKind as K;
        let text = err.to_string();
        match err.kind() {
            K::Authentication | K::AuthorizationViolation => ConnectError::Auth(text),
            K::TimedOut => ConnectError::Timeout(timeout),
            K::ServerParse | K::Dns => ConnectError::Url(text),
            K::Tls => ConnectError::Tls(text),
            // A refused certificate surfaces as an I/O error carrying rustls' error.
            K::Io if is_tls(&err) => ConnectError::Tls(text),
            K::Io | K::MaxReconnects => ConnectError::Io(text),
        }
    }
}

/// Whether a rustls error is in `err`'s source chain.
fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<async_nats::rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if inner.is::<async_nats::rustls::Error>() {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// A remote send that did not go out: the message is inside, nothing was sent.
#[derive(thiserror::Error)]
pub enum RemoteSendError<M> {
    /// The connection is down and this recipient refuses while it is
    /// ([`Outage::Refuse`](crate::Outage::Refuse)), or the connection was closed for good.
    #[error("not connected to NATS; the message was not sent")]
    Disconnected(M),
    /// The client's outgoing queue stayed full (the connection is down and its buffer is
    /// full) for the whole time limit of the send.
    #[error(
        "the NATS client's outgoing queue stayed full for the time limit; the message was not sent"
    )]
    Timeout(M),
    /// The encoded message is larger than the server's `max_payload`; refused before sending.
    #[error(
        "the message is {size} bytes, over the server's max_payload of {max}; it was not sent"
    )]
    TooLarge {
        /// The message.
        message: M,
        /// Its encoded size (body and headers).
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// The message could not be encoded.
    #[error("the message could not be encoded: {1}")]
    Encode(M, String),
    /// The client refused the send for another reason (an invalid subject, a closed client).
    #[error("the NATS client refused the message: {1}")]
    Transport(M, String),
}

impl<M> RemoteSendError<M> {
    /// Takes the unsent message back.
    pub fn into_message(self) -> M {
        match self {
            RemoteSendError::Disconnected(m)
            | RemoteSendError::Timeout(m)
            | RemoteSendError::TooLarge { message: m, .. }
            | RemoteSendError::Encode(m, _)
            | RemoteSendError::Transport(m, _) => m,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            RemoteSendError::Disconnected(_) => "Disconnected",
            RemoteSendError::Timeout(_) => "Timeout",
            RemoteSendError::TooLarge { .. } => "TooLarge",
            RemoteSendError::Encode(..) => "Encode",
            RemoteSendError::Transport(..) => "Transport",
        }
    }
}

impl<M> std::fmt::Debug for RemoteSendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteSendError::TooLarge { size, max, .. } => {
                write!(
                    f,
                    "RemoteSendError::TooLarge {{ size: {size}, max: {max}, .. }}"
                )
            }
            RemoteSendError::Encode(_, e) | RemoteSendError::Transport(_, e) => {
                write!(f, "RemoteSendError::{}(.., {e:?})", self.kind())
            }
            _ => write!(f, "RemoteSendError::{}(..)", self.kind()),
        }
    }
}

/// What went wrong on the serving side, as its reply said (header `Actor-Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing is served for the request's `Actor-Message-Type` on that subject.
    UnknownType,
    /// The request's body did not decode as that type (or its content type is unknown).
    Decode,
    /// The handler panicked while handling the message.
    Panicked,
    /// The actor has stopped, or stopped before replying.
    Stopped,
    /// The actor did not take or answer the message within the serving side's time limit.
    Timeout,
}

impl ErrorKind {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownType => "unknown-type",
            ErrorKind::Decode => "decode",
            ErrorKind::Panicked => "panicked",
            ErrorKind::Stopped => "stopped",
            ErrorKind::Timeout => "timeout",
        }
    }

    /// The kind a header value names.
    pub fn parse(value: &str) -> Option<ErrorKind> {
        [
            ErrorKind::UnknownType,
            ErrorKind::Decode,
            ErrorKind::Panicked,
            ErrorKind::Stopped,
            ErrorKind::Timeout,
        ]
        .into_iter()
        .find(|k| k.as_str() == value)
    }
}

/// A remote `ask` that produced no reply. Never a hang: each case ends the wait.
#[derive(thiserror::Error)]
pub enum RemoteAskError<M> {
    /// The request was not sent; the message is inside.
    #[error(transparent)]
    Send(#[from] RemoteSendError<M>),
    /// Nobody serves the subject (the server said so at once); the message is inside.
    #[error("no responders on the subject; the message was not handled")]
    NoResponders(M),
    /// The request went out but no reply came within the timeout. It may still be handled.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The serving side did not serve this message type there, or its body did not decode
    /// there, or the reply did not decode here. The actor never saw an undecodable message.
    #[error("decode: {0}")]
    Decode(String),
    /// The serving side took the message but could not answer: the handler panicked, the
    /// actor stopped, or it did not answer within the serving side's limit.
    #[error("the remote actor failed ({kind:?}): {text}")]
    Remote {
        /// What happened.
        kind: ErrorKind,
        /// The serving side's description (the panic message for `Panicked`).
        text: String,
    },
    /// The request was sent, then the connection failed before a reply could come.
    #[error("NATS transport: {0}")]
    Transport(String),
}

impl<M> RemoteAskError<M> {
    /// The unsent message, when the error says it was not sent or not handled.
    pub fn into_message(self) -> Option<M> {
        match self {
            RemoteAskError::Send(e) => Some(e.into_message()),
            RemoteAskError::NoResponders(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the ask ran out of time (here, or at the serving side).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            RemoteAskError::Timeout(_)
                | RemoteAskError::Send(RemoteSendError::Timeout(_))
                | RemoteAskError::Remote {
                    kind: ErrorKind::Timeout,
                    ..
                }
        )
    }
}

impl<M> std::fmt::Debug for RemoteAskError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteAskError::Send(e) => write!(f, "RemoteAskError::Send({e:?})"),
            RemoteAskError::NoResponders(_) => f.write_str("RemoteAskError::NoResponders(..)"),
            RemoteAskError::Timeout(d) => write!(f, "RemoteAskError::Timeout({d:?})"),
            RemoteAskError::Decode(t) => write!(f, "RemoteAskError::Decode({t:?})"),
            RemoteAskError::Remote { kind, text } => {
                write!(
                    f,
                    "RemoteAskError::Remote {{ kind: {kind:?}, text: {text:?} }}"
                )
            }
            RemoteAskError::Transport(t) => write!(f, "RemoteAskError::Transport({t:?})"),
        }
    }
}

/// Serving could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No message type was given to serve.
    #[error("nothing to serve: add at least one handler")]
    NoHandlers,
    /// Two handlers were given the same message type name.
    #[error("message type `{0}` is served twice on one subject")]
    DuplicateType(String),
    /// The subscription was refused (an invalid subject, a closed connection).
    #[error("could not subscribe: {0}")]
    Subscribe(String),
}
