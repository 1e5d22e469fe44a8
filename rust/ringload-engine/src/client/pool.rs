//! Keep-alive pools: one per session and origin, the idle connections, the open count, and the
//! requests waiting for a connection.

use std::cell::RefCell;
use std::io::{self};
use std::rc::Rc;
use std::time::Instant;

use super::mailbox::LocalNotify;
use super::request::ClientRequest;
use crate::error::{ErrorKind, Failure};
use crate::net::any_stream::AnyStream;
use crate::proto::h1::conn::Connection;

pub(crate) type Pooled = Connection<AnyStream>;
pub(crate) type HostPort = (String, u16);

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) session: u64,
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// [`ClientTls::pool_id`]: a connection made with one TLS configuration is not reused
    /// for another.
    pub(crate) tls: u64,
    /// The proxy's id, 0 for none.
    pub(crate) proxy: u64,
}

/// One session's connections to one origin: the idle ones, how many are open (busy or idle),
/// and the requests waiting for one when that reaches the session's limit.
#[derive(Default)]
pub(crate) struct Pool {
    pub(crate) idle: Vec<Pooled>,
    pub(crate) open: usize,
    pub(crate) waiting: std::collections::VecDeque<Rc<LocalNotify>>,
    /// The session's pools were closed: connections that come back are closed, not kept.
    pub(crate) closed: bool,
}

impl Pool {
    /// Someone is still waiting (a waiter that timed out has dropped its handle).
    pub(crate) fn has_waiters(&mut self) -> bool {
        while let Some(front) = self.waiting.front() {
            if Rc::strong_count(front) > 1 {
                return true;
            }
            self.waiting.pop_front();
        }
        false
    }

    /// Wakes the first waiter still waiting (one that timed out has dropped its handle).
    pub(crate) fn wake_one(&mut self) {
        while let Some(waiter) = self.waiting.pop_front() {
            if Rc::strong_count(&waiter) > 1 {
                waiter.notify();
                return;
            }
        }
    }
}

/// A request's claim on one of its pool's open connections. Dropped without
/// [`Slot::give_back`] (an error, a closed connection), it frees the claim for a waiter.
pub(crate) struct Slot {
    pub(crate) pool: Rc<RefCell<Pool>>,
    pub(crate) held: bool,
}

impl Slot {
    /// An idle connection, or the right to dial one, waiting while the limit is reached
    /// (within the request's timeout, which the wait counts toward, as in Locust).
    pub(crate) async fn take(
        pool: &Rc<RefCell<Pool>>,
        request: &ClientRequest,
        started: Instant,
    ) -> Result<(Slot, Option<Pooled>), Failure> {
        // A request that was woken has its turn; a newcomer queues behind those still waiting.
        let mut woken = false;
        loop {
            let waiter = {
                let mut state = pool.borrow_mut();
                let my_turn = woken || !state.has_waiters();
                let unlimited = request.max_connections == 0 || state.closed;
                let idle = if my_turn { state.idle.pop() } else { None };
                if idle.is_some() || unlimited || (my_turn && state.open < request.max_connections)
                {
                    if idle.is_none() {
                        state.open += 1;
                    }
                    let slot = Slot {
                        pool: pool.clone(),
                        held: true,
                    };
                    return Ok((slot, idle));
                }
                let waiter = Rc::new(LocalNotify::default());
                state.waiting.push_back(waiter.clone());
                waiter
            };
            let remaining = request.timeout.saturating_sub(started.elapsed());
            if monoio::time::timeout(remaining, waiter.wait())
                .await
                .is_err()
            {
                return Err(Failure::new(
                    ErrorKind::Timeout,
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "timed out waiting for a free connection: all {} allowed to this host \
                             were busy (raise the user's concurrency, or its client_pool's)",
                            request.max_connections
                        ),
                    ),
                ));
            }
            woken = true;
        }
    }

    /// The connection may carry another request: it goes back to the pool, still open.
    pub(crate) fn give_back(&mut self, mut conn: Pooled) {
        let mut state = self.pool.borrow_mut();
        if state.closed {
            return; // dropped with the slot: the connection closes and frees its place
        }
        // A Locust user waits seconds between requests: idle, its connection keeps no buffers,
        // so thousands of users cost little more than their sockets.
        conn.release_buffers();
        if state.idle.capacity() == 0 {
            state.idle.reserve_exact(1); // most users hold one connection per origin
        }
        state.idle.push(conn);
        state.wake_one();
        self.held = false;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.held {
            let mut state = self.pool.borrow_mut();
            state.open = state.open.saturating_sub(1);
            state.wake_one();
        }
    }
}
