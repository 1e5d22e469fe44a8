//! The request/response client behind the Python package: one background thread runs a monoio
//! runtime with keep-alive pools per session; callers submit requests from any thread and collect
//! completions without blocking.
//!
//! Wake-ups cross threads through file descriptors, never through locks held while waiting:
//! - submit: the job goes into a queue and, only if the engine thread has not been told yet, one
//!   byte into a socketpair the engine reads asynchronously;
//! - complete: the result goes into a queue and, only if that queue was empty, an eventfd is
//!   signalled. A gevent hub (or any event loop) watches that fd and drains all results at once.

pub mod body_stream;
mod capture;
mod decode;
mod failure;
mod mailbox;
mod pool;
mod request;
mod response;
mod thread;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::net::resolve::{Resolve, SystemResolver};
use crate::runtime::IoMode;
use crate::sys::EventFd;
use mailbox::{Command, Inbox, Outbox};
use thread::engine_main;

pub use decode::MAX_DECODED_BODY_BYTES;
pub use failure::ClientFailure;
pub use request::{ClientRequest, ClientTls, CustomTls};
pub use response::{ClientResponse, Completion, Outcome, ResponseHeaders};

/// Handle to the engine thread. Dropping it stops the thread and closes every connection.
pub struct Client {
    inbox: Arc<Inbox>,
    outbox: Arc<Outbox>,
    thread: Option<std::thread::JoinHandle<()>>,
    io: &'static str,
}

impl Client {
    /// Starts the engine thread. It inherits the process's CPU affinity (`taskset`).
    pub fn start(io: IoMode) -> io::Result<Client> {
        Client::start_with_resolver(io, Arc::new(SystemResolver))
    }

    /// [`Client::start`] with host names looked up by `resolver` (on helper threads, never on
    /// the engine thread).
    pub fn start_with_resolver(io: IoMode, resolver: Arc<dyn Resolve>) -> io::Result<Client> {
        let (use_uring, _) = crate::runtime::choose_io(io).map_err(io::Error::other)?;
        let (wake_tx, wake_rx) = StdUnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let event = EventFd::new()?;
        let inbox = Arc::new(Inbox {
            jobs: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            wake: wake_tx,
            closed: AtomicBool::new(false),
        });
        let outbox = Arc::new(Outbox {
            done: Mutex::new(Vec::new()),
            event,
        });
        // The thread reports whether its runtime started: a client whose engine cannot run
        // must fail here, not leave the first request waiting for a thread that is gone.
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
        let thread = {
            let (inbox, outbox) = (inbox.clone(), outbox.clone());
            std::thread::Builder::new()
                .name("ringload-client".into())
                .spawn(move || {
                    prefer_caller_on_shared_core();
                    let main = engine_main(inbox.clone(), outbox, wake_rx, resolver);
                    let result = crate::runtime::run_on_runtime(use_uring, main, || {
                        let _ = started_tx.send(Ok(()));
                    });
                    if let Err(e) = result {
                        let _ = started_tx.send(Err(e));
                    }
                    // However the engine ended, later submissions fail instead of waiting.
                    inbox.closed.store(true, Ordering::Release);
                })?
        };
        let started = started_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the engine thread ended while starting")));
        if let Err(e) = started {
            let _ = thread.join();
            let hint = if e.raw_os_error() == Some(libc::EMFILE) {
                " (raise the open-file limit, e.g. `ulimit -n 65536`)"
            } else {
                ""
            };
            return Err(io::Error::new(
                e.kind(),
                format!("cannot start the I/O runtime: {e}{hint}"),
            ));
        }
        Ok(Client {
            inbox,
            outbox,
            thread: Some(thread),
            io: if use_uring { "uring" } else { "epoll" },
        })
    }

    /// `"uring"` or `"epoll"`.
    pub fn io(&self) -> &'static str {
        self.io
    }

    /// Queues a request; nothing is sent until [`Client::flush`]. Its completion arrives
    /// through [`Client::drain`]. Never blocks.
    ///
    /// Submitting and flushing separately lets a caller that serves many users in one thread
    /// wake the engine once per batch: on a shared core, waking it per request made the two
    /// threads preempt each other several times per request.
    pub fn submit(&self, request: ClientRequest) -> io::Result<()> {
        self.inbox.push(Command::Request(Box::new(request)))
    }

    /// Wakes the engine for everything submitted so far.
    pub fn flush(&self) -> io::Result<()> {
        self.inbox.wake()
    }

    /// Gives up on request `token`: one still waiting to be taken up by the engine (submitted,
    /// not yet flushed) is never sent; one already on its way completes, and its result comes
    /// as usual. Does not wake the engine: the flush that would send the request delivers it.
    pub fn cancel(&self, token: u64) -> io::Result<()> {
        self.inbox.push(Command::Cancel(token))
    }

    /// Closes the session's pooled connections.
    pub fn close_session(&self, session: u64) -> io::Result<()> {
        self.inbox.push(Command::CloseSession(session))?;
        self.inbox.wake()
    }

    /// A descriptor that is readable while completions wait (for an event loop to watch).
    pub fn completion_fd(&self) -> RawFd {
        self.outbox.event.as_raw_fd()
    }

    /// Moves every waiting completion into `into`. Never blocks.
    pub fn drain(&self, into: &mut Vec<Completion>) {
        self.outbox.drain(into);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.inbox.closed.store(true, Ordering::Release);
        // The engine sees the closed flag on its next wake-up and stops.
        self.inbox.notified.store(false, Ordering::Release);
        let _ = self.inbox.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine thread often shares a core with the Python thread that feeds it (one process per
/// core). As SCHED_BATCH it does not preempt that thread each time a response arrives; it runs
/// when the caller parks, and then handles everything that arrived meanwhile in one pass.
/// Response times are measured here, so the batching does not change them. Best effort.
fn prefer_caller_on_shared_core() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes only the calling thread's policy; param is a valid sched_param.
    unsafe {
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}
