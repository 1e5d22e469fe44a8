//! HPACK's integers (RFC 7541 §5.1): a prefix of N bits, then 7 bits per byte.

/// Appends `value` as an HPACK integer with an `n`-bit prefix (RFC 7541 §5.1); `first` holds
/// the bits above the prefix.
pub(crate) fn push_integer(out: &mut Vec<u8>, first: u8, prefix_bits: u32, value: usize) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// Reads an HPACK integer with an `n`-bit prefix from the start of `input`: its value and the
/// bytes it took. `None` when `input` ends first or the value exceeds 2^28 (no length or index
/// in a header block comes near it).
pub(crate) fn read_integer(input: &[u8], prefix_bits: u32) -> Option<(usize, usize)> {
    let max_prefix = (1usize << prefix_bits) - 1;
    let first = usize::from(*input.first()?) & max_prefix;
    if first < max_prefix {
        return Some((first, 1));
    }
    let mut value = max_prefix;
    for (i, &byte) in input[1..].iter().enumerate().take(4) {
        value += usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value <= 1 << 28).then_some((value, i + 2));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_as_in_the_rfc() {
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        let mut out = Vec::new();
        push_integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [31, 154, 10]);
        assert_eq!(read_integer(&out, 5), Some((1337, 3)));
        // C.1.1: 10 with a 5-bit prefix fits the prefix.
        out.clear();
        push_integer(&mut out, 0xe0, 5, 10);
        assert_eq!(out, [0xea]);
        assert_eq!(read_integer(&out, 5), Some((10, 1)));
        // Cut short, and too long.
        assert_eq!(read_integer(&[31, 154], 5), None);
        assert_eq!(read_integer(&[31, 0xff, 0xff, 0xff, 0xff, 0x7f], 5), None);
    }
}
