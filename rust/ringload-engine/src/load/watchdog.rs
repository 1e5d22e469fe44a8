//! Request timeouts without a timer per request.
//!
//! A timer-wheel entry inserted and removed around every exchange showed in `perf` of the
//! closed model. Instead, each connection has one [`Alarm`] holding its current deadline (a
//! plain store per exchange), and one task per worker sweeps the alarms, waking the connections
//! whose deadline has passed, as wrk does. The sweep sleeps until the earliest deadline that can
//! be due: an alarm armed while it sleeps expires a whole timeout later at the soonest (or at the
//! run's end), so with the usual timeouts of seconds the sweep wakes a few times per run, not
//! once per request. A timeout fires up to [`SWEEP_INTERVAL`] late.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The shortest time between two sweeps: how late a timeout may fire.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_millis(10);

/// One connection's deadline.
pub(crate) struct Alarm {
    deadline: Cell<Option<Instant>>,
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    /// The watchdog's [`Watchdog::expire_all`] flag: once set, every guard expires at once.
    all_expired: Rc<Cell<bool>>,
}

/// The deadline passed before the guarded future completed.
#[derive(Debug)]
pub(crate) struct Expired;

impl Alarm {
    /// Runs `work` until it completes or `deadline` passes (then `work` is dropped, which
    /// cancels its I/O).
    pub fn guard<F: Future>(&self, deadline: Instant, work: F) -> Guarded<'_, F> {
        self.deadline.set(Some(deadline));
        // A guard armed after the run was stopped must not wait for its deadline.
        self.fired.set(self.all_expired.get());
        Guarded {
            armed: Armed(self),
            work,
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Alarm::guard`]'s future.
    pub(crate) struct Guarded<'a, F> {
        // Declared first, so the alarm is disarmed before the work is dropped, as the
        // cancellation of its I/O may take a while.
        armed: Armed<'a>,
        #[pin]
        work: F,
    }
}

/// The alarm while a guard holds it: dropping the guard, completed or cancelled, disarms it.
struct Armed<'a>(&'a Alarm);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.0.deadline.set(None);
    }
}

impl<F: Future> Future for Guarded<'_, F> {
    type Output = Result<F::Output, Expired>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let alarm = this.armed.0;
        if alarm.fired.get() {
            return Poll::Ready(Err(Expired));
        }
        match this.work.poll(cx) {
            Poll::Ready(output) => {
                alarm.deadline.set(None);
                Poll::Ready(Ok(output))
            }
            Poll::Pending => {
                let mut waker = alarm.waker.borrow_mut();
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// A worker's alarms and the sweep over them.
pub(crate) struct Watchdog {
    alarms: RefCell<Vec<Rc<Alarm>>>,
    /// The shortest time from arming an alarm to its deadline, unless the run ends first.
    timeout: Duration,
    /// When the run ends; no alarm's deadline is later.
    run_deadline: Instant,
    /// Set by [`Watchdog::expire_all`].
    all_expired: Rc<Cell<bool>>,
}

impl Watchdog {
    /// A watchdog for alarms armed with at least `timeout` to go, or up to `run_deadline`.
    pub fn new(timeout: Duration, run_deadline: Instant) -> Watchdog {
        Watchdog {
            alarms: RefCell::new(Vec::new()),
            timeout,
            run_deadline,
            all_expired: Rc::default(),
        }
    }

    /// A new alarm, swept until the watchdog's task ends.
    pub fn alarm(&self) -> Rc<Alarm> {
        let alarm = Rc::new(Alarm {
            deadline: Cell::new(None),
            fired: Cell::new(false),
            waker: RefCell::new(None),
            all_expired: self.all_expired.clone(),
        });
        self.alarms.borrow_mut().push(alarm.clone());
        alarm
    }

    /// Sweeps until the runtime ends (the worker's connections are done).
    pub async fn sweep(self: Rc<Self>) {
        loop {
            let now = Instant::now();
            let earliest_armed = self.fire_expired(Some(now));
            let next = earliest_armed
                .into_iter()
                .chain([now + self.timeout, self.run_deadline])
                .min()
                .expect("two candidates")
                .max(now + SWEEP_INTERVAL);
            monoio::time::sleep_until(monoio::time::Instant::from_std(next)).await;
        }
    }

    /// The run was stopped: every guarded wait ends now, and every later guard at once.
    pub fn expire_all(&self) {
        self.all_expired.set(true);
        self.fire_expired(None);
    }

    /// Fires the alarms whose deadline has passed by `now` (every armed one for `None`);
    /// returns the earliest deadline still armed.
    fn fire_expired(&self, now: Option<Instant>) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        for alarm in self.alarms.borrow().iter() {
            match alarm.deadline.get() {
                Some(deadline) if now.is_none_or(|now| deadline <= now) => {
                    alarm.deadline.set(None);
                    alarm.fired.set(true);
                    if let Some(waker) = alarm.waker.borrow_mut().take() {
                        waker.wake();
                    }
                }
                Some(deadline) => earliest = Some(earliest.map_or(deadline, |e| e.min(deadline))),
                None => {}
            }
        }
        earliest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_fires_only_after_its_deadline_and_only_while_guarding() {
        let watchdog = Rc::new(Watchdog::new(
            Duration::from_millis(30),
            Instant::now() + Duration::from_secs(60),
        ));
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let sweeper = monoio::spawn(watchdog.clone().sweep());
            let alarm = watchdog.alarm();
            let start = Instant::now();
            let slow = monoio::time::sleep(Duration::from_secs(5));
            let outcome = alarm.guard(start + Duration::from_millis(30), slow).await;
            assert!(outcome.is_err(), "a 5 s sleep outlived a 30 ms deadline");
            let waited = start.elapsed();
            assert!(
                waited >= Duration::from_millis(30),
                "fired early: {waited:?}"
            );

            let quick = async { 7 };
            let outcome = alarm
                .guard(Instant::now() + Duration::from_millis(1), quick)
                .await;
            assert_eq!(outcome.unwrap(), 7);
            // Completed work leaves the alarm disarmed: a later sweep fires nothing.
            monoio::time::sleep(SWEEP_INTERVAL * 3).await;
            assert!(!alarm.fired.get());
            drop(sweeper);
        });
    }

    #[test]
    fn expiring_all_ends_armed_guards_and_every_later_one_at_once() {
        let watchdog = Rc::new(Watchdog::new(
            Duration::from_secs(30),
            Instant::now() + Duration::from_secs(60),
        ));
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let alarm = watchdog.alarm();
            let stopper = {
                let watchdog = watchdog.clone();
                monoio::spawn(async move {
                    monoio::time::sleep(Duration::from_millis(20)).await;
                    watchdog.expire_all();
                })
            };
            let start = Instant::now();
            let far = start + Duration::from_secs(30);
            let outcome = alarm
                .guard(far, monoio::time::sleep(Duration::from_secs(5)))
                .await;
            assert!(outcome.is_err(), "the armed guard ended with the stop");
            assert!(start.elapsed() < Duration::from_secs(1));
            stopper.await;
            // No sweep runs here: a guard armed after the stop expires by itself.
            let outcome = alarm
                .guard(far, monoio::time::sleep(Duration::from_secs(5)))
                .await;
            assert!(outcome.is_err());
            assert!(start.elapsed() < Duration::from_secs(1));
        });
    }

    #[test]
    fn an_alarm_armed_while_the_sweep_sleeps_still_fires_on_time() {
        let timeout = Duration::from_millis(50);
        let watchdog = Rc::new(Watchdog::new(
            timeout,
            Instant::now() + Duration::from_secs(60),
        ));
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime.block_on(async {
            let alarm = watchdog.alarm();
            // Nothing armed: the sweep goes to sleep for up to one timeout.
            let sweeper = monoio::spawn(watchdog.clone().sweep());
            monoio::time::sleep(Duration::from_millis(20)).await;
            let armed_at = Instant::now();
            let outcome = alarm
                .guard(
                    armed_at + timeout,
                    monoio::time::sleep(Duration::from_secs(5)),
                )
                .await;
            assert!(outcome.is_err());
            let waited = armed_at.elapsed();
            assert!(waited >= timeout, "fired early: {waited:?}");
            // The sweep woke at most one timeout after it slept, before this deadline.
            assert!(waited < Duration::from_secs(2), "fired late: {waited:?}");
            drop(sweeper);
        });
    }
}
