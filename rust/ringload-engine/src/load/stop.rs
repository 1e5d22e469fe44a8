//! Ending a run early: Ctrl-C or SIGTERM in the CLI, `StopHandle.set()` in Python.
//!
//! A stop ends the run at once, as the deadline does: requests in flight are counted aborted
//! and the report covers what was measured. Workers spend their time inside the kernel (an
//! io_uring wait, a timer), so a flag alone would be seen only at their next wake-up, up to a
//! request timeout later against a server that hangs. The coordinator, which looks at the flag
//! every [`STOP_POLL`], relays it to each worker through a socket the worker watches
//! ([`WorkerStop`]). The same line tells a worker that the run's live connection count changed
//! ([`crate::load::Run::set_connections`]): the watcher reads each wake-up and looks at the stop
//! flag first.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the coordinator looks whether a stop was requested: how late a worker hears it.
pub(crate) const STOP_POLL: Duration = Duration::from_millis(20);

/// The request to stop a run. Setting it is safe in a signal handler (one atomic store).
#[derive(Debug, Default)]
pub struct StopSignal {
    requested: AtomicBool,
}

impl StopSignal {
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
    }

    pub fn is_requested(&self) -> bool {
        // Read-only until the stop, so workers reading it per request cost no cache traffic.
        self.requested.load(Ordering::Relaxed)
    }
}

/// One worker's stop line: the coordinator writes a byte into `notify` and the worker's watcher,
/// waiting for `watched` to become readable, wakes. The worker also writes it itself at its end,
/// so the watcher's wait completes before the runtime goes (an io_uring operation still in
/// flight then would keep its descriptor open).
pub(crate) struct WorkerStop {
    pub notify: UnixStream,
    pub watched: UnixStream,
}

impl WorkerStop {
    pub fn new() -> io::Result<WorkerStop> {
        let (notify, watched) = UnixStream::pair()?;
        notify.set_nonblocking(true)?;
        watched.set_nonblocking(true)?;
        Ok(WorkerStop { notify, watched })
    }
}

/// Wakes the watcher of `notify`'s worker: one byte, which the watcher reads.
pub(crate) fn wake_watcher(notify: &UnixStream) {
    wake_watcher_with(notify, 1);
}

/// The byte that also tells a worker that native users were removed.
pub(crate) const USERS_LEFT: u8 = b'-';

/// Wakes the watcher of `notify`'s worker with `byte`.
pub(crate) fn wake_watcher_with(notify: &UnixStream, byte: u8) {
    // The only possible failure is a full buffer, which means it was woken already; a
    // watcher that finds a full buffer reads every byte in it, so [`USERS_LEFT`] is not lost
    // unless the buffer holds 200 kB of wake-ups.
    let _ = (&*notify).write(&[byte]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn readable(s: &UnixStream) -> bool {
        let mut poll = libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout only looks.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn a_woken_watcher_stays_readable() {
        let line = WorkerStop::new().unwrap();
        assert!(!readable(&line.watched));
        wake_watcher(&line.notify);
        wake_watcher(&line.notify);
        assert!(readable(&line.watched));
        assert!(readable(&line.watched), "looking does not consume it");
    }

    #[test]
    fn the_signal_is_seen_once_requested() {
        let stop = StopSignal::default();
        assert!(!stop.is_requested());
        stop.request();
        assert!(stop.is_requested());
    }
}
