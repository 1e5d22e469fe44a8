//! Request timeouts without a timer per request.
//!
//! A timer-wheel entry inserted and removed around every exchange showed in `perf` of the
//! closed model. Instead, each connection has one [`Alarm`] holding its current deadline (a
//! plain store per exchange), and one task per worker sweeps the alarms every
//! [`SWEEP_INTERVAL`], waking the connections whose deadline has passed, as wrk does. A timeout
//! fires up to one sweep late, which is noise next to any timeout a user sets.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often deadlines are checked; also bounds how late a run notices its end.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_millis(10);

/// One connection's deadline.
#[derive(Default)]
pub(crate) struct Alarm {
    deadline: Cell<Option<Instant>>,
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The deadline passed before the guarded future completed.
#[derive(Debug)]
pub(crate) struct Expired;

impl Alarm {
    /// Runs `work` until it completes or `deadline` passes (then `work` is dropped, which
    /// cancels its I/O).
    pub fn guard<F: Future>(&self, deadline: Instant, work: F) -> Guarded<'_, F> {
        self.deadline.set(Some(deadline));
        self.fired.set(false);
        Guarded { alarm: self, work }
    }
}

/// [`Alarm::guard`]'s future.
pub(crate) struct Guarded<'a, F> {
    alarm: &'a Alarm,
    work: F,
}

impl<F: Future> Future for Guarded<'_, F> {
    type Output = Result<F::Output, Expired>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `work` is never moved out of the pinned struct.
        let this = unsafe { self.get_unchecked_mut() };
        let alarm = this.alarm;
        if alarm.fired.get() {
            return Poll::Ready(Err(Expired));
        }
        // SAFETY: as above, `work` stays where it is until dropped.
        let work = unsafe { Pin::new_unchecked(&mut this.work) };
        match work.poll(cx) {
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

impl<F> Drop for Guarded<'_, F> {
    fn drop(&mut self) {
        self.alarm.deadline.set(None);
    }
}

/// A worker's alarms and the sweep over them.
#[derive(Default)]
pub(crate) struct Watchdog {
    alarms: RefCell<Vec<Rc<Alarm>>>,
}

impl Watchdog {
    /// A new alarm, swept until the watchdog's task ends.
    pub fn alarm(&self) -> Rc<Alarm> {
        let alarm = Rc::new(Alarm::default());
        self.alarms.borrow_mut().push(alarm.clone());
        alarm
    }

    /// Sweeps forever; the worker drops this task when its connections are done.
    pub async fn sweep(self: Rc<Self>) {
        loop {
            monoio::time::sleep(SWEEP_INTERVAL).await;
            self.fire_expired(Instant::now());
        }
    }

    fn fire_expired(&self, now: Instant) {
        for alarm in self.alarms.borrow().iter() {
            if alarm.deadline.get().is_some_and(|deadline| deadline <= now) {
                alarm.deadline.set(None);
                alarm.fired.set(true);
                if let Some(waker) = alarm.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_fires_only_after_its_deadline_and_only_while_guarding() {
        let watchdog = Rc::new(Watchdog::default());
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
}
