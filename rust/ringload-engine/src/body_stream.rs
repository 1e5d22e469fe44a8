//! A streamed response body (`stream=True` in the Python package): the engine thread appends
//! what arrives, the caller's thread takes it when it likes, and a caller that found nothing
//! leaves a token to be woken with when more arrives or the body ends.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::client::ClientFailure;

/// Shared between the engine thread (writer) and the caller (reader).
#[derive(Debug, Default)]
pub struct BodyStream {
    state: Mutex<StreamState>,
}

#[derive(Debug, Default)]
struct StreamState {
    /// Received; the bytes from `taken` on are not taken yet.
    unread: Vec<u8>,
    taken: usize,
    /// The reader is gone: what arrives is dropped and the exchange ends.
    cancelled: bool,
    /// Bytes received so far, whether taken or not.
    received: u64,
    done: bool,
    /// Why the body ended early; reported to the reader once the unread bytes are taken.
    failure: Option<ClientFailure>,
    /// The token a waiting reader is woken with.
    reader: Option<u64>,
    /// The response head went to the caller; the request's end is the body's end.
    head_sent: bool,
}

/// What a reader finds.
#[derive(Debug)]
pub enum Taken {
    Bytes(Vec<u8>),
    /// Nothing yet: wait ([`BodyStream::wait`]) and look again.
    Nothing,
    /// The body is complete and every byte was taken.
    End,
    Failed(ClientFailure),
}

impl BodyStream {
    pub fn new() -> Arc<BodyStream> {
        Arc::default()
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to `max` unread bytes (all of them when `max` is `None`).
    pub fn take(&self, max: Option<usize>) -> Taken {
        let mut state = self.state();
        let available = state.unread.len() - state.taken;
        if available > 0 {
            let n = max.map_or(available, |max| max.min(available));
            let start = state.taken;
            let bytes = state.unread[start..start + n].to_vec();
            state.taken += n;
            // Taking in small pieces must not copy what is left each time: compact only once
            // the taken part is most of the buffer.
            if state.taken == state.unread.len() {
                state.unread.clear();
                state.taken = 0;
            } else if state.taken > state.unread.len() / 2 {
                let taken = state.taken;
                state.unread.drain(..taken);
                state.taken = 0;
            }
            return Taken::Bytes(bytes);
        }
        if let Some(failure) = state.failure.clone() {
            return Taken::Failed(failure);
        }
        if state.done {
            Taken::End
        } else {
            Taken::Nothing
        }
    }

    /// Leaves `token` to be woken with; false when there is already something to take (then
    /// nothing is left and the caller should look again at once).
    pub fn wait(&self, token: u64) -> bool {
        let mut state = self.state();
        if state.unread.len() > state.taken || state.done || state.failure.is_some() {
            return false;
        }
        state.reader = Some(token);
        true
    }

    /// Forgets a waiting reader (it gave up).
    pub fn forget(&self, token: u64) {
        let mut state = self.state();
        if state.reader == Some(token) {
            state.reader = None;
        }
    }

    /// The reader is gone (the response was closed or dropped): the engine drops what else
    /// arrives and ends the exchange, closing the connection, unless the body already ended.
    pub fn cancel(&self) {
        let mut state = self.state();
        state.cancelled = true;
        state.unread = Vec::new();
        state.taken = 0;
    }

    /// Engine side: the reader is gone.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state().cancelled
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.state().received
    }

    pub(crate) fn mark_head_sent(&self) {
        self.state().head_sent = true;
    }

    pub(crate) fn head_sent(&self) -> bool {
        self.state().head_sent
    }

    /// Engine side: more of the body; returns the reader to wake, if one waits.
    pub(crate) fn push(&self, data: &[u8]) -> Option<u64> {
        let mut state = self.state();
        state.received += data.len() as u64;
        if !state.cancelled {
            state.unread.extend_from_slice(data);
        }
        state.reader.take()
    }

    /// Engine side: the body ended, completely or with `failure`; returns the reader to wake.
    pub(crate) fn finish(&self, failure: Option<ClientFailure>) -> Option<u64> {
        let mut state = self.state();
        state.done = true;
        state.failure = failure;
        state.reader.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_takes_what_arrived_and_is_woken_for_more() {
        let stream = BodyStream::new();
        assert!(matches!(stream.take(None), Taken::Nothing));
        assert!(stream.wait(7));
        assert_eq!(stream.push(b"hello "), Some(7));
        assert_eq!(stream.push(b"world"), None, "woken once");
        assert!(!stream.wait(8), "something to take: no wait");
        assert!(matches!(stream.take(Some(3)), Taken::Bytes(b) if b == b"hel"));
        assert!(matches!(stream.take(Some(2)), Taken::Bytes(b) if b == b"lo"));
        assert!(matches!(stream.take(None), Taken::Bytes(b) if b == b" world"));
        assert!(stream.wait(9));
        assert_eq!(stream.finish(None), Some(9));
        assert!(matches!(stream.take(None), Taken::End));
        assert_eq!(stream.received(), 11);
    }

    #[test]
    fn a_cancelled_stream_keeps_nothing() {
        let stream = BodyStream::new();
        stream.push(b"kept until cancelled");
        stream.cancel();
        assert!(stream.is_cancelled());
        stream.push(b"dropped");
        assert!(matches!(stream.take(None), Taken::Nothing));
        assert_eq!(stream.received(), 27);
    }
}
