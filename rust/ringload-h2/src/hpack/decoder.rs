//! Decodes the server's header blocks (RFC 7541 §6), keeping its dynamic table in step.

use super::huffman;
use super::integer::read_integer;
use super::table::{DynamicTable, DEFAULT_TABLE_SIZE, STATIC_TABLE};

/// Why a header block could not be decoded. Every kind but [`HpackError::ListTooLarge`] leaves
/// the compression state unknown, which ends the connection (COMPRESSION_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended inside a representation.
    Truncated,
    /// An index beyond both tables, or 0.
    BadIndex,
    /// A malformed Huffman string.
    Huffman,
    /// A table size update above our limit, or after the first field.
    TableSizeUpdate,
    /// The decoded fields exceed the header list limit. The whole block was still decoded, so
    /// the connection can go on; the stream cannot.
    ListTooLarge,
}

impl HpackError {
    pub fn describe(self) -> &'static str {
        match self {
            HpackError::Truncated => "HPACK block cut short",
            HpackError::BadIndex => "HPACK index out of range",
            HpackError::Huffman => "malformed HPACK Huffman string",
            HpackError::TableSizeUpdate => "HPACK table size update out of place or over the limit",
            HpackError::ListTooLarge => "response header list over the limit",
        }
    }
}

/// What a field costs toward the header list limit (RFC 9113 §6.5.2).
const FIELD_OVERHEAD: usize = 32;

#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The largest table the server may use: the size we advertise.
    limit: usize,
    name: Vec<u8>,
    value: Vec<u8>,
    memo: HuffmanMemo,
}

/// The last few Huffman strings decoded, and what each decoded to. Servers repeat values:
/// nginx sends `server`, `date` and `content-type` as new literals to index in every response
/// (`date` the same for a whole second), so a repeat is a comparison, not a decoding.
#[derive(Debug, Default)]
struct HuffmanMemo {
    entries: [(Vec<u8>, Vec<u8>); MEMO_ENTRIES],
    /// The entry the next string to remember replaces.
    next: usize,
}

const MEMO_ENTRIES: usize = 4;
/// Longest Huffman string the memo keeps.
const MEMO_MAX: usize = 128;

impl HuffmanMemo {
    /// What `coded` decodes to, if it is one of the strings remembered.
    fn get(&self, coded: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(c, _)| c.as_slice() == coded)
            .map(|(_, decoded)| decoded.as_slice())
    }

    fn remember(&mut self, coded: &[u8], decoded: &[u8]) {
        let (c, d) = &mut self.entries[self.next];
        c.clear();
        c.extend_from_slice(coded);
        d.clear();
        d.extend_from_slice(decoded);
        self.next = (self.next + 1) % MEMO_ENTRIES;
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

impl Decoder {
    pub fn new(limit: usize) -> Self {
        Decoder {
            table: DynamicTable::new(limit),
            limit,
            name: Vec::new(),
            value: Vec::new(),
            memo: HuffmanMemo::default(),
        }
    }

    /// Decodes one complete header block, passing each field to `field` in order. Fields beyond
    /// `max_list_size` are decoded (the table must stay in step) but not passed on.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        self.decode_some(block, max_list_size, |_| true, field)
    }

    /// As [`Self::decode`], but the value of a literal that the table does not keep is decoded
    /// (and the field passed on) only when `wanted(name)`: a caller that reads only `:status`
    /// skips the Huffman decoding of every other value. A skipped value counts toward the list
    /// limit at the most its encoding can decode to.
    pub fn decode_some(
        &mut self,
        mut block: &[u8],
        max_list_size: usize,
        wanted: impl Fn(&[u8]) -> bool,
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let (mut list_size, mut any_field) = (0usize, false);
        while let Some(&first) = block.first() {
            if first & 0x80 != 0 {
                let (index, used) = read_integer(block, 7).ok_or(HpackError::Truncated)?;
                block = &block[used..];
                let (name, value) = entry(&self.table, index)?;
                list_size += name.len() + value.len() + FIELD_OVERHEAD;
                if list_size <= max_list_size {
                    field(name, value);
                }
                any_field = true;
                continue;
            }
            if first & 0xe0 == 0x20 {
                let (size, used) = read_integer(block, 5).ok_or(HpackError::Truncated)?;
                if any_field || size > self.limit {
                    return Err(HpackError::TableSizeUpdate);
                }
                self.table.set_max_size(size);
                block = &block[used..];
                continue;
            }
            let (indexing, prefix_bits) = if first & 0xc0 == 0x40 {
                (true, 6)
            } else {
                (false, 4)
            };
            let (name_index, used) =
                read_integer(block, prefix_bits).ok_or(HpackError::Truncated)?;
            block = &block[used..];
            self.name.clear();
            if name_index == 0 {
                block = read_string(block, &mut self.name, &mut self.memo)?;
            } else {
                // Into the reused buffer: no allocation per field.
                let (name, _) = entry(&self.table, name_index)?;
                self.name.extend_from_slice(name);
            }
            self.value.clear();
            if !indexing && !wanted(&self.name) {
                let (longest, rest) = skip_string(block)?;
                block = rest;
                list_size += self.name.len() + longest + FIELD_OVERHEAD;
                any_field = true;
                continue;
            }
            block = read_string(block, &mut self.value, &mut self.memo)?;
            list_size += self.name.len() + self.value.len() + FIELD_OVERHEAD;
            if list_size <= max_list_size {
                field(&self.name, &self.value);
            }
            if indexing {
                self.table.insert(&self.name, &self.value);
            }
            any_field = true;
        }
        if list_size > max_list_size {
            return Err(HpackError::ListTooLarge);
        }
        Ok(())
    }
}

