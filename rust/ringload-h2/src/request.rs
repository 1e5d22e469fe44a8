//! A request as the client sends it: its header fields, ready for HPACK.

/// A request's header fields, pseudo-fields first, as the client sends them. Names are lower
/// case; what HTTP/2 forbids (connection-specific fields) is the caller's to leave out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: Vec<u8>,
    pub(crate) value: Vec<u8>,
    /// Never indexed (credentials).
    pub(crate) sensitive: bool,
}

impl Clone for Field {
    fn clone(&self) -> Self {
        Field {
            name: self.name.clone(),
            value: self.value.clone(),
            sensitive: self.sensitive,
        }
    }

    /// Reuses the buffers: a templated request's head is copied into the same scratch head
    /// for every send.
    fn clone_from(&mut self, source: &Self) {
        self.name.clone_from(&source.name);
        self.value.clone_from(&source.value);
        self.sensitive = source.sensitive;
    }
}

impl Clone for RequestHead {
    fn clone(&self) -> Self {
        RequestHead {
            fields: self.fields.clone(),
        }
    }
}

impl RequestHead {
    pub fn new(method: &[u8], scheme: &[u8], authority: &[u8], path: &[u8]) -> RequestHead {
        let mut head = RequestHead::default();
        head.push(b":method", method);
        head.push(b":scheme", scheme);
        head.push(b":authority", authority);
        head.push(b":path", path);
        head
    }

    /// Adds a field (lower-case name).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let sensitive = matches!(name, b"authorization" | b"proxy-authorization" | b"cookie");
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            sensitive,
        });
    }

    /// Every field, pseudo-fields first.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|f| (&f.name[..], &f.value[..]))
    }

    /// The value of field `index` (in [`Self::fields`] order), to be rewritten in place.
    pub fn value_mut(&mut self, index: usize) -> &mut Vec<u8> {
        &mut self.fields[index].value
    }

    /// Becomes a copy of `source`, reusing this head's buffers.
    pub fn copy_from(&mut self, source: &RequestHead) {
        self.fields.clone_from(&source.fields);
    }
}
