//! Reading one response into a [`ClientResponse`] ([`Capture`]), or streaming its body to the
//! caller ([`Streaming`]), and the deadline every exchange runs under.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::body_stream::BodyStream;
use super::decode::decode_body;
use super::mailbox::LocalNotify;
use super::request::ClientRequest;
use super::response::{ClientResponse, Outcome, ResponseHeaders};
use crate::error::Failure;
use crate::proto::Responses;
use crate::proto::{ResponseEnd, ResponseSink};
use crate::runtime::micros;

/// What a streamed exchange needs of the client thread: publishing a completion, and parking
/// the exchange until the body's reader catches up.
pub(crate) trait StreamingHost {
    /// Queues a completion; the flusher publishes this pass's together.
    fn publish(&self, token: u64, outcome: Outcome);
    /// Parks the exchange of `body` until `resumed` is notified (the reader took enough).
    fn pause(&self, body: Arc<BodyStream>, resumed: Rc<LocalNotify>);
}

/// How often a streamed exchange looks whether its reader is gone.
pub(crate) const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Why [`until_deadline`] gave up.
pub(crate) enum Stopped {
    TimedOut,
    /// A streamed body's reader went away.
    Cancelled,
}

/// Runs `future` until it completes or `deadline` passes, following a deadline that moves;
/// a streamed exchange also stops soon after its reader cancels.
///
/// `future` comes pinned by the caller: moved in, it would be stored twice in this one's state
/// (as the argument and pinned), a kilobyte more for every request in flight.
pub(crate) async fn until_deadline<F: std::future::Future>(
    deadline: &Cell<Instant>,
    body: Option<&Arc<BodyStream>>,
    mut future: std::pin::Pin<&mut F>,
) -> Result<F::Output, Stopped> {
    loop {
        let until = deadline.get();
        let wake_at = match body {
            // Paused, the deadline does not run: only look for a cancel now and then.
            Some(body) if body.is_paused() => Instant::now() + CANCEL_CHECK,
            Some(_) => until.min(Instant::now() + CANCEL_CHECK),
            None => until,
        };
        match monoio::time::timeout_at(monoio::time::Instant::from_std(wake_at), &mut future).await
        {
            Ok(output) => return Ok(output),
            Err(_) if body.is_some_and(|body| body.is_cancelled()) => {
                return Err(Stopped::Cancelled)
            }
            // Not reading because the reader is behind: the server is not late. The wait
            // starts again when reading resumes.
            Err(_) if body.is_some_and(|body| body.is_paused()) => continue,
            Err(_) if deadline.get() > until || wake_at < until => continue,
            Err(_) => return Err(Stopped::TimedOut),
        }
    }
}

/// Where a streamed response goes as it arrives.
pub(crate) struct Streaming<'a> {
    pub(crate) engine: &'a dyn StreamingHost,
    pub(crate) token: u64,
    pub(crate) body: Arc<BodyStream>,
    pub(crate) started: Instant,
    pub(crate) reused: bool,
    pub(crate) deadline: Rc<Cell<Instant>>,
    /// Each wait for more of the body may take this long.
    pub(crate) idle_timeout: Duration,
}

impl Streaming<'_> {
    /// Back-pressure: while the reader leaves too much unread, the socket is not read; the
    /// reader's take wakes the engine thread, which resumes this exchange.
    pub(crate) async fn wait_for_reader(&self) {
        if !self.body.pause_if_full() {
            return;
        }
        let resumed = Rc::new(LocalNotify::default());
        self.engine.pause(self.body.clone(), resumed.clone());
        resumed.wait().await;
        // The wait for more of the body starts now: the pause was the reader's, not the server's.
        self.deadline.set(Instant::now() + self.idle_timeout);
    }
}

/// Keeps the head and body of the one response an exchange reads.
#[derive(Default)]
pub(crate) struct Capture<'a> {
    /// Set for `stream=True`: the head is published at once and the body handed on.
    pub(crate) streaming: Option<Streaming<'a>>,
    pub(crate) is_head: bool,
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: ResponseHeaders,
    pub(crate) body: Vec<u8>,
    pub(crate) head_at: Option<Instant>,
}

impl<'a> Responses for Capture<'a> {
    type Sink = Capture<'a>;

    fn len(&self) -> usize {
        1
    }

    fn is_head(&self, _: usize) -> bool {
        self.is_head
    }

    fn sink(&mut self, _: usize) -> &mut Capture<'a> {
        self
    }

    fn complete(&mut self, _: usize, end: ResponseEnd) {
        self.status = end.status;
    }
}

impl ResponseSink for Capture<'_> {
    fn header(&mut self, name: &str, value: &[u8]) {
        self.headers.push(name, value);
    }

    fn discard_headers(&mut self) {
        self.headers.clear();
    }

    fn reason(&mut self, phrase: &[u8]) {
        self.reason = phrase.iter().map(|&b| b as char).collect();
    }

    fn head_complete(&mut self, status: u16) {
        let now = Instant::now();
        self.head_at = Some(now);
        if let Some(streaming) = &self.streaming {
            streaming.deadline.set(now + streaming.idle_timeout);
            streaming.body.mark_head_sent();
            let head_us = micros(now.saturating_duration_since(streaming.started));
            let response = ClientResponse {
                status,
                reason: std::mem::take(&mut self.reason),
                headers: std::mem::take(&mut self.headers),
                head_us,
                total_us: head_us,
                reused_connection: streaming.reused,
                stream: Some(streaming.body.clone()),
                ..ClientResponse::default()
            };
            streaming
                .engine
                .publish(streaming.token, Outcome::Response(response));
        }
    }

    fn body(&mut self, data: &[u8]) {
        match &self.streaming {
            None => self.body.extend_from_slice(data),
            Some(streaming) => {
                streaming
                    .deadline
                    .set(Instant::now() + streaming.idle_timeout);
                for reader in streaming.body.push(data) {
                    streaming.engine.publish(reader, Outcome::BodyReadable);
                }
            }
        }
    }

    async fn ready_for_more(&mut self) {
        if let Some(streaming) = &self.streaming {
            streaming.wait_for_reader().await;
        }
    }
}

impl Capture<'_> {
    pub(crate) fn finish(
        self,
        request: &ClientRequest,
        reused: bool,
        started: Instant,
    ) -> Result<ClientResponse, Failure> {
        let done = Instant::now();
        let head_at = self.head_at.unwrap_or(done);
        let wire_body_len = self.body.len();
        let body = if request.decode {
            decode_body(&self.headers, self.body)?
        } else {
            self.body
        };
        Ok(ClientResponse {
            status: self.status,
            reason: self.reason,
            headers: self.headers,
            body,
            wire_body_len,
            head_us: micros(head_at.saturating_duration_since(started)),
            total_us: micros(done.saturating_duration_since(started)),
            reused_connection: reused,
            stream: None,
        })
    }
}
