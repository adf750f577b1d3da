//! What a tracked file's bytes mean (keepalived.conf(5), "Track files"): a number read the
//! way keepalived reads it, and the weight it is multiplied by.

/// keepalived reads at most this many bytes of a tracked file.
pub const MAX_READ: usize = 127;
/// A value is clamped to this magnitude: past it the weighted result faults or saturates
/// all the same (the state machine clamps value × weight to -254..=253).
pub const MAX_VALUE: i64 = 254;

/// The number in a tracked file: keepalived's `strtol(buf, NULL, 0)` of its first
/// [`MAX_READ`] bytes (leading white space, a sign, `0x` for hex, a leading `0` for octal,
/// digits up to the first that is not one, no digits meaning 0), clamped to ±[`MAX_VALUE`].
/// An empty or unreadable file is 0 too, as in keepalived.
///
/// ```
/// use vrrp_node::track::file::parse_value;
/// assert_eq!(parse_value(b"12\n"), 12);
/// assert_eq!(parse_value(b"  -0x10 apples"), -16);
/// assert_eq!(parse_value(b"oops"), 0);
/// assert_eq!(parse_value(b"99999999999999999999999"), 254);
/// ```
pub fn parse_value(bytes: &[u8]) -> i32 {
    let bytes = bytes.get(..MAX_READ).unwrap_or(bytes);
    let mut rest = bytes;
    while let [b, tail @ ..] = rest {
        // C's isspace in the C locale.
        if matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let (radix, digits) = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, &rest[2..]),
        [b'0', ..] => (8, rest),
        _ => (10, rest),
    };
    let mut magnitude: i64 = 0;
    for d in digits {
        let Some(v) = char::from(*d).to_digit(radix) else {
            break;
        };
        // Past MAX_VALUE the answer is MAX_VALUE: stop growing before anything overflows.
        magnitude = (magnitude * i64::from(radix) + i64::from(v)).min(MAX_VALUE + 1);
    }
    let value = if negative { -magnitude } else { magnitude };
    // Clamped, so it fits.
    value.clamp(-MAX_VALUE, MAX_VALUE) as i32
}

/// The weight a file's value is multiplied by in the state machine: the configured one,
/// negated by `reverse` (keepalived multiplies by -1), within the state machine's ±254
/// (a larger one gives the same clamped result for any non-zero value). Weight 0 stays 0:
/// a non-zero value faults, reversed or not.
pub fn effective_weight(weight: i32, reverse: bool) -> i16 {
    let w = if reverse {
        weight.saturating_neg()
    } else {
        weight
    };
    // Clamped, so it fits.
    w.clamp(-254, 254) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_strtol_reads_them() {
        let cases: &[(&[u8], i32)] = &[
            (b"0", 0),
            (b"1", 1),
            (b"1\n", 1),
            (b"\t\n 7 trailing", 7),
            (b"+5", 5),
            (b"-5", -5),
            (b"-", 0),
            (b"", 0),
            (b"\n", 0),
            (b"abc", 0),
            (b"0x1f", 31),
            (b"0X1F", 31),
            (b"0x", 0),
            (b"0xg", 0),
            (b"010", 8),
            (b"08", 0),
            (b"9z", 9),
            (b"254", 254),
            (b"255", 254),
            (b"-255", -254),
            (b"-9223372036854775808", -254),
            (b"123456789012345678901234567890", 254),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                parse_value(bytes),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn only_the_first_127_bytes_count() {
        let mut long = vec![b' '; 126];
        long.extend(b"42");
        // "4" is byte 127: read; "2" is past keepalived's buffer.
        assert_eq!(parse_value(&long), 4);
        let mut spaces = vec![b' '; 200];
        spaces.push(b'9');
        assert_eq!(parse_value(&spaces), 0);
    }

    #[test]
    fn reverse_negates_and_large_weights_clamp() {
        assert_eq!(effective_weight(10, false), 10);
        assert_eq!(effective_weight(10, true), -10);
        assert_eq!(effective_weight(0, true), 0);
        assert_eq!(effective_weight(1000, false), 254);
        assert_eq!(effective_weight(i32::MIN + 1, true), 254);
        assert_eq!(effective_weight(i32::MIN, true), 254);
    }
}
