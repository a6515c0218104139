//! The batch wire format: tells that queue up behind each other on one connection go to
//! the server as one NATS message, each with its own trace headers (as a Kafka record
//! batch carries headers per record).
//!
//! A batch is a NATS message with the usual `Actor-Message-Type` (and `Content-Type`)
//! headers, plus `Actor-Batch: <n>`; its body is `n` frames, one per message:
//!
//! ```text
//! frame = header-length (u32, big endian) headers body-length (u32, big endian) body
//! headers = ("name: value\r\n")*      what the propagator injected: traceparent, ...
//! ```
//!
//! A lone tell never makes a batch: it goes as an ordinary message with its trace in the
//! NATS headers, as every other client sends it.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanContext;
use smallvec::SmallVec;

/// Bytes a frame adds around its headers and body.
pub(crate) const FRAME_OVERHEAD: usize = 8;

/// The header block of one frame, written by a propagator: inline up to 128 bytes (a
/// `traceparent` line and a short `tracestate`), so the usual tell allocates nothing for it.
#[derive(Debug, Default)]
pub(crate) struct FrameHeaders(pub(crate) SmallVec<[u8; 128]>);

impl Injector for FrameHeaders {
    fn set(&mut self, key: &str, value: String) {
        if !valid_header(key, &value) {
            return;
        }
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b": ");
        self.0.extend_from_slice(value.as_bytes());
        self.0.extend_from_slice(b"\r\n");
    }
}

impl FrameHeaders {
    /// What the W3C propagator injects for `span_context`: its `traceparent` (when it is
    /// valid) and its `tracestate` (when it has one), written as they are.
    pub(crate) fn put_trace(&mut self, span_context: &SpanContext) {
        if !span_context.is_valid() {
            return;
        }
        // The whole line made on the stack first (fixed-size copies, no calls), then
        // appended in one copy.
        const NAME: &[u8] = b"traceparent: ";
        let value = actor_core::trace::carrier::traceparent_bytes(span_context);
        let mut line = [0u8; NAME.len() + actor_core::trace::carrier::TRACEPARENT_LEN + 2];
        let (name, rest) = line.split_at_mut(NAME.len());
        let (text, end) = rest.split_at_mut(value.len());
        name.copy_from_slice(NAME);
        text.copy_from_slice(&value);
        end.copy_from_slice(b"\r\n");
        self.0.extend_from_slice(&line);
        let state = span_context.trace_state().header();
        if !state.is_empty() {
            self.set("tracestate", state);
        }
    }
}

/// Whether a header can travel on the wire as it is (a printable ASCII name without `:`,
/// a value without line breaks): what cannot is skipped rather than sent broken.
pub(crate) fn valid_header(key: &str, value: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && memchr::memchr2(b'\r', b'\n', value.as_bytes()).is_none()
}

/// Appends one frame to `out`.
pub(crate) fn write_frame(out: &mut BytesMut, headers: &[u8], body: &[u8]) {
    out.reserve(FRAME_OVERHEAD + headers.len() + body.len());
    out.put_u32(headers.len() as u32);
    out.put_slice(headers);
    out.put_u32(body.len() as u32);
    out.put_slice(body);
}

/// One message of a batch.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Its header block (`name: value\r\n` lines).
    pub(crate) headers: Bytes,
    /// Its encoded message.
    pub(crate) body: Bytes,
}

impl Frame {
    /// The value of the frame's one header line when that line is a `traceparent` of the
    /// W3C length, as [`FrameHeaders::put_trace`] writes it (the usual traced tell).
    pub(crate) fn lone_traceparent(&self) -> Option<&str> {
        const NAME: &[u8] = b"traceparent: ";
        let value = self
            .headers
            .strip_prefix(NAME)?
            .strip_suffix(b"\r\n")
            .filter(|value| value.len() == actor_core::trace::carrier::TRACEPARENT_LEN)?;
        std::str::from_utf8(value).ok()
    }

    /// The header lines as `(name, value)` pairs; `None` when they are not UTF-8.
    pub(crate) fn header_lines(&self) -> Option<impl Iterator<Item = (&str, &str)>> {
        let text = std::str::from_utf8(&self.headers).ok()?;
        // Byte by byte (the lines are short): the trims drop the `\r` before each `\n`.
        Some(text.split('\n').filter_map(|line| {
            let colon = line.bytes().position(|b| b == b':')?;
            Some((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()))
        }))
    }
}

/// The frames of a batch body, in order; a malformed frame ends it with an error.
#[derive(Debug)]
pub(crate) struct Frames {
    body: Bytes,
    left: usize,
    read: usize,
}

impl Frames {
    /// The `count` frames the header `Actor-Batch` announced in `body`.
    pub(crate) fn new(body: Bytes, count: usize) -> Self {
        Frames {
            body,
            left: count,
            read: 0,
        }
    }

    fn take_part(&mut self) -> Option<Bytes> {
        if self.body.remaining() < 4 {
            return None;
        }
        let len = self.body.get_u32() as usize;
        (len <= self.body.remaining()).then(|| self.body.split_to(len))
    }
}

/// A batch body that does not hold the frames its header announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a malformed batch: frame {index} is cut short or overruns the body")]
pub(crate) struct MalformedBatch {
    /// The first frame that could not be read (from 0).
    pub(crate) index: usize,
}