/// Field `index` of the static table followed by the dynamic one `table` (1-based).
fn entry(table: &DynamicTable, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
    match index {
        0 => Err(HpackError::BadIndex),
        1..=61 => Ok(STATIC_TABLE[index - 1]),
        _ => table.get(index - 62).ok_or(HpackError::BadIndex),
    }
}

/// Steps over one string literal: the longest it can decode to, and what follows it.
fn skip_string(block: &[u8]) -> Result<(usize, &[u8]), HpackError> {
    let huffman_coded = block.first().ok_or(HpackError::Truncated)? & 0x80 != 0;
    let (len, used) = read_integer(block, 7).ok_or(HpackError::Truncated)?;
    let rest = &block[used..];
    if rest.len() < len {
        return Err(HpackError::Truncated);
    }
    // The shortest Huffman code is five bits.
    let longest = if huffman_coded { len * 8 / 5 } else { len };
    Ok((longest, &rest[len..]))
}

/// Reads one string literal into `out`, returning what follows it.
fn read_string<'a>(
    block: &'a [u8],
    out: &mut Vec<u8>,
    memo: &mut HuffmanMemo,
) -> Result<&'a [u8], HpackError> {
    let huffman_coded = block.first().ok_or(HpackError::Truncated)? & 0x80 != 0;
    let (len, used) = read_integer(block, 7).ok_or(HpackError::Truncated)?;
    let rest = &block[used..];
    if rest.len() < len {
        return Err(HpackError::Truncated);
    }
    let (text, rest) = rest.split_at(len);
    if !huffman_coded {
        out.extend_from_slice(text);
    } else if let Some(decoded) = memo.get(text) {
        out.extend_from_slice(decoded);
    } else {
        let start = out.len();
        huffman::decode(text, out).map_err(|_| HpackError::Huffman)?;
        if text.len() <= MEMO_MAX {
            memo.remember(text, &out[start..]);
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        decoder
            .decode(block, usize::MAX, |n, v| {
                fields.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ))
            })
            .unwrap();
        fields
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decodes_the_rfc_requests_with_huffman_and_the_dynamic_table() {
        // RFC 7541 C.4.1-C.4.3: three requests on one connection.
        let mut decoder = Decoder::default();
        let first = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        assert_eq!(
            decode_all(&mut decoder, &first),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
            ])
        );
        let second = [
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ];
        assert_eq!(
            decode_all(&mut decoder, &second),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
                ("cache-control", "no-cache"),
            ])
        );
        assert_eq!(decoder.table.len(), 2);
    }

    #[test]
    fn a_repeated_huffman_value_decodes_the_same_as_a_fresh_one() {
        // Literals without indexing with Huffman-coded values (RFC 7541 C.4.1 and C.4.2's):
        // "www.example.com", the same again (from the memo), "no-cache", then the first again.
        let example = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let no_cache = [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf];
        // Static names: :authority (1), and cache-control (24: 15 in the 4-bit prefix, then 9).
        let (authority, cache_control): (&[u8], &[u8]) = (&[0x01], &[0x0f, 0x09]);
        let mut block = Vec::new();
        for (name, coded) in [
            (authority, &example[..]),
            (authority, &example),
            (cache_control, &no_cache),
            (authority, &example),
        ] {
            block.extend_from_slice(name);
            block.push(0x80 | coded.len() as u8);
            block.extend_from_slice(coded);
        }
        let mut decoder = Decoder::default();
        let host = (":authority", "www.example.com");
        let cache = ("cache-control", "no-cache");
        assert_eq!(
            decode_all(&mut decoder, &block),
            pairs(&[host, host, cache, host])
        );
    }

    #[test]
    fn evicts_as_the_rfc_responses_do() {
        // RFC 7541 C.5.1 (no Huffman), with a 256-byte table.
        let mut decoder = Decoder::new(256);
        let mut block = vec![0x48, 0x03];
        block.extend_from_slice(b"302");
        block.extend_from_slice(&[0x58, 0x07]);
        block.extend_from_slice(b"private");
        block.extend_from_slice(&[0x61, 0x1d]);
        block.extend_from_slice(b"Mon, 21 Oct 2013 20:13:21 GMT");
        block.extend_from_slice(&[0x6e, 0x17]);
        block.extend_from_slice(b"https://www.example.com");
        let fields = decode_all(&mut decoder, &block);
        assert_eq!(fields[0], (":status".into(), "302".into()));
        assert_eq!(decoder.table.len(), 4);
        // C.5.2: ":status: 307" evicts the oldest entry.
        let second = [0x48, 0x03, b'3', b'0', b'7', 0xc1, 0xc0, 0xbf];
        let fields = decode_all(&mut decoder, &second);
        assert_eq!(fields[0], (":status".into(), "307".into()));
        assert_eq!(
            fields[3],
            ("location".into(), "https://www.example.com".into())
        );
        assert_eq!(decoder.table.len(), 4);
        assert_eq!(decoder.table.get(0).unwrap().1, b"307");
    }

    #[test]
    fn values_nobody_wants_are_skipped_and_the_table_stays_in_step() {
        let mut block = vec![0x88];
        // "server: x" literal without indexing (static name 54), and one indexed ("x-a: 1").
        block.extend_from_slice(&[0x0f, 0x27, 0x01, b'x']);
        block.extend_from_slice(&[0x40, 0x03, b'x', b'-', b'a', 0x01, b'1']);
        let mut decoder = Decoder::default();
        let mut seen = Vec::new();
        decoder
            .decode_some(
                &block,
                usize::MAX,
                |name| name == b":status",
                |n, v| seen.push((n.to_vec(), v.to_vec())),
            )
            .unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0], (b":status".to_vec(), b"200".to_vec()));
        assert_eq!(seen[1], (b"x-a".to_vec(), b"1".to_vec()));
        assert_eq!(decoder.table.get(0), Some((&b"x-a"[..], &b"1"[..])));
    }

    #[test]
    fn refuses_what_it_cannot_decode() {
        let mut decoder = Decoder::default();
        let ignore = |_: &[u8], _: &[u8]| {};
        assert_eq!(
            decoder.decode(&[0x80], 1 << 16, ignore),
            Err(HpackError::BadIndex)
        );
        assert_eq!(
            decoder.decode(&[0xbe], 1 << 16, ignore),
            Err(HpackError::BadIndex)
        );
        assert_eq!(
            decoder.decode(&[0x41, 0x05, b'a'], 1 << 16, ignore),
            Err(HpackError::Truncated)
        );
        // A table size update above the advertised size, and one after a field.
        assert_eq!(
            decoder.decode(&[0x3f, 0xe2, 0x1f], 1 << 16, ignore),
            Err(HpackError::TableSizeUpdate)
        );
        assert_eq!(
            decoder.decode(&[0x82, 0x20], 1 << 16, ignore),
            Err(HpackError::TableSizeUpdate)
        );
        // A list over the limit is decoded whole, its table insertions kept.
        assert_eq!(
            decoder.decode(&[0x41, 0x01, b'a', 0x82], 40, ignore),
            Err(HpackError::ListTooLarge)
        );
        assert_eq!(decoder.table.len(), 1);
    }
}
