//! Microsecond wake-ups for the open model's schedule, at a cost that follows the work.
//!
//! monoio's timer wheel ticks in milliseconds, and epoll's own timeout does too, so a request
//! due at 12.3 ms would leave at 13 ms: at sub-millisecond response times that wait dominated
//! the corrected latency. Instead, each worker's schedule is a [`Grid`] of due times, and a
//! periodic `timerfd` (`CLOCK_MONOTONIC`, nanosecond resolution, no timer slack) expires on that
//! grid, [`WAKE_AHEAD`] of each due time; the runtime reads it like any other file (io_uring or
//! epoll) and releases the connections whose due time has come, spinning for at most a few
//! microseconds when it woke before one. The timer is set once per run: arming it per
//! request cost a `timerfd_settime` (a hypervisor exit on a VM) for every request. A ramp
//! (`--stage`) has no fixed period: its timer is armed for the earliest waiter instead.
//!
//! An expiry is an interrupt, and on a VM a costly one (about 8 us of client CPU each against
//! nginx on this project's 2-core VM: one per request at 30,000 req/s cost more CPU than the
//! requests did). So the worker also sends what is due whenever it is awake anyway, at every
//! response ([`Pacer::exchange_ended`]). When more than one request is usually in flight, the
//! responses wake the worker about as often as due times come, and the timer is slowed to
//! expire on every k-th due time only ([`Period`]), to catch what no response woke the worker
//! for. When the worker is often left with nothing in flight, it expires on every due time
//! again. Nothing is ever sent before its due time.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monoio::buf::VecBuf;
use monoio::io::AsyncReadRent;

use crate::stats::PacingCounts;
use crate::sys::TimerFd;

/// How long before a due time the timer expires. Waking a sleeping thread takes longer than
/// this (30 to 80 us on this project's VM), so a worker the timer wakes is nearly always at or
/// past the due time already, and its requests leave this much sooner than with an expiry at
/// the due time; one that wakes before the due time spins the rest ([`SPIN_MAX`]).
const WAKE_AHEAD: Duration = Duration::from_micros(10);

/// The longest a worker woken by the timer spins for a due time (never to send early): the
/// wake-ahead, and a margin for the nanoseconds between `Instant` and the kernel's clock.
const SPIN_MAX: Duration = Duration::from_micros(12);

/// The longest the timer's period grows to: how late a due time that no response woke the
/// worker for can go out. Beyond about 500 us the expiries saved no more CPU at 30,000 req/s.
const TIMER_PERIOD_MAX: Duration = Duration::from_micros(500);

/// Expiries per look at whether the period should change.
const PERIOD_WINDOW: u32 = 32;

/// A constant-rate schedule: due time `i` is `start + i * interval`, in whole nanoseconds so
/// that the kernel's periodic timer and the schedule agree exactly over any run length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub start: Instant,
    pub interval: Duration,
}

impl Grid {
    /// `per_second` due times a second from `start`. The interval is rounded up to the next
    /// nanosecond, so `-R 3` has exactly 6 due times in 2 s rather than a 7th a few
    /// nanoseconds before the end.
    pub fn new(per_second: f64, start: Instant) -> Grid {
        let nanos = (1e9 / per_second).ceil().max(1.0) as u64;
        Grid {
            start,
            interval: Duration::from_nanos(nanos),
        }
    }

    pub fn due(&self, index: u64) -> Instant {
        let nanos = self.interval.as_nanos() as u64;
        self.start + Duration::from_nanos(nanos.saturating_mul(index))
    }

    /// How many due times fall strictly before `end`.
    pub fn count_before(&self, end: Instant) -> u64 {
        let span = end.saturating_duration_since(self.start).as_nanos();
        let interval = self.interval.as_nanos();
        u64::try_from(span.div_ceil(interval)).unwrap_or(u64::MAX)
    }
}

/// One worker's timer for due times. Single-threaded: shared by the worker's connections.
pub(crate) struct Pacer {
    /// The timer, for setting it; the reading task reads a second descriptor of it, and
    /// closes both when it ends (`None` from then on).
    timer: RefCell<Option<TimerFd>>,
    /// Set by [`Pacer::stop`]: the reading task ends at the next expiry.
    stopping: Cell<bool>,
    /// Tasks waiting for a due time, earliest first. The schedule hands out due times in
    /// order, so inserting is nearly always a push at the back.
    waiters: RefCell<VecDeque<(Instant, Waker)>>,
    /// The timer failed (which a valid timerfd does not): waits end at once from then on, and
    /// the schedule's lag figures show what that cost, instead of connections hanging.
    broken: Cell<bool>,
    /// A periodic timer's period; `None` for a timer armed per waiter.
    period: Option<Period>,
    /// `None` for a periodic timer; for one armed per waiter, the time it is armed for.
    on_demand: Option<Cell<Option<Instant>>>,
    /// Exchanges in flight on the worker's connections: each will wake the worker when its
    /// response arrives, and send what fell due by then.
    in_flight: Cell<u32>,
    /// Set by [`Pacer::release_all`]: every wait ends at once (the user stopped the run).
    released: Cell<bool>,
    /// What the pacer did since the worker last took the counts.
    counts: Cell<PacingCounts>,
}

