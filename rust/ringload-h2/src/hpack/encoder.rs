//! Encodes request header blocks. Strings go out raw (no Huffman): decoding is the server's
//! cost, and after the first request on a connection most fields are one-byte references to
//! the dynamic table anyway.

use super::integer::push_integer;
use super::table::{DynamicTable, DEFAULT_TABLE_SIZE, STATIC_TABLE};

/// Values longer than this are sent without indexing: they would evict the short, repeated
/// fields that make later requests small.
const MAX_INDEXED_VALUE: usize = 256;

#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// A size the server lowered the table to, announced at the start of the next block.
    pending_size_update: Option<usize>,
    /// Counts what changes how fields encode (an insert, a size update): while it stands
    /// still, the same fields encode to the same bytes.
    changes: u64,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE),
            pending_size_update: None,
            changes: 0,
        }
    }
}

impl Encoder {
    /// The server's SETTINGS_HEADER_TABLE_SIZE. The encoder never uses more than the default,
    /// so only a smaller size changes anything (and must be acknowledged in the next block).
    pub fn set_peer_table_size(&mut self, size: usize) {
        let size = size.min(DEFAULT_TABLE_SIZE);
        if size != self.table.max_size() {
            self.table.set_max_size(size);
            self.pending_size_update = Some(size);
            self.changes += 1;
        }
    }

    /// Changes so far to what blocks encode to: a block encoded while this stays the same
    /// can be sent again as it is.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Starts a header block: announces a table size change, if one is pending.
    pub fn begin_block(&mut self, out: &mut Vec<u8>) {
        if let Some(size) = self.pending_size_update.take() {
            push_integer(out, 0x20, 5, size);
            self.changes += 1;
        }
    }

    /// Appends one field. `sensitive` fields (credentials) are never indexed, by us or by
    /// intermediaries (RFC 7541 §7.1.3).
    pub fn encode(&mut self, name: &[u8], value: &[u8], sensitive: bool, out: &mut Vec<u8>) {
        let mut name_index = 0;
        for (i, &(n, v)) in STATIC_TABLE.iter().enumerate() {
            if n == name {
                if v == value && !sensitive {
                    push_integer(out, 0x80, 7, i + 1);
                    return;
                }
                if name_index == 0 {
                    name_index = i + 1;
                }
            }
        }
        if !sensitive {
            if let Some(i) = self.table.find(name, value) {
                push_integer(out, 0x80, 7, i + 62);
                return;
            }
        }
        let index = !sensitive && value.len() <= MAX_INDEXED_VALUE;
        let (first, prefix_bits) = match (index, sensitive) {
            (true, _) => (0x40, 6),
            (false, true) => (0x10, 4),
            (false, false) => (0x00, 4),
        };
        push_integer(out, first, prefix_bits, name_index);
        if name_index == 0 {
            push_integer(out, 0, 7, name.len());
            out.extend_from_slice(name);
        }
        push_integer(out, 0, 7, value.len());
        out.extend_from_slice(value);
        if index {
            self.table.insert(name, value);
            self.changes += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    #[test]
    fn repeated_fields_become_references_the_decoder_resolves() {
        let fields: [(&[u8], &[u8]); 5] = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":authority", b"localhost:8080"),
            (b":path", b"/api/items?id=1"),
            (b"x-trace", b"abc"),
        ];
        let (mut encoder, mut decoder) = (Encoder::default(), Decoder::default());
        let mut sizes = Vec::new();
        for _ in 0..3 {
            let mut block = Vec::new();
            encoder.begin_block(&mut block);
            for (n, v) in fields {
                encoder.encode(n, v, false, &mut block);
            }
            sizes.push(block.len());
            let mut seen = Vec::new();
            decoder
                .decode(&block, usize::MAX, |n, v| {
                    seen.push((n.to_vec(), v.to_vec()))
                })
                .unwrap();
            let expected: Vec<_> = fields
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(seen, expected);
        }
        // After the first block every field is one byte.
        assert_eq!(sizes[1], 5);
        assert_eq!(sizes[2], 5);
    }

    #[test]
    fn a_smaller_peer_table_is_announced_and_sensitive_values_never_indexed() {
        let (mut encoder, mut decoder) = (Encoder::default(), Decoder::default());
        encoder.set_peer_table_size(0);
        let mut block = Vec::new();
        encoder.begin_block(&mut block);
        encoder.encode(b"authorization", b"Bearer x", true, &mut block);
        encoder.encode(b"x-a", b"1", false, &mut block);
        assert_eq!(block[0], 0x20);
        assert_eq!(block[1] & 0xf0, 0x10);
        let mut seen = 0;
        decoder
            .decode(&block, usize::MAX, |_, _| seen += 1)
            .unwrap();
        assert_eq!(seen, 2);
        assert_eq!(encoder.table.len(), 0);
    }
}
