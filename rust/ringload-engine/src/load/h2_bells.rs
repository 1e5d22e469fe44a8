//! How the two halves of an HTTP/2 connection, its writer and its reader (both futures of one
//! task), wake each other.

use std::cell::{Cell, RefCell};
use std::task::{Poll, Waker};

/// Wakes a future of the same task. A ring with nobody waiting is kept for the next wait.
#[derive(Default)]
pub(crate) struct Bell {
    rung: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Bell {
    pub fn ring(&self) {
        self.rung.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.rung.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// How the writer and the reader of a connection wake each other.
#[derive(Default)]
pub(crate) struct Bells {
    /// To the writer: streams were freed, or frames were queued to send.
    pub to_writer: Bell,
    /// To the reader: a stream opened with nothing in flight (its timeout is the one to watch).
    pub rearm: Bell,
    /// To the reader: a write went out (the acknowledgements it owed with it).
    pub drained: Bell,
}