impl Pacer {
    /// Creates the timer, expiring on `grid` (or, without one, at each waiter's due time), and
    /// spawns the task that reads it on the current runtime. Call [`Pacer::stop`] and await
    /// the task before the runtime ends: a read still in flight would keep the ring, and with
    /// it the runtime's descriptors, alive.
    pub fn start(
        use_uring: bool,
        grid: Option<Grid>,
    ) -> io::Result<(Rc<Pacer>, monoio::task::JoinHandle<()>)> {
        // The epoll driver reads after readiness and retries on EAGAIN, so it needs a
        // non-blocking fd; io_uring would return EAGAIN for one instead of waiting for it.
        let timer = TimerFd::new(!use_uring)?;
        // monoio has no type for an arbitrary pollable fd; its UnixStream's `readv` is a plain
        // readv (io_uring `Readv`, or readiness then readv(2)), which is what a timerfd needs.
        let std_stream = std::os::unix::net::UnixStream::from(timer.try_clone_fd()?);
        let reader = monoio::net::UnixStream::from_std(std_stream)?;
        let period = grid.map(Period::new);
        if let Some(period) = &period {
            // From the first due time on.
            arm_periodic(&timer, period.grid.start, period.length())?;
        }
        let pacer = Rc::new(Pacer {
            timer: RefCell::new(Some(timer)),
            stopping: Cell::new(false),
            waiters: RefCell::new(VecDeque::new()),
            broken: Cell::new(false),
            period,
            on_demand: grid.is_none().then(|| Cell::new(None)),
            in_flight: Cell::new(0),
            released: Cell::new(false),
            counts: Cell::new(PacingCounts::default()),
        });
        let task = monoio::spawn(pacer.clone().wake_waiters(reader));
        Ok((pacer, task))
    }

