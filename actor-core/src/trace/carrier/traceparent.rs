//! The W3C `traceparent` header, read and written by its fixed layout
//! (`vv-<32 hex>-<16 hex>-ff`): one pass over the bytes, no formatting machinery, no
//! vector of parts. It runs for every message that crosses a process boundary.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};

/// Length of a version-00 `traceparent`; later versions may append `-…` fields.
const LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Each byte's value as a lower-case hex digit; `NOT_HEX` for every other byte.
const DIGITS: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

/// `hex` (lower-case, at most 16 digits) as a number.
fn number(hex: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    let mut bad = 0u8;
    for &b in hex {
        let d = DIGITS[usize::from(b)];
        bad |= d;
        n = n << 4 | u64::from(d & 0xf);
    }
    // Any byte that is not a digit sets the high bits of `bad`.
    (bad & 0xf0 == 0).then_some(n)
}

/// The trace id, parent id and flags of a `traceparent` that follows the W3C grammar:
/// 2-hex version other than `ff`, 32-hex non-zero trace id, 16-hex non-zero parent id,
/// 2-hex flags, lower case; version `00` has exactly these four fields, a later version
/// may add more after a `-`. `None` for anything else.
pub(crate) fn parse(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = value.trim().as_bytes();
    if b.len() < LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = number(&b[..2])?;
    let more = b.len() > LEN;
    if version == 0xff || (more && (version == 0 || b[LEN] != b'-')) {
        return None;
    }
    let trace_id = u128::from(number(&b[3..19])?) << 64 | u128::from(number(&b[19..35])?);
    let parent_id = number(&b[36..52])?;
    let flags = number(&b[53..55])?;
    (trace_id != 0 && parent_id != 0).then(|| {
        (
            TraceId::from(trace_id),
            SpanId::from(parent_id),
            TraceFlags::new(flags as u8),
        )
    })
}

/// The version-00 `traceparent` of `span_context`, carrying only the sampled flag (the
/// one flag W3C defines).
pub(crate) fn format(span_context: &SpanContext) -> String {
    // Written into a fixed array by position, then copied once into the `String`.
    let mut out = [b'-'; LEN];
    out[..2].copy_from_slice(b"00");
    write_hex(&mut out[3..35], &span_context.trace_id().to_bytes());
    write_hex(&mut out[36..52], &span_context.span_id().to_bytes());
    let flags = span_context.trace_flags() & TraceFlags::SAMPLED;
    write_hex(&mut out[53..55], &[flags.to_u8()]);
    // Only hex digits and dashes were written: always UTF-8.
    std::str::from_utf8(&out)
        .map(str::to_owned)
        .unwrap_or_default()
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

    use super::{format, parse};

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

    proptest! {
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
