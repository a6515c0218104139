//! Protobuf fields written through a cursor over room kept ready in a byte buffer.
//!
//! The cursor's slice and position stay in registers while a message is written. Written
//! with a `Vec::push` per byte instead, every byte stored makes the compiler store the
//! vector's length and load its pointer again (a byte store may alias them), which was the
//! largest part of encoding a span. Each write is bounds-checked: when the room runs out it
//! returns [`Full`], and [`append`] writes the whole message again into twice the room, so
//! no length needs computing in advance.

use prost::encoding::{encoded_len_varint, WireType};

/// The room kept for a write ran out.
#[derive(Debug)]
pub(super) struct Full;

/// What a write returns: `Err(Full)` when the room ran out.
pub(super) type Written = Result<(), Full>;

/// The least room a write starts with: more than a span of the usual shapes takes (about
/// 300 bytes).
const LEAST_ROOM: usize = 512;

/// Appends to `out` what `write` writes.
pub(super) fn append(out: &mut Vec<u8>, write: impl FnMut(&mut Cursor<'_>) -> Written) {
    let mut end = out.len();
    append_in_room(out, &mut end, LEAST_ROOM, write);
    out.truncate(end);
}

/// Writes what `write` writes into `buf` from `*end` on, and moves `*end` past it. The bytes
/// of `buf` past `*end` are room kept ready: zeroed when the room is made, else left as the
/// last writes left them. When less than [`LEAST_ROOM`] is left, `step` more bytes are made
/// ready (so a stream of writes zeroes a few kilobytes at a time, just ahead of them); when
/// a write runs out, the room is doubled and `write` runs again, from the start.
pub(super) fn append_in_room(
    buf: &mut Vec<u8>,
    end: &mut usize,
    step: usize,
    mut write: impl FnMut(&mut Cursor<'_>) -> Written,
) {
    if buf.len().saturating_sub(*end) < LEAST_ROOM {
        buf.resize(buf.len().max(*end) + step.max(LEAST_ROOM), 0);
    }
    loop {
        let mut cursor = Cursor {
            buf: &mut buf[*end..],
            pos: 0,
        };
        if write(&mut cursor).is_ok() {
            *end += cursor.pos;
            return;
        }
        let len = buf.len() * 2;
        buf.resize(len, 0);
    }
}

/// What `write` writes, as a vector of its own.
pub(super) fn encoded(write: impl FnMut(&mut Cursor<'_>) -> Written) -> Vec<u8> {
    let mut out = Vec::new();
    append(&mut out, write);
    out
}

/// Writes protobuf fields into a slice, from the start.
pub(super) struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Bytes as they are.
    #[inline]
    pub(super) fn raw(&mut self, bytes: &[u8]) -> Written {
        let end = self.pos + bytes.len();
        let room = self.buf.get_mut(self.pos..end).ok_or(Full)?;
        room.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// A fixed number of bytes as they are (an id, a number): copied without a call to
    /// `memcpy`.
    #[inline]
    fn raw_array<const N: usize>(&mut self, bytes: [u8; N]) -> Written {
        let room = self.buf.get_mut(self.pos..).ok_or(Full)?;
        *room.first_chunk_mut::<N>().ok_or(Full)? = bytes;
        self.pos += N;
        Ok(())
    }

    /// A varint, as `prost::encoding::encode_varint` writes it, a byte at a time.
    #[inline]
    fn raw_varint(&mut self, mut value: u64) -> Written {
        let mut pos = self.pos;
        while value >= 0x80 {
            *self.buf.get_mut(pos).ok_or(Full)? = value as u8 | 0x80;
            value >>= 7;
            pos += 1;
        }
        *self.buf.get_mut(pos).ok_or(Full)? = value as u8;
        self.pos = pos + 1;
        Ok(())
    }

    /// A field's key.
    #[inline]
    pub(super) fn key(&mut self, tag: u32, wire_type: WireType) -> Written {
        self.raw_varint(u64::from(tag << 3 | wire_type as u32))
    }

    /// A length-delimited field's key and length (its bytes follow).
    #[inline]
    pub(super) fn header(&mut self, tag: u32, len: usize) -> Written {
        self.key(tag, WireType::LengthDelimited)?;
        self.raw_varint(len as u64)
    }

    /// A length-delimited field holding `bytes` (written even when empty).
    #[inline]
    pub(super) fn bytes(&mut self, tag: u32, bytes: &[u8]) -> Written {
        self.header(tag, bytes.len())?;
        self.raw(bytes)
    }

    /// A field of fixed-size bytes (an id).
    #[inline]
    pub(super) fn array<const N: usize>(&mut self, tag: u32, bytes: [u8; N]) -> Written {
        self.header(tag, N)?;
        self.raw_array(bytes)
    }

    /// A string field; an empty string is the default and is not written.
    #[inline]
    pub(super) fn string(&mut self, tag: u32, s: &str) -> Written {
        if s.is_empty() {
            return Ok(());
        }
        self.bytes(tag, s.as_bytes())
    }

    /// A varint field; zero is the default and is not written.
    #[inline]
    pub(super) fn varint(&mut self, tag: u32, value: u64) -> Written {
        if value == 0 {
            return Ok(());
        }
        self.varint_always(tag, value)
    }

    /// A varint field inside a `oneof` (written even when zero).
    #[inline]
    pub(super) fn varint_always(&mut self, tag: u32, value: u64) -> Written {
        self.key(tag, WireType::Varint)?;
        self.raw_varint(value)
    }

    /// A `fixed64` field; zero is not written.
    #[inline]
    pub(super) fn fixed64(&mut self, tag: u32, value: u64) -> Written {
        if value == 0 {
            return Ok(());
        }
        self.key(tag, WireType::SixtyFourBit)?;
        self.raw_array(value.to_le_bytes())
    }

    /// A `fixed32` field; zero is not written.
    #[inline]
    pub(super) fn fixed32(&mut self, tag: u32, value: u32) -> Written {
        if value == 0 {
            return Ok(());
        }
        self.key(tag, WireType::ThirtyTwoBit)?;
        self.raw_array(value.to_le_bytes())
    }

    /// A `double` field inside a `oneof` (written even when zero).
    #[inline]
    pub(super) fn double_always(&mut self, tag: u32, value: f64) -> Written {
        self.key(tag, WireType::SixtyFourBit)?;
        self.raw_array(value.to_le_bytes())
    }

    /// A length-delimited field whose bytes `write` writes in place. Its length, known only
    /// after, goes into the `len_bytes` bytes kept for it before them (the usual size of
    /// that length: one byte for an attribute, two for a span); the bytes move over when it
    /// needs more or fewer.
    #[inline]
    pub(super) fn message(
        &mut self,
        tag: u32,
        len_bytes: usize,
        write: impl FnOnce(&mut Self) -> Written,
    ) -> Written {
        self.key(tag, WireType::LengthDelimited)?;
        let at = self.pos;
        let body = at + len_bytes;
        if body > self.buf.len() {
            return Err(Full);
        }
        self.pos = body;
        write(self)?;
        let len = self.pos - body;
        let needed = encoded_len_varint(len as u64);
        let end = at + needed + len;
        if needed != len_bytes {
            if end > self.buf.len() {
                return Err(Full);
            }
            self.buf.copy_within(body..body + len, at + needed);
        }
        self.pos = at;
        self.raw_varint(len as u64)?;
        self.pos = end;
        Ok(())
    }
}

/// The encoded length of a length-delimited field of `len` bytes.
pub(super) fn field_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

/// The encoded length of a string field (none when empty: it is not written).
pub(super) fn string_field_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        field_len(tag, s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::{append, encoded, Full};

    /// A message written in place has the bytes `prost` gives it, whether its length takes
    /// the bytes kept for it, fewer or more, and whether or not it outgrew the first room.
    #[test]
    fn a_message_written_in_place_is_encoded_as_prost_encodes_it() {
        for kept in [1, 2] {
            for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
                let body = vec![7u8; len];
                let mut ours = vec![0xAA];
                append(&mut ours, |c| c.message(9, kept, |c| c.raw(&body)));
                let mut expected = vec![0xAA];
                prost::encoding::bytes::encode(9, &body, &mut expected);
                assert_eq!(ours, expected, "{len} bytes, {kept} kept for the length");
            }
        }
    }

    /// Every kind of field as `prost` writes it, defaults left out where `prost` leaves
    /// them out.
    #[test]
    fn fields_are_encoded_as_prost_encodes_them() {
        use prost::encoding as pe;
        let ours = encoded(|c| {
            c.varint(1, 0)?;
            c.varint(1, 300)?;
            c.varint_always(2, 0)?;
            c.fixed64(3, u64::MAX)?;
            c.fixed32(4, 7)?;
            c.double_always(5, 1.5)?;
            c.string(6, "")?;
            c.string(6, "text")?;
            c.bytes(7, &[])?;
            c.array(8, [1u8, 2, 3])
        });
        let mut expected = Vec::new();
        pe::uint64::encode(1, &300, &mut expected);
        pe::uint64::encode(2, &0, &mut expected);
        pe::fixed64::encode(3, &u64::MAX, &mut expected);
        pe::fixed32::encode(4, &7, &mut expected);
        pe::double::encode(5, &1.5, &mut expected);
        pe::string::encode(6, &"text".to_owned(), &mut expected);
        pe::bytes::encode(7, &Vec::new(), &mut expected);
        pe::bytes::encode(8, &vec![1u8, 2, 3], &mut expected);
        assert_eq!(ours, expected);
    }

    /// A write that runs out of room says so, and `append` writes it again into more: the
    /// bytes of the attempt that ran out are not kept.
    #[test]
    fn a_write_that_runs_out_of_room_is_written_again_whole() {
        let mut attempts = 0;
        let mut out = vec![1, 2];
        append(&mut out, |c| {
            attempts += 1;
            c.raw(&[9; 1000])
        });
        assert_eq!(attempts, 2, "room for 514 bytes first, then for twice that");
        assert_eq!(out.len(), 1002);
        assert!(out[..2] == [1, 2] && out[2..].iter().all(|&b| b == 9));

        let mut room = [0u8; 3];
        let mut cursor = super::Cursor {
            buf: &mut room,
            pos: 0,
        };
        assert!(matches!(cursor.raw(&[1, 2, 3, 4]), Err(Full)));
        assert!(matches!(cursor.varint_always(1, u64::MAX), Err(Full)));
        assert!(matches!(cursor.fixed32(1, 5), Err(Full)));
    }
}
