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
    /// Received and not yet taken.
    unread: Vec<u8>,
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
        if !state.unread.is_empty() {
            let n = max.map_or(state.unread.len(), |max| max.min(state.unread.len()));
            let rest = state.unread.split_off(n);
            return Taken::Bytes(std::mem::replace(&mut state.unread, rest));
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
        if !state.unread.is_empty() || state.done || state.failure.is_some() {
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
        state.unread.extend_from_slice(data);
        state.received += data.len() as u64;
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
        assert!(matches!(stream.take(None), Taken::Bytes(b) if b == b"lo world"));
        assert!(stream.wait(9));
        assert_eq!(stream.finish(None), Some(9));
        assert!(matches!(stream.take(None), Taken::End));
        assert_eq!(stream.received(), 11);
    }
}
