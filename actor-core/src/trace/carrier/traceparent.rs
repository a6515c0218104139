//! The W3C `traceparent` header, read and written by its fixed layout
//! (`vv-<32 hex>-<16 hex>-ff`): one pass over the bytes, no formatting machinery, no
//! vector of parts. It runs for every message that crosses a process boundary.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};

/// Length of a version-00 `traceparent`; later versions may append `-…` fields.
pub(crate) const LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Eight lower-case hex digits (the first the most significant) as a number, all eight
/// checked and converted at once as the lanes of one `u64`; `None` if any is not a digit.
fn hex8(digits: &[u8]) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_be_bytes(digits.try_into().ok()?);
    if x & HIGH != 0 {
        return None;
    }
    // Every lane is below 0x80, so adding at most 0x50 carries into no other lane: the
    // lane's high bit then says whether the byte is at least the bound.
    let at_least = |bound: u8| x + ONES * u64::from(0x80 - bound);
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if (digit | letter) & HIGH != HIGH {
        return None;
    }
    // A digit's value is its low nibble; a letter's, its low nibble plus 9.
    let mut n = (x & (ONES * 0x0f)) + ((letter & HIGH) >> 7) * 9;
    // Pack the eight nibbles into 32 bits, pairs first.
    n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    n = (n | n >> 16) & 0xffff_ffff;
    Some(n)
}

/// Sixteen lower-case hex digits as a number.
fn hex16(digits: &[u8]) -> Option<u64> {
    Some(hex8(&digits[..8])? << 32 | hex8(&digits[8..16])?)
}

/// Two lower-case hex digits as a number.
fn hex2(digits: &[u8]) -> Option<u8> {
    let mut padded = *b"00000000";
    padded[6..].copy_from_slice(&digits[..2]);
    hex8(&padded).map(|n| n as u8)
}

/// The trace id, parent id and flags of a `traceparent` that follows the W3C grammar:
/// 2-hex version other than `ff`, 32-hex non-zero trace id, 16-hex non-zero parent id,
/// 2-hex flags, lower case; version `00` has exactly these four fields, a later version
/// may add more after a `-`. `None` for anything else.
pub(crate) fn parse(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = value.trim_ascii().as_bytes();
    if b.len() < LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex2(&b[..2])?;
    let more = b.len() > LEN;
    if version == 0xff || (more && (version == 0 || b[LEN] != b'-')) {
        return None;
    }
    let trace_id = u128::from(hex16(&b[3..19])?) << 64 | u128::from(hex16(&b[19..35])?);
    let parent_id = hex16(&b[36..52])?;
    let flags = hex2(&b[53..55])?;
    (trace_id != 0 && parent_id != 0).then(|| {
        (
            TraceId::from(trace_id),
            SpanId::from(parent_id),
            TraceFlags::new(flags),
        )
    })
}