    /// Completes at `due` (at once if it has passed). With a grid, `due` must be on it.
    pub fn sleep_until(&self, due: Instant) -> PaceSleep<'_> {
        PaceSleep {
            pacer: self,
            due,
            registered: false,
        }
    }

    /// Ends the reading task: the timer expires once more, at once, and the task returns
    /// (closing its descriptor) instead of reading again.
    pub fn stop(&self) {
        self.stopping.set(true);
        let timer = self.timer.borrow();
        let Some(timer) = timer.as_ref() else {
            // The reading task has ended (its read failed) and closed the timer.
            return;
        };
        let set = timer.expire_now();
        if self.broken.get() {
            // An arming failed: waits already end at once, and the reading task, still
            // waiting, ends at this expiry if the timer takes it.
            return;
        }
        // Cannot fail for an open timerfd and a valid value; if it did, the reading task would
        // wait for an expiry that never comes and the run would hang instead of ending.
        if let Err(e) = set {
            panic!("the pacer's timer could not be set to stop: {e}");
        }
    }

    /// Ends every wait now and from now on: the run is being stopped, and connections must
    /// not sit until due times that no longer matter.
    pub fn release_all(&self) {
        self.released.set(true);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// A connection sent requests: their responses will wake the worker.
    #[inline]
    pub fn exchange_started(&self) {
        self.in_flight.set(self.in_flight.get() + 1);
    }

    /// A connection's exchange ended (its responses arrived, or it failed or timed out): the
    /// worker is awake, so it releases every waiter whose due time has passed by `now`, which
    /// then costs no wake-up of its own. Cheap when nothing is due.
    #[inline]
    pub fn exchange_ended(&self, now: Instant) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
        self.release_due(now);
    }

    /// What the pacer did since the last call.
    pub fn take_counts(&self) -> PacingCounts {
        self.counts.take()
    }

    fn count(&self, update: impl FnOnce(&mut PacingCounts)) {
        let mut counts = self.counts.get();
        update(&mut counts);
        self.counts.set(counts);
    }

    fn register(&self, due: Instant, waker: Waker) {
        let mut waiters = self.waiters.borrow_mut();
        let at = waiters.partition_point(|(other, _)| *other <= due);
        waiters.insert(at, (due, waker));
        drop(waiters);
        if let Some(armed) = &self.on_demand {
            if armed.get().is_none_or(|armed_for| due < armed_for) {
                self.arm_once(armed, due);
            }
        }
    }

    /// Arms the timer to expire once, [`WAKE_AHEAD`] of `due`.
    fn arm_once(&self, armed: &Cell<Option<Instant>>, due: Instant) {
        if self.stopping.get() || self.broken.get() {
            return;
        }
        armed.set(Some(due));
        let armed_ok = monotonic(due).and_then(|at| match &*self.timer.borrow() {
            Some(timer) => timer.expire_at(at.saturating_sub(WAKE_AHEAD), Duration::ZERO),
            None => Err(io::Error::other("the pacer's timer is closed")),
        });
        if armed_ok.is_err() {
            self.fail();
        }
    }

    fn fail(&self) {
        self.broken.set(true);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// The reading task: each expiry wakes every waiter whose time has come. Expiries with
    /// nobody waiting (every connection busy) are read and cost nothing else.
    async fn wake_waiters(self: Rc<Self>, reader: monoio::net::UnixStream) {
        self.read_expiries(reader).await;
        // Closes the timer when its reader is done (the reader's descriptor is closed already).
        self.timer.borrow_mut().take();
    }

    async fn read_expiries(&self, mut reader: monoio::net::UnixStream) {
        let mut expirations = VecBuf::from(vec![vec![0u8; 8]]);
        loop {
            let (result, buf) = reader.readv(expirations).await;
            expirations = buf;
            match result {
                // One interrupt: a periodic timerfd that was not read in time does not expire
                // again until it is (the read returns how many periods passed).
                Ok(_) => self.count(|counts| counts.timer_expiries += 1),
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
            let now = self.spin_until_due();
            let released = self.release_due(now);
            if self.stopping.get() {
                return;
            }
            if let Some(period) = &self.period {
                // Requests went out at this expiry with nothing in flight: no response would
                // have woken the worker to send them.
                if period.observe(released > 0 && self.in_flight.get() == 0) {
                    self.rearm_periodic(period, now);
                }
            }
            if let Some(armed) = &self.on_demand {
                armed.set(None);
                let next = self.waiters.borrow().front().map(|(due, _)| *due);
                if let Some(due) = next {
                    self.arm_once(armed, due);
                }
            }
        }
    }

    /// After an expiry: when the earliest waiter is due within [`SPIN_MAX`] (the timer woke
    /// the worker ahead of it, as it is set to), waits for it on the CPU rather than sleeping
    /// again. Returns the time then.
    fn spin_until_due(&self) -> Instant {
        let now = Instant::now();
        let Some(due) = self.waiters.borrow().front().map(|(due, _)| *due) else {
            return now;
        };
        if due <= now || due - now > SPIN_MAX {
            return now;
        }
        loop {
            let now = Instant::now();
            if now >= due {
                return now;
            }
            std::hint::spin_loop();
        }
    }

    /// Sets the periodic timer to its new period, from the first due time at or after `now`.
    fn rearm_periodic(&self, period: &Period, now: Instant) {
        let next = period.grid.due(period.grid.count_before(now));
        let set = match &*self.timer.borrow() {
            Some(timer) => arm_periodic(timer, next, period.length()),
            None => Err(io::Error::other("the pacer's timer is closed")),
        };
        if set.is_err() {
            self.fail();
        }
    }

    /// Wakes the waiters due by `now`, counting the round when there were any; returns how many.
    fn release_due(&self, now: Instant) -> u64 {
        let released = self.wake_due(now);
        if released > 0 {
            self.count(|counts| {
                counts.wakeups += 1;
                counts.released += released;
            });
        }
        released
    }

    /// Wakes the waiters due by `now`; returns how many.
    fn wake_due(&self, now: Instant) -> u64 {
        let mut waiters = self.waiters.borrow_mut();
        let mut woken = 0;
        while let Some((due, _)) = waiters.front() {
            if *due > now {
                break;
            }
            let (_, waker) = waiters.pop_front().expect("front exists");
            waker.wake();
            woken += 1;
        }
        woken
    }
}

/// Sets `timer` to expire [`WAKE_AHEAD`] of `first` (a due time) and then every `period` (a
/// whole number of intervals, so every expiry falls just ahead of a due time). A `first` in the
/// past expires at once and then keeps the period.
fn arm_periodic(timer: &TimerFd, first: Instant, period: Duration) -> io::Result<()> {
    timer.expire_at(monotonic(first)?.saturating_sub(WAKE_AHEAD), period)
}

/// How often a periodic timer expires: on every `every`-th due time of the grid. It halves its
/// period, down to every due time, while its expiries often send requests with nothing in
/// flight (no response would have woken the worker for them: the timer has to), and doubles
/// it, up to [`TIMER_PERIOD_MAX`], while they nearly never do: the responses of the requests
/// in flight send what falls due.
struct Period {
    grid: Grid,
    every: Cell<u32>,
    /// The most `every` may grow to: [`TIMER_PERIOD_MAX`] in due times, at least 1.
    most: u32,
    /// The current window: expiries seen, and how many were needed.
    seen: Cell<u32>,
    needed: Cell<u32>,
}

impl Period {
    fn new(grid: Grid) -> Period {
        let most = TIMER_PERIOD_MAX.as_nanos() / grid.interval.as_nanos();
        Period {
            grid,
            every: Cell::new(1),
            most: u32::try_from(most).unwrap_or(u32::MAX).max(1),
            seen: Cell::new(0),
            needed: Cell::new(0),
        }
    }

    fn length(&self) -> Duration {
        self.grid.interval * self.every.get()
    }

    /// Records an expiry (`needed`: it sent requests that nothing else would have, as nothing
    /// was in flight); returns whether the period changed.
    fn observe(&self, needed: bool) -> bool {
        self.seen.set(self.seen.get() + 1);
        self.needed.set(self.needed.get() + u32::from(needed));
        if self.seen.get() < PERIOD_WINDOW {
            return false;
        }
        let (needed, every) = (self.needed.replace(0), self.every.get());
        self.seen.set(0);
        // A quarter of the expiries needed is a few percent of the due times once the period
        // spans several: those waited up to a period. Halving on fewer made the period swing
        // at 30,000 req/s on 16 connections, where a response is nearly always on its way.
        let next = if needed > PERIOD_WINDOW / 4 {
            // The timer is often the only thing that wakes the worker for a due time: toward
            // every due time.
            (every / 2).max(1)
        } else if needed <= PERIOD_WINDOW / 16 {
            (every * 2).min(self.most)
        } else {
            every
        };
        self.every.set(next);
        next != every
    }
}

/// `at` on `CLOCK_MONOTONIC` (the clock `Instant` reads), from a pair of readings.
fn monotonic(at: Instant) -> io::Result<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: plain syscall (vDSO) writing into `now`.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let instant_now = Instant::now();
    let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
    Ok(if at >= instant_now {
        now + (at - instant_now)
    } else {
        now.saturating_sub(instant_now - at)
    })
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
        if self.pacer.broken.get() || self.pacer.released.get() || Instant::now() >= self.due {
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

    /// Sleeps until each of `count` due times `spacing` apart and returns how late each woke;
    /// `periodic`: the timer follows the grid, else it is armed per waiter (a ramp).
    async fn lags(use_uring: bool, periodic: bool, count: u64, spacing: Duration) -> Vec<Duration> {
        let grid = Grid {
            start: Instant::now() + Duration::from_millis(5),
            interval: spacing,
        };
        let (pacer, _task) = Pacer::start(use_uring, periodic.then_some(grid)).unwrap();
        let mut lags = Vec::new();
        for i in 0..count {
            let due = grid.due(i);
            pacer.sleep_until(due).await;
            let woke = Instant::now();
            assert!(woke >= due, "woke before its due time");
            lags.push(woke - due);
        }
        lags
    }

    /// The best median of up to five tries: a busy machine (other tests, a shared VM) only
    /// ever makes wake-ups later, so one clean try shows what the pacer does; a millisecond
    /// timer never gets a clean one.
    fn best_median_lag(use_uring: bool, periodic: bool) -> Duration {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            best = best.min(median_lag(use_uring, periodic));
            if best < Duration::from_micros(200) {
                break;
            }
        }
        best
    }

    fn median_lag(use_uring: bool, periodic: bool) -> Duration {
        let spacing = Duration::from_micros(250);
        let mut lags = if use_uring {
            crate::runtime::uring_runtime()
                .unwrap()
                .block_on(lags(true, periodic, 400, spacing))
        } else {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .unwrap()
                .block_on(lags(false, periodic, 400, spacing))
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
        for periodic in [true, false] {
            let median = best_median_lag(true, periodic);
            assert!(
                median < Duration::from_micros(200),
                "median lag {median:?} ({periodic})"
            );
        }
    }

    #[test]
    fn due_times_are_kept_to_well_under_a_millisecond_with_epoll() {
        for periodic in [true, false] {
            let median = best_median_lag(false, periodic);
            assert!(
                median < Duration::from_micros(200),
                "median lag {median:?} ({periodic})"
            );
        }
    }

    #[test]
    fn waiters_registered_out_of_order_each_wake_at_their_own_time() {
        for periodic in [true, false] {
            out_of_order_waiters(periodic);
        }
    }

    fn out_of_order_waiters(periodic: bool) {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = Instant::now();
            let grid = Grid {
                start,
                interval: Duration::from_millis(5),
            };
            let (pacer, _task) = Pacer::start(false, periodic.then_some(grid)).unwrap();
            let late = grid.due(4);
            let early = grid.due(1);
            let late_sleeper = {
                let pacer = pacer.clone();
                monoio::spawn(async move {
                    pacer.sleep_until(late).await;
                    Instant::now()
                })
            };
            // The late waiter queues first; the early one must still be released first.
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

    #[test]
    fn the_timer_slows_while_responses_keep_the_worker_awake_and_not_otherwise() {
        let start = Instant::now();
        // 30,000/s: due times 33.334 us apart, so up to 14 of them in TIMER_PERIOD_MAX.
        let period = Period::new(Grid::new(30_000.0, start));
        let interval = period.grid.interval;
        assert_eq!(period.length(), interval);
        let window = |needed_expiries: u32| {
            (0..PERIOD_WINDOW)
                .map(|i| period.observe(i < needed_expiries))
                .filter(|&changed| changed)
                .count()
                > 0
        };
        // Responses always sent what fell due: the period doubles each window, up to the most.
        assert!(window(0));
        assert_eq!(period.length(), interval * 2);
        for _ in 0..5 {
            window(2);
        }
        assert_eq!(period.every.get(), 14);
        assert!(period.length() <= TIMER_PERIOD_MAX);
        assert!(!window(0), "no further than TIMER_PERIOD_MAX");
        // In between, it holds.
        assert!(!window(3));
        assert!(!window(PERIOD_WINDOW / 4));
        // Often the timer alone sent requests: back toward every due time, halving.
        assert!(window(PERIOD_WINDOW / 4 + 1));
        assert_eq!(period.every.get(), 7);
        for _ in 0..4 {
            window(PERIOD_WINDOW);
        }
        assert_eq!(period.length(), interval);
        // Slow rates never slow the timer: every due time is already apart enough.
        let slow = Period::new(Grid::new(2_000.0, start));
        assert!((0..PERIOD_WINDOW).all(|_| !slow.observe(false)));
        assert_eq!(slow.length(), slow.grid.interval);
    }

    #[test]
    fn a_due_time_passed_while_busy_goes_out_at_the_end_of_the_next_exchange() {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let grid = Grid {
                start: Instant::now() + Duration::from_millis(50),
                interval: Duration::from_secs(10),
            };
            let (pacer, _task) = Pacer::start(false, Some(grid)).unwrap();
            let woke = Rc::new(Cell::new(None));
            let sleeper = {
                let (pacer, woke) = (pacer.clone(), woke.clone());
                monoio::spawn(async move {
                    pacer.sleep_until(grid.due(0)).await;
                    woke.set(Some(Instant::now()));
                })
            };
            // The sleeper registers (well before its due time); then this task is busy past
            // the due time, with an exchange in flight, so the timer's expiry is not read yet
            // when the exchange ends.
            monoio::time::sleep(Duration::from_millis(1)).await;
            assert!(
                Instant::now() < grid.due(0),
                "the machine stalled for 50 ms"
            );
            pacer.exchange_started();
            std::thread::sleep(Duration::from_millis(60));
            pacer.exchange_ended(Instant::now());
            let counts = pacer.take_counts();
            assert_eq!((counts.wakeups, counts.released), (1, 1), "{counts:?}");
            assert_eq!(counts.timer_expiries, 0, "{counts:?}");
            sleeper.await;
            assert!(woke.get().unwrap() >= grid.due(0));
            assert_eq!(pacer.in_flight.get(), 0);
        });
    }

    #[test]
    fn the_grid_has_exactly_the_due_times_of_the_rate() {
        let start = Instant::now();
        let three = Grid::new(3.0, start);
        assert_eq!(three.count_before(start + Duration::from_secs(2)), 6);
        assert!(three.due(6) >= start + Duration::from_secs(2));
        let half = Grid::new(0.5, start);
        assert_eq!(half.count_before(start + Duration::from_secs(2)), 1);
        let fast = Grid::new(30_000.0, start);
        assert_eq!(fast.count_before(start + Duration::from_secs(8)), 239_996);
        assert_eq!(fast.count_before(start), 0);
    }
}