impl Iterator for Frames {
    type Item = Result<Frame, MalformedBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let frame = self.take_part().and_then(|headers| {
            let body = self.take_part()?;
            Some(Frame { headers, body })
        });
        let index = self.read;
        self.read += 1;
        Some(frame.ok_or_else(|| {
            // Nothing more can be read after a broken frame.
            self.left = 0;
            self.body.clear();
            MalformedBatch { index }
        }))
    }
}

/// A frame's header block as an OpenTelemetry [`Extractor`] (names ignore case, as
/// propagators ask in lower case).
/// The block is read once: a propagator asks for several names (`traceparent`,
/// `tracestate`, `baggage`), each of which used to read it again.
pub(crate) struct FrameExtractor<'a> {
    /// Inline up to four lines (`traceparent`, `tracestate`, `baggage` and one more).
    lines: SmallVec<[(&'a str, &'a str); 4]>,
}

impl<'a> FrameExtractor<'a> {
    /// The header lines of `frame` (none when they are not UTF-8).
    pub(crate) fn new(frame: &'a Frame) -> Self {
        let lines = frame
            .header_lines()
            .map(|lines| lines.collect())
            .unwrap_or_default();
        FrameExtractor { lines }
    }
}

impl Extractor for FrameExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| *value)
    }

    fn keys(&self) -> Vec<&str> {
        self.lines.iter().map(|(name, _)| *name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(frames: &[(&str, &str)]) -> Bytes {
        let mut out = BytesMut::new();
        for (headers, body) in frames {
            write_frame(&mut out, headers.as_bytes(), body.as_bytes());
        }
        out.freeze()
    }

    #[test]
    fn frames_come_back_in_order_with_their_own_headers() {
        let mut first = FrameHeaders::default();
        first.set("traceparent", "00-aa-bb-01".into());
        first.set("baggage", "k=v\r\nX-Evil: 1".into());
        first.set("tracestate", "k=v\nX-Evil: 1".into());
        first.set("x-other", "k=v\rX-Evil: 1".into());
        let mut body = BytesMut::new();
        write_frame(&mut body, &first.0, b"1");
        write_frame(&mut body, b"", b"22");
        let frames: Vec<Frame> = Frames::new(body.freeze(), 2)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            FrameExtractor::new(&frames[0]).get("TraceParent"),
            Some("00-aa-bb-01")
        );
        assert_eq!(
            FrameExtractor::new(&frames[0]).get("baggage"),
            None,
            "a line break is refused"
        );
        for key in ["tracestate", "x-other"] {
            assert_eq!(FrameExtractor::new(&frames[0]).get(key), None, "{key}");
        }
        assert_eq!(&frames[0].body[..], b"1");
        assert_eq!(FrameExtractor::new(&frames[1]).keys(), Vec::<&str>::new());
        assert_eq!(&frames[1].body[..], b"22");
    }

    #[test]
    fn a_frame_with_a_traceparent_alone_gives_it_as_it_was_written() {
        use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
        let span = |state: TraceState| {
            SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
                SpanId::from(0x00f0_67aa_0ba9_02b7),
                TraceFlags::SAMPLED,
                false,
                state,
            )
        };
        let mut alone = FrameHeaders::default();
        alone.put_trace(&span(TraceState::NONE));
        let mut with_state = FrameHeaders::default();
        with_state.put_trace(&span(TraceState::from_key_value([("k", "v")]).unwrap()));
        let mut out = BytesMut::new();
        for headers in [
            &alone.0[..],
            &with_state.0[..],
            b"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
            b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011\r\n",
            b"",
        ] {
            write_frame(&mut out, headers, b"1");
        }
        let frames: Vec<Frame> = Frames::new(out.freeze(), 5)
            .collect::<Result<_, _>>()
            .unwrap();
        let lone: Vec<Option<&str>> = frames.iter().map(Frame::lone_traceparent).collect();
        let written = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(lone, [Some(written), None, None, None, None]);
        // Every other frame goes through the extractor, which reads the same parent.
        assert_eq!(
            FrameExtractor::new(&frames[1]).get("traceparent"),
            Some(written)
        );
        assert_eq!(
            FrameExtractor::new(&frames[1]).get("tracestate"),
            Some("k=v")
        );
    }

    #[test]
    fn a_cut_or_overrunning_frame_ends_the_batch_with_its_index() {
        let whole = batch(&[("a: 1\r\n", "x"), ("", "yy")]);
        for cut in 0..whole.len() {
            let read: Vec<_> = Frames::new(whole.slice(..cut), 2).collect();
            // Whole frames, then one error naming the broken frame, then nothing.
            let (last, before) = read.split_last().expect("at least one result");
            assert!(before.iter().all(Result::is_ok), "cut at {cut}");
            assert_eq!(
                last.as_ref().unwrap_err().index,
                before.len(),
                "cut at {cut}"
            );
        }
        // More frames announced than sent: the extra one is an error, never a hang.
        let read: Vec<_> = Frames::new(whole.clone(), 3).collect();
        assert!(read[..2].iter().all(Result::is_ok));
        assert_eq!(read[2].as_ref().unwrap_err().index, 2);
        // A length over the body.
        let mut lying = BytesMut::new();
        lying.put_u32(u32::MAX);
        assert!(Frames::new(lying.freeze(), 1).next().unwrap().is_err());
    }
}