/// The version-00 `traceparent` of `span_context`, carrying only the sampled flag (the
/// one flag W3C defines).
pub(crate) fn format(span_context: &SpanContext) -> String {
    // Written into a fixed array by position, then copied once into the `String`.
    let out = bytes(span_context);
    // Only hex digits and dashes were written: always UTF-8.
    std::str::from_utf8(&out)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// [`format`] as ASCII bytes in a fixed array (no allocation).
pub(crate) fn bytes(span_context: &SpanContext) -> [u8; LEN] {
    let mut out = [b'-'; LEN];
    out[..2].copy_from_slice(b"00");
    write_hex(&mut out[3..35], &span_context.trace_id().to_bytes());
    write_hex(&mut out[36..52], &span_context.span_id().to_bytes());
    let flags = span_context.trace_flags() & TraceFlags::SAMPLED;
    write_hex(&mut out[53..55], &[flags.to_u8()]);
    out
}

/// `bytes` in lower-case hex into `out` (twice as long).
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, &byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use proptest::prelude::*;

    use super::{format, hex8, parse};

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_gives_its_parts() {
        let (trace_id, span_id, flags) = parse(VALID).expect("valid");
        assert_eq!(format!("{trace_id}"), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(format!("{span_id}"), "00f067aa0ba902b7");
        assert_eq!(flags, TraceFlags::SAMPLED);
        assert!(
            parse(&format!("  {VALID} ")).is_some(),
            "surrounding blanks"
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let zero_trace = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        let zero_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra",
            "+0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            zero_trace,
            zero_parent,
        ] {
            assert!(parse(bad).is_none(), "{bad:?} accepted");
        }
        // A later version may carry more fields after a dash.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
    }

    /// The grammar read the slow way: split at dashes, each part checked on its own.
    fn reference(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
        let parts: Vec<&str> = value.trim_ascii().split('-').collect();
        let lower_hex = |part: &str, len: usize| {
            part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if parts.len() < 4
            || ![2, 32, 16, 2]
                .iter()
                .zip(&parts)
                .all(|(&n, p)| lower_hex(p, n))
        {
            return None;
        }
        let version = u8::from_str_radix(parts[0], 16).ok()?;
        let trace = u128::from_str_radix(parts[1], 16).ok()?;
        let parent = u64::from_str_radix(parts[2], 16).ok()?;
        let flags = u8::from_str_radix(parts[3], 16).ok()?;
        let fields_ok = if version == 0 {
            parts.len() == 4
        } else {
            version != 0xff
        };
        (fields_ok && trace != 0 && parent != 0).then(|| {
            (
                TraceId::from(trace),
                SpanId::from(parent),
                TraceFlags::new(flags),
            )
        })
    }

    #[test]
    fn eight_digits_are_read_as_a_byte_by_byte_loop_reads_them() {
        let by_byte = |digits: &[u8]| {
            digits.iter().try_fold(0u64, |n, &b| match b {
                b'0'..=b'9' => Some(n << 4 | u64::from(b - b'0')),
                b'a'..=b'f' => Some(n << 4 | u64::from(b - b'a' + 10)),
                _ => None,
            })
        };
        for position in 0..8 {
            for byte in 0..=u8::MAX {
                let mut digits = *b"09afc3e7";
                digits[position] = byte;
                assert_eq!(hex8(&digits), by_byte(&digits), "{digits:?}");
            }
        }
        assert_eq!(hex8(b"ffffffff"), Some(0xffff_ffff));
        assert_eq!(hex8(b"00000000"), Some(0));
    }

    proptest! {
        /// A valid header with one character replaced (by anything) or cut short: read as
        /// the slow reading reads it.
        #[test]
        fn a_damaged_header_is_read_as_the_grammar_reads_it(
            at in 0usize..58,
            with in any::<char>(),
            cut in 0usize..60,
            later_version: bool,
        ) {
            let mut header: Vec<char> = if later_version {
                format!("cc{}-more", &VALID[2..]).chars().collect()
            } else {
                VALID.chars().collect()
            };
            if at < header.len() {
                header[at] = with;
            }
            header.truncate(cut.max(50));
            let header: String = header.into_iter().collect();
            prop_assert_eq!(parse(&header), reference(&header), "{:?}", header);
        }

        /// What `format` writes, `parse` reads back; and it is what the SDK's propagator
        /// writes for the same span context.
        #[test]
        fn format_and_parse_agree(trace in 1u128.., span in 1u64.., sampled: bool) {
            let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
            let sc = SpanContext::new(
                TraceId::from(trace), SpanId::from(span), flags, false, TraceState::NONE,
            );
            let header = format(&sc);
            prop_assert_eq!(
                &header,
                &std::format!("00-{:032x}-{:016x}-{:02x}", trace, span, flags.to_u8())
            );
            prop_assert_eq!(parse(&header), Some((sc.trace_id(), sc.span_id(), flags)));
        }

        /// Any string: never a panic, and accepted only when the reference reading (by
        /// splitting at dashes) accepts it too.
        #[test]
        fn parse_accepts_only_what_the_grammar_allows(s in "[0-9a-fA-F+-]{0,70}") {
            if parse(&s).is_some() {
                let parts: Vec<&str> = s.split('-').collect();
                prop_assert!(parts.len() >= 4);
                prop_assert!(parts[..4].iter().zip([2, 32, 16, 2]).all(|(p, n)| p.len() == n));
            }
        }
    }
}
