//! Microsecond wake-ups for the open model's schedule.
//!
//! monoio's timer wheel ticks in milliseconds, and epoll's own timeout does too, so a request
//! due at 12.3 ms would leave at 13 ms: at sub-millisecond response times that wait dominated
//! the corrected latency. Instead, a worker's connections wait for their due times on one
//! `timerfd` (`CLOCK_MONOTONIC`, nanosecond resolution, no timer slack), always armed for the
//! earliest waiter and read by the runtime like any other file: io_uring or epoll, no spinning.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monoio::buf::VecBuf;
use monoio::io::AsyncReadRent;

/// One worker's timer for due times. Single-threaded: shared by the worker's connections.
pub(crate) struct Pacer {
    /// The timerfd, for arming; the reading task owns (and finally closes) it.
    timer: RawFd,
    /// Tasks waiting for a due time, earliest first. The schedule hands out due times in
    /// order, so inserting is nearly always a push at the back.
    waiters: RefCell<VecDeque<(Instant, Waker)>>,
    /// The due time the timer is set for, if any.
    armed: Cell<Option<Instant>>,
    /// The timer failed (which a valid timerfd does not): waits end at once from then on, and
    /// the schedule's lag figures show what that cost, instead of connections hanging.
    broken: Cell<bool>,
}

impl Pacer {
    /// Creates the timer and spawns the task that reads it on the current runtime; the task
    /// runs until the runtime ends.
    pub fn start(use_uring: bool) -> io::Result<(Rc<Pacer>, monoio::task::JoinHandle<()>)> {
        // The epoll driver reads after readiness and retries on EAGAIN, so it needs a
        // non-blocking fd; io_uring would return EAGAIN for one instead of waiting for it.
        let nonblocking = if use_uring { 0 } else { libc::TFD_NONBLOCK };
        // SAFETY: plain syscall; the result is checked.
        let fd =
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | nonblocking) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // monoio has no type for an arbitrary pollable fd; its UnixStream's `readv` is a plain
        // readv (io_uring `Readv`, or readiness then readv(2)), which is what a timerfd needs.
        // SAFETY: `fd` is a fresh descriptor owned by nothing else.
        let std_stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
        let reader = monoio::net::UnixStream::from_std(std_stream)?;
        let pacer = Rc::new(Pacer {
            timer: fd,
            waiters: RefCell::new(VecDeque::new()),
            armed: Cell::new(None),
            broken: Cell::new(false),
        });
        let task = monoio::spawn(pacer.clone().wake_waiters(reader));
        Ok((pacer, task))
    }

    /// Completes at `due` (at once if it has passed).
    pub fn sleep_until(&self, due: Instant) -> PaceSleep<'_> {
        PaceSleep {
            pacer: self,
            due,
            registered: false,
        }
    }

    fn register(&self, due: Instant, waker: Waker) {
        {
            let mut waiters = self.waiters.borrow_mut();
            let at = waiters.partition_point(|(other, _)| *other <= due);
            waiters.insert(at, (due, waker));
        }
        if self.armed.get().is_none_or(|armed| due < armed) {
            self.arm(due);
        }
    }

    fn arm(&self, due: Instant) {
        // A relative expiry; zero would disarm the timer, so a due time already passed
        // becomes the shortest wait.
        let wait = due
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
            },
        };
        // SAFETY: `timer` is our timerfd, open while any waiter can exist; `spec` is valid.
        let set = unsafe { libc::timerfd_settime(self.timer, 0, &spec, std::ptr::null_mut()) };
        if set == 0 {
            self.armed.set(Some(due));
        } else {
            self.fail();
        }
    }

    fn fail(&self) {
        self.broken.set(true);
        self.armed.set(None);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// The reading task: each expiry wakes every waiter whose time has come and re-arms the
    /// timer for the next one.
    async fn wake_waiters(self: Rc<Self>, mut reader: monoio::net::UnixStream) {
        let mut expirations = VecBuf::from(vec![vec![0u8; 8]]);
        loop {
            let (result, buf) = reader.readv(expirations).await;
            expirations = buf;
            match result {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(_) => {
                    self.fail();
                    return;
                }
            }
            self.armed.set(None);
            self.wake_due(Instant::now());
        }
    }

    /// Wakes the waiters due by `now` and arms the timer for the next one.
    fn wake_due(&self, now: Instant) {
        let mut waiters = self.waiters.borrow_mut();
        while let Some((due, _)) = waiters.front() {
            if *due > now {
                break;
            }
            let (_, waker) = waiters.pop_front().expect("front exists");
            waker.wake();
        }
        let next = waiters.front().map(|(due, _)| *due);
        drop(waiters);
        if let Some(next) = next {
            self.arm(next);
        }
    }
}

/// [`Pacer::sleep_until`]'s future.
pub(crate) struct PaceSleep<'a> {
    pacer: &'a Pacer,
    due: Instant,
    registered: bool,
}

impl Future for PaceSleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.pacer.broken.get() || Instant::now() >= self.due {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            self.pacer.register(self.due, cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps until each of `count` due times `spacing` apart and returns how late each woke.
    async fn lags(use_uring: bool, count: u32, spacing: Duration) -> Vec<Duration> {
        let (pacer, _task) = Pacer::start(use_uring).unwrap();
        let start = Instant::now() + Duration::from_millis(5);
        let mut lags = Vec::new();
        for i in 0..count {
            let due = start + spacing * i;
            pacer.sleep_until(due).await;
            let woke = Instant::now();
            assert!(woke >= due, "woke before its due time");
            lags.push(woke - due);
        }
        lags
    }

    fn median_lag(use_uring: bool) -> Duration {
        let spacing = Duration::from_micros(250);
        let mut lags = if use_uring {
            crate::worker::uring_runtime()
                .unwrap()
                .block_on(lags(true, 400, spacing))
        } else {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .unwrap()
                .block_on(lags(false, 400, spacing))
        };
        lags.sort();
        lags[lags.len() / 2]
    }

    // Due times 250 us apart: a millisecond timer would release them four at a time, up to
    // 1 ms late (median lag ~400 us); the pacer wakes each at its own time.
    #[test]
    fn due_times_are_kept_to_well_under_a_millisecond_with_io_uring() {
        if !monoio::utils::detect_uring() {
            return;
        }
        let median = median_lag(true);
        assert!(median < Duration::from_micros(200), "median lag {median:?}");
    }

    #[test]
    fn due_times_are_kept_to_well_under_a_millisecond_with_epoll() {
        let median = median_lag(false);
        assert!(median < Duration::from_micros(200), "median lag {median:?}");
    }

    #[test]
    fn waiters_registered_out_of_order_each_wake_at_their_own_time() {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (pacer, _task) = Pacer::start(false).unwrap();
            let start = Instant::now();
            let late = start + Duration::from_millis(20);
            let early = start + Duration::from_millis(5);
            let late_sleeper = {
                let pacer = pacer.clone();
                monoio::spawn(async move {
                    pacer.sleep_until(late).await;
                    Instant::now()
                })
            };
            // Let the late waiter arm the timer first; the early one must re-arm it.
            monoio::time::sleep(Duration::from_millis(1)).await;
            pacer.sleep_until(early).await;
            let early_woke = Instant::now();
            assert!(
                early_woke >= early && early_woke < late,
                "{:?}",
                early_woke - start
            );
            let late_woke = late_sleeper.await;
            assert!(late_woke >= late, "{:?}", late_woke - start);
        });
    }
}
