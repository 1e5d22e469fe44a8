//! A streamed response body (`stream=True` in the Python package): the engine thread appends
//! what arrives, the caller's thread takes it when it likes, and a caller that found nothing
//! leaves a token to be woken with when more arrives or the body ends.
//!
//! Back-pressure: once [`MAX_UNREAD_STREAM_BYTES`] wait unread, the engine stops reading the
//! socket (the server's sends then block in TCP) until the reader has taken half of them.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::failure::ClientFailure;

/// The most of a streamed body the engine holds for a reader that has not taken it: past it,
/// the socket is not read until the reader has taken it down to half. The exchange's last read
/// may add up to one read buffer (16 KiB) beyond it.
pub const MAX_UNREAD_STREAM_BYTES: usize = 1024 * 1024;

/// Wakes the engine thread from the reader's thread, so that it resumes reading a body whose
/// reader has caught up.
#[derive(Clone)]
pub(crate) struct EngineWaker(pub(crate) Arc<dyn Fn() + Send + Sync>);

impl fmt::Debug for EngineWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineWaker")
    }
}

/// Shared between the engine thread (writer) and the caller (reader).
#[derive(Debug, Default)]
pub struct BodyStream {
    state: Mutex<StreamState>,
    /// Called when the reader has caught up with a paused engine.
    resume: Option<EngineWaker>,
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
    /// The tokens waiting readers are woken with (several greenlets may read one body).
    readers: Vec<u64>,
    /// The response head went to the caller; the request's end is the body's end.
    head_sent: bool,
    /// The engine stopped reading: too much is unread ([`MAX_UNREAD_STREAM_BYTES`]).
    paused: bool,
}

impl StreamState {
    fn unread_len(&self) -> usize {
        self.unread.len() - self.taken
    }
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

    /// A stream whose engine, once paused, `resume` wakes.
    pub(crate) fn with_resume(resume: EngineWaker) -> Arc<BodyStream> {
        Arc::new(BodyStream {
            state: Mutex::default(),
            resume: Some(resume),
        })
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to `max` unread bytes (all of them when `max` is `None`).
    pub fn take(&self, max: Option<usize>) -> Taken {
        let (taken, resume) = self.take_locked(max);
        if resume {
            if let Some(resume) = &self.resume {
                (resume.0)();
            }
        }
        taken
    }

    /// [`BodyStream::take`] under the lock; also whether the paused engine should resume now.
    fn take_locked(&self, max: Option<usize>) -> (Taken, bool) {
        let mut state = self.state();
        let available = state.unread_len();
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
            // Resuming at half, not just below the bound, lets the engine read a good part
            // before it pauses again, rather than wake for every small take.
            let resume = state.paused && state.unread_len() <= MAX_UNREAD_STREAM_BYTES / 2;
            if resume {
                state.paused = false;
            }
            return (Taken::Bytes(bytes), resume);
        }
        let taken = if let Some(failure) = state.failure.clone() {
            Taken::Failed(failure)
        } else if state.done {
            Taken::End
        } else {
            Taken::Nothing
        };
        (taken, false)
    }

    /// Leaves `token` to be woken with; false when there is already something to take (then
    /// nothing is left and the caller should look again at once).
    pub fn wait(&self, token: u64) -> bool {
        let mut state = self.state();
        if state.unread_len() > 0 || state.done || state.failure.is_some() {
            return false;
        }
        state.readers.push(token);
        true
    }

    /// Forgets a waiting reader (it gave up).
    pub fn forget(&self, token: u64) {
        self.state().readers.retain(|&reader| reader != token);
    }

    /// The reader is gone (the response was closed or dropped): the engine drops what else
    /// arrives and ends the exchange, closing the connection, unless the body already ended.
    pub fn cancel(&self) {
        let mut state = self.state();
        state.cancelled = true;
        state.unread = Vec::new();
        state.taken = 0;
        state.paused = false;
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

    /// Engine side: more of the body; returns the readers to wake.
    pub(crate) fn push(&self, data: &[u8]) -> Vec<u64> {
        let mut state = self.state();
        state.received += data.len() as u64;
        if !state.cancelled {
            state.unread.extend_from_slice(data);
        }
        std::mem::take(&mut state.readers)
    }

    /// Engine side: the body ended, completely or with `failure`; returns the readers to wake.
    pub(crate) fn finish(&self, failure: Option<ClientFailure>) -> Vec<u64> {
        let mut state = self.state();
        state.done = true;
        state.failure = failure;
        std::mem::take(&mut state.readers)
    }

    /// Engine side, before reading more: true when the reader is too far behind, and the
    /// engine must wait until [`BodyStream::is_paused`] turns false (the reader's take wakes
    /// it through the stream's [`EngineWaker`]).
    pub(crate) fn pause_if_full(&self) -> bool {
        let mut state = self.state();
        state.paused = !state.cancelled && state.unread_len() >= MAX_UNREAD_STREAM_BYTES;
        state.paused
    }

    /// Engine side: still waiting for the reader to catch up.
    pub(crate) fn is_paused(&self) -> bool {
        self.state().paused
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
        assert_eq!(stream.push(b"hello "), [7]);
        assert!(stream.push(b"world").is_empty(), "woken once");
        assert!(!stream.wait(8), "something to take: no wait");
        assert!(matches!(stream.take(Some(3)), Taken::Bytes(b) if b == b"hel"));
        assert!(matches!(stream.take(Some(2)), Taken::Bytes(b) if b == b"lo"));
        assert!(matches!(stream.take(None), Taken::Bytes(b) if b == b" world"));
        assert!(stream.wait(9));
        assert_eq!(stream.finish(None), [9]);
        assert!(matches!(stream.take(None), Taken::End));
        assert_eq!(stream.received(), 11);
    }

    #[test]
    fn every_waiting_reader_is_woken_and_one_that_gave_up_is_not() {
        let stream = BodyStream::new();
        assert!(stream.wait(1) && stream.wait(2) && stream.wait(3));
        stream.forget(2);
        assert_eq!(stream.push(b"x"), [1, 3]);
        assert!(matches!(stream.take(Some(1)), Taken::Bytes(b) if b == b"x"));
        assert!(stream.wait(4));
        assert_eq!(stream.finish(None), [4]);
    }

    #[test]
    fn the_engine_pauses_at_the_bound_and_resumes_when_the_reader_took_half() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = wakes.clone();
        let stream = BodyStream::with_resume(EngineWaker(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })));
        let block = vec![7u8; MAX_UNREAD_STREAM_BYTES / 4];
        for _ in 0..3 {
            stream.push(&block);
            assert!(!stream.pause_if_full());
        }
        stream.push(&block);
        assert!(stream.pause_if_full() && stream.is_paused());
        // Taking a little does not wake the engine; taking it down to half does, once.
        assert!(matches!(stream.take(Some(1024)), Taken::Bytes(_)));
        assert!(stream.is_paused());
        assert_eq!(wakes.load(Ordering::SeqCst), 0);
        assert!(matches!(
            stream.take(Some(block.len() * 2)),
            Taken::Bytes(_)
        ));
        assert!(!stream.is_paused());
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert!(matches!(stream.take(None), Taken::Bytes(_)));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_cancelled_stream_never_pauses() {
        let stream = BodyStream::new();
        stream.push(&vec![0u8; MAX_UNREAD_STREAM_BYTES]);
        assert!(stream.pause_if_full());
        stream.cancel();
        assert!(!stream.is_paused());
        stream.push(&vec![0u8; MAX_UNREAD_STREAM_BYTES]);
        assert!(!stream.pause_if_full());
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
