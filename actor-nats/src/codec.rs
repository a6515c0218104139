//! [`Codec`]: how message bodies are written on the wire (serde): JSON by default, so any
//! language can call, or postcard, a compact binary format, between Rust processes.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The body format of a request or a reply, named by the `Content-Type` header. The serving
/// side reads both and answers in the format it was asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// JSON (`application/json`): readable, and what other languages send. The default.
    #[default]
    Json,
    /// postcard (`application/x-postcard`): compact binary serde, for Rust to Rust.
    Postcard,
}

/// A body that could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{codec} body: {reason}")]
pub struct CodecError {
    /// The content type involved.
    pub codec: &'static str,
    /// What went wrong, from the serde format.
    pub reason: String,
}

impl Codec {
    /// The `Content-Type` header value for this codec.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Postcard => "application/x-postcard",
        }
    }

    /// The codec a `Content-Type` names; JSON when there is none (a client in another
    /// language may not set it). `None` for a content type this crate does not read.
    pub fn from_content_type(value: Option<&str>) -> Option<Codec> {
        let Some(value) = value else {
            return Some(Codec::Json);
        };
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/json") {
            Some(Codec::Json)
        } else if essence.eq_ignore_ascii_case("application/x-postcard") {
            Some(Codec::Postcard)
        } else {
            None
        }
    }

    /// Writes `value`.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Bytes, CodecError> {
        // As `serde_json::to_vec` starts.
        let mut out = Vec::with_capacity(128);
        self.encode_into(value, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// Writes `value` at the end of `out`.
    pub(crate) fn encode_into<T: Serialize + ?Sized>(
        self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let written = match self {
            Codec::Json => serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::to_io(value, &mut *out)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        written.map_err(|reason| CodecError {
            codec: self.content_type(),
            reason,
        })
    }

    /// Reads a `T`; the whole body must be one value.
    pub fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, CodecError> {
        let read = match self {
            Codec::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
            Codec::Postcard => match postcard::take_from_bytes(body) {
                Ok((value, [])) => Ok(value),
                Ok((_, rest)) => Err(format!("{} bytes left after the value", rest.len())),
                Err(e) => Err(e.to_string()),
            },
        };
        read.map_err(|reason| CodecError {
            codec: self.content_type(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Codec;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Add {
        n: u64,
        who: String,
    }

    #[test]
    fn both_codecs_round_trip_and_refuse_what_is_not_theirs() {
        let value = Add {
            n: 7,
            who: "ada".into(),
        };
        for codec in [Codec::Json, Codec::Postcard] {
            let body = codec.encode(&value).unwrap();
            assert_eq!(codec.decode::<Add>(&body).unwrap(), value);
            let mut longer = body.to_vec();
            longer.extend_from_slice(b"xx");
            assert!(
                codec.decode::<Add>(&longer).is_err(),
                "{codec:?} trailing bytes"
            );
            assert!(codec.decode::<Add>(b"").is_err());
        }
        assert!(
            Codec::Postcard.encode(&value).unwrap().len()
                < Codec::Json.encode(&value).unwrap().len()
        );
        assert_eq!(Codec::from_content_type(None), Some(Codec::Json));
        assert_eq!(
            Codec::from_content_type(Some("application/json; charset=utf-8")),
            Some(Codec::Json)
        );
        assert_eq!(
            Codec::from_content_type(Some("application/x-postcard")),
            Some(Codec::Postcard)
        );
        assert_eq!(Codec::from_content_type(Some("text/plain")), None);
    }
}
