//! HPACK's Huffman code (RFC 7541 §5.2, Appendix B), decoding only: the encoder sends raw
//! strings, which every decoder accepts. The code is canonical, so the code length of each
//! symbol (Appendix B's "len" column) determines every code; the decoder is built from them
//! once, as a state machine that consumes four bits per step.

use std::sync::OnceLock;

/// Bits in the code of each symbol, 0..=255 and EOS (256). RFC 7541 Appendix B.
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS: u16 = 256;
/// No symbol emitted by a step.
const NONE: u16 = u16::MAX;

/// One step of the decoder: from a state (an internal node of the code tree), four bits lead to
/// `next`, having emitted `symbol` on the way (codes are at least five bits long, so at most
/// one), or hit EOS, which is an error inside a string.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    symbol: u16,
    fails: bool,
}

struct Machine {
    steps: Vec<[Step; 16]>,
    /// A string may end in this state: the bits since the last symbol are all ones and fewer
    /// than eight (a prefix of EOS used as padding).
    accepting: Vec<bool>,
}

/// The symbols' codes, in canonical order: shorter first, then by symbol.
fn codes() -> [(u32, u8); 257] {
    let mut order: Vec<u16> = (0..257).collect();
    order.sort_by_key(|&s| (CODE_LENGTHS[s as usize], s));
    let mut codes = [(0u32, 0u8); 257];
    let (mut code, mut previous_len) = (0u32, CODE_LENGTHS[order[0] as usize]);
    for (i, &symbol) in order.iter().enumerate() {
        let len = CODE_LENGTHS[symbol as usize];
        if i > 0 {
            code = (code + 1) << (len - previous_len);
        }
        previous_len = len;
        codes[symbol as usize] = (code, len);
    }
    codes
}

fn build() -> Machine {
    // The code tree: internal nodes with two children, each a node or a leaf (a symbol).
    #[derive(Clone, Copy)]
    enum Child {
        Empty,
        Node(usize),
        Leaf(u16),
    }
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    for (symbol, &(code, len)) in codes().iter().enumerate() {
        let mut node = 0;
        for depth in (0..len).rev() {
            let bit = ((code >> depth) & 1) as usize;
            if depth == 0 {
                nodes[node][bit] = Child::Leaf(symbol as u16);
            } else {
                node = match nodes[node][bit] {
                    Child::Node(next) => next,
                    _ => {
                        nodes.push([Child::Empty; 2]);
                        let next = nodes.len() - 1;
                        nodes[node][bit] = Child::Node(next);
                        next
                    }
                };
            }
        }
    }
    // A complete prefix code over 257 symbols has 256 internal nodes: a state fits a byte.
    assert_eq!(nodes.len(), 256);
    let mut accepting = vec![false; nodes.len()];
    let mut node = 0;
    for _ in 0..8 {
        accepting[node] = true;
        match nodes[node][1] {
            Child::Node(next) => node = next,
            _ => break,
        }
    }
    let steps = (0..nodes.len())
        .map(|state| {
            std::array::from_fn(|nibble| {
                let (mut node, mut symbol, mut fails) = (state, NONE, false);
                for shift in (0..4).rev() {
                    match nodes[node][(nibble >> shift) & 1] {
                        Child::Node(next) => node = next,
                        Child::Leaf(EOS) | Child::Empty => {
                            fails = true;
                            node = 0;
                        }
                        Child::Leaf(s) => {
                            symbol = s;
                            node = 0;
                        }
                    }
                }
                Step {
                    next: node as u8,
                    symbol,
                    fails,
                }
            })
        })
        .collect();
    Machine { steps, accepting }
}

fn machine() -> &'static Machine {
    static MACHINE: OnceLock<Machine> = OnceLock::new();
    MACHINE.get_or_init(build)
}

/// The Huffman string was malformed: it held EOS, or its padding was not a short run of ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidHuffman;

/// Appends the decoding of `encoded` to `out`.
pub fn decode(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), InvalidHuffman> {
    let machine = machine();
    let mut state = 0usize;
    for &byte in encoded {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = machine.steps[state][nibble as usize];
            if step.fails {
                return Err(InvalidHuffman);
            }
            if step.symbol != NONE {
                out.push(step.symbol as u8);
            }
            state = step.next as usize;
        }
    }
    if machine.accepting[state] {
        Ok(())
    } else {
        Err(InvalidHuffman)
    }
}

/// Appends the Huffman encoding of `text` to `out` (tests build servers' strings with it).
pub fn encode(text: &[u8], out: &mut Vec<u8>) {
    let codes = codes();
    let (mut bits, mut held) = (0u64, 0u32);
    for &byte in text {
        let (code, len) = codes[byte as usize];
        bits = (bits << len) | u64::from(code);
        held += u32::from(len);
        while held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    if held > 0 {
        // Pad with the most significant bits of EOS: ones.
        out.push(((bits << (8 - held)) | ((1 << (8 - held)) - 1)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_rfc_table_at_known_points() {
        let codes = codes();
        assert_eq!(codes[b'0' as usize], (0x0, 5));
        assert_eq!(codes[b'a' as usize], (0x3, 5));
        assert_eq!(codes[b' ' as usize], (0x14, 6));
        assert_eq!(codes[b'z' as usize], (0x7b, 7));
        assert_eq!(codes[0], (0x1ff8, 13));
        assert_eq!(codes[255], (0x3ffffee, 26));
        assert_eq!(codes[256], (0x3fffffff, 30));
    }

    #[test]
    fn decodes_the_rfc_examples() {
        // RFC 7541 C.4.1: "www.example.com".
        let encoded = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let mut out = Vec::new();
        decode(&encoded, &mut out).unwrap();
        assert_eq!(out, b"www.example.com");
        // C.4.2: "no-cache".
        out.clear();
        decode(&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], &mut out).unwrap();
        assert_eq!(out, b"no-cache");
    }

    #[test]
    fn every_byte_round_trips() {
        let text: Vec<u8> = (0..=255u8).chain(b"hello, world".iter().copied()).collect();
        let mut encoded = Vec::new();
        encode(&text, &mut encoded);
        let mut out = Vec::new();
        decode(&encoded, &mut out).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn refuses_eos_and_bad_padding() {
        // EOS in full: thirty ones.
        let mut out = Vec::new();
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xfc], &mut out),
            Err(InvalidHuffman)
        );
        // 'a' (00011) then padding of zeros instead of ones.
        assert_eq!(decode(&[0x18], &mut out), Err(InvalidHuffman));
        // 'a' then a whole byte of padding: longer than seven bits.
        assert_eq!(decode(&[0x1f, 0xff], &mut out), Err(InvalidHuffman));
        out.clear();
        assert_eq!(decode(&[0x1f], &mut out), Ok(()));
        assert_eq!(out, b"a");
    }
}
