//! The queues between callers and the client thread, and their wake-ups: jobs in ([`Inbox`], a
//! socketpair byte), completions out ([`Outbox`], an eventfd), and the thread-local [`LocalNotify`].

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::request::ClientRequest;
use super::response::Completion;
use crate::sys::EventFd;

pub(crate) enum Command {
    Request(Box<ClientRequest>),
    /// The caller gave up on this request (its greenlet was killed): if it has not been taken
    /// up yet, it is not sent.
    Cancel(u64),
    CloseSession(u64),
    /// A helper thread's answer for a host name ([`crate::net::resolve`]).
    Resolved {
        host: String,
        port: u16,
        answer: io::Result<Vec<SocketAddr>>,
    },
}

/// Jobs handed from callers to the engine thread.
pub(crate) struct Inbox {
    pub(crate) jobs: Mutex<Vec<Command>>,
    /// The engine thread has been woken and will look at `jobs` again.
    pub(crate) notified: AtomicBool,
    /// Writing one byte here wakes the engine thread.
    pub(crate) wake: StdUnixStream,
    pub(crate) closed: AtomicBool,
}

impl Inbox {
    /// Queues a command without waking the engine: callers batch, then [`Inbox::wake`] once.
    pub(crate) fn push(&self, command: Command) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client is closed",
            ));
        }
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(command);
        Ok(())
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        if !self.notified.swap(true, Ordering::AcqRel) {
            match (&self.wake).write(&[1]) {
                Ok(_) => {}
                // The socket buffer is full of wake bytes: the engine is awake anyway.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Results handed from the engine thread to callers.
pub(crate) struct Outbox {
    pub(crate) done: Mutex<Vec<Completion>>,
    /// Readable while completions wait.
    pub(crate) event: EventFd,
}

impl Outbox {
    /// Publishes a batch of completions, signalling the eventfd only if nothing was waiting.
    pub(crate) fn publish(&self, batch: &mut Vec<Completion>) {
        if batch.is_empty() {
            return;
        }
        let was_empty = {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = done.is_empty();
            done.append(batch);
            was_empty
        };
        if was_empty {
            // Fails only at a counter of 2^64 - 2, which one signal per empty queue never
            // reaches.
            let signalled = self.event.signal();
            debug_assert!(signalled.is_ok(), "{signalled:?}");
        }
    }

    pub(crate) fn drain(&self, into: &mut Vec<Completion>) {
        // Reset the eventfd before taking the queue: a completion pushed after the swap finds
        // the queue empty and signals again, so none waits unseen.
        // Nothing to read (no signal since the last drain) is not an error; no other failure
        // happens to an open eventfd.
        let reset = self.event.reset();
        debug_assert!(reset.is_ok(), "{reset:?}");
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        into.append(&mut done);
    }
}

/// A single-threaded "something happened" signal for one waiting task.
#[derive(Default)]
pub(crate) struct LocalNotify {
    pub(crate) notified: std::cell::Cell<bool>,
    pub(crate) waker: RefCell<Option<std::task::Waker>>,
}

impl LocalNotify {
    pub(crate) fn notify(&self) {
        if !self.notified.replace(true) {
            if let Some(waker) = self.waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }

    /// Resolves once `notify` has been called since the last `wait`.
    pub(crate) fn wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.notified.replace(false) {
                std::task::Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
    }
}
