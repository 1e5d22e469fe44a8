//! Ctrl-C and SIGTERM during a run or `serve`: the first one stops the run at once, as its
//! deadline would, and the report of what was measured is still printed (as wrk and oha do);
//! the handler then restores the default, so a second one ends the process at once.
//!
//! The handlers are installed for one run and the previous ones restored after it, because the
//! same code runs inside a Python process (the package's `ringload` command), whose own SIGINT
//! handler would otherwise never see a signal again.

use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Arc;

use ringload_engine::StopSignal;

const STOPPING_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// The current run's stop, for the handler (which may not lock or allocate).
static CURRENT_STOP: AtomicPtr<StopSignal> = AtomicPtr::new(ptr::null_mut());
/// The signal that stopped the current run; 0 while none has.
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

/// The handlers of one run; dropping it puts the previous ones back.
pub struct SignalStop {
    stop: Arc<StopSignal>,
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl SignalStop {
    pub fn install() -> SignalStop {
        let stop = Arc::new(StopSignal::default());
        STOPPED_BY.store(0, Ordering::SeqCst);
        // The handler may still hold the pointer of a run that ended, so each run's reference
        // is left to the process (one small allocation per run) rather than freed under it.
        CURRENT_STOP.store(Arc::into_raw(stop.clone()).cast_mut(), Ordering::SeqCst);
        let previous = STOPPING_SIGNALS
            .iter()
            .map(|&signal| {
                // SAFETY: the handler only touches atomics and calls signal(), both
                // async-signal-safe.
                let old = unsafe {
                    libc::signal(
                        signal,
                        on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
                    )
                };
                (signal, old)
            })
            .collect();
        SignalStop { stop, previous }
    }

    /// The stop the run watches; a signal requests it.
    pub fn stop(&self) -> Arc<StopSignal> {
        self.stop.clone()
    }

    /// The exit status a shell gives a process the stopping signal ended: 128 + its number
    /// (Ctrl-C's when none was caught).
    pub fn exit_status(&self) -> u8 {
        let signal = match STOPPED_BY.load(Ordering::SeqCst) {
            0 => libc::SIGINT,
            signal => signal,
        };
        128 + u8::try_from(signal).unwrap_or(0)
    }
}

impl Drop for SignalStop {
    fn drop(&mut self) {
        CURRENT_STOP.store(ptr::null_mut(), Ordering::SeqCst);
        for &(signal, old) in &self.previous {
            if old != libc::SIG_ERR {
                // SAFETY: restoring the disposition that was there before install().
                unsafe {
                    libc::signal(signal, old);
                }
            }
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    let stop = CURRENT_STOP.load(Ordering::SeqCst);
    // SAFETY: a pointer stored by install() comes from Arc::into_raw and is never freed.
    if let Some(stop) = unsafe { stop.as_ref() } {
        let _ = STOPPED_BY.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        stop.request();
    }
    // SAFETY: signal() is async-signal-safe; restoring the default disposition.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}
