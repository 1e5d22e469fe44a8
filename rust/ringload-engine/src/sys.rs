//! Owning wrappers for the Linux descriptors the engine creates itself: the pacer's `timerfd`
//! ([`TimerFd`]) and the client's completion `eventfd` ([`EventFd`]). Each owns its descriptor
//! (closed on drop), checks every syscall's result, and is the only place that calls them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A `CLOCK_MONOTONIC` timerfd (close-on-exec).
#[derive(Debug)]
pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    /// `nonblocking`: reads return `EAGAIN` instead of waiting (what a readiness-based reader
    /// such as epoll needs; io_uring would return `EAGAIN` for one instead of waiting).
    pub fn new(nonblocking: bool) -> io::Result<TimerFd> {
        let flags = libc::TFD_CLOEXEC | if nonblocking { libc::TFD_NONBLOCK } else { 0 };
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TimerFd { fd })
    }

    /// Expires at `at` on `CLOCK_MONOTONIC` (at once if it has passed), then every `interval`
    /// (zero: once). `at` is at least 1 ns: zero would disarm the timer.
    pub fn expire_at(&self, at: Duration, interval: Duration) -> io::Result<()> {
        self.set(
            libc::TFD_TIMER_ABSTIME,
            at.max(Duration::from_nanos(1)),
            interval,
        )
    }

    /// Expires once, now (1 ns from now), replacing any earlier setting.
    pub fn expire_now(&self) -> io::Result<()> {
        self.set(0, Duration::from_nanos(1), Duration::ZERO)
    }

    fn set(&self, flags: libc::c_int, value: Duration, interval: Duration) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: timespec(interval),
            it_value: timespec(value),
        };
        // SAFETY: the descriptor is open (owned by `self`); `spec` is a valid itimerspec and
        // the old value is not asked for (null).
        let set = unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), flags, &spec, std::ptr::null_mut())
        };
        if set != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A second descriptor for the same timer, for a reader that must own the one it reads
    /// (monoio's streams close theirs); this one stays open for setting the timer.
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }
}

impl AsFd for TimerFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A non-blocking, close-on-exec eventfd: a counter that is readable while it is above zero.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Adds one to the counter, making the descriptor readable. Fails only if the counter is
    /// at its maximum (`EAGAIN`), which one signal per empty queue never reaches.
    pub fn signal(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to the open descriptor owned by `self`.
        let written = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        match written {
            8 => Ok(()),
            -1 => Err(io::Error::last_os_error()),
            _ => Err(io::Error::other("short write to an eventfd")),
        }
    }

    /// Takes the counter's value and sets it to zero, so the descriptor is no longer
    /// readable; 0 if it was zero already.
    pub fn reset(&self) -> io::Result<u64> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from the open, non-blocking descriptor owned
        // by `self`.
        let read = unsafe { libc::read(self.fd.as_raw_fd(), (&mut counter as *mut u64).cast(), 8) };
        match read {
            8 => Ok(counter),
            -1 => {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::WouldBlock {
                    Ok(0)
                } else {
                    Err(error)
                }
            }
            _ => Err(io::Error::other("short read from an eventfd")),
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn expirations(timer: &TimerFd) -> u64 {
        let mut reader = std::fs::File::from(timer.try_clone_fd().unwrap());
        let mut count = [0u8; 8];
        reader.read_exact(&mut count).unwrap();
        u64::from_ne_bytes(count)
    }

    fn readable(fd: BorrowedFd<'_>) -> bool {
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout only looks.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn a_timer_expires_when_set_and_not_before() {
        let timer = TimerFd::new(false).unwrap();
        assert!(!readable(timer.as_fd()));
        timer.expire_now().unwrap();
        assert_eq!(expirations(&timer), 1);
        // An absolute time in the past (1 ns after boot) expires at once, then every 1 ms.
        timer
            .expire_at(Duration::ZERO, Duration::from_millis(1))
            .unwrap();
        assert!(expirations(&timer) >= 1);
        std::thread::sleep(Duration::from_millis(5));
        assert!(expirations(&timer) >= 2);
        // Replacing the setting with one far ahead: nothing expires.
        timer
            .expire_at(Duration::from_secs(u32::MAX.into()), Duration::ZERO)
            .unwrap();
        assert!(!readable(timer.as_fd()));
    }

    #[test]
    fn a_nonblocking_timer_reports_eagain_when_nothing_expired() {
        let timer = TimerFd::new(true).unwrap();
        let mut reader = std::fs::File::from(timer.try_clone_fd().unwrap());
        let error = reader.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_setting_the_kernel_refuses_is_an_error() {
        let timer = TimerFd::new(false).unwrap();
        // Past time_t's range: tv_sec becomes negative, which timerfd_settime refuses.
        let error = timer.expire_at(Duration::MAX, Duration::ZERO).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn an_event_is_readable_from_signal_to_reset() {
        let event = EventFd::new().unwrap();
        let fd = event.as_fd();
        assert!(!readable(fd));
        assert_eq!(event.reset().unwrap(), 0);
        event.signal().unwrap();
        event.signal().unwrap();
        assert!(readable(fd));
        assert_eq!(event.reset().unwrap(), 2);
        assert!(!readable(fd));
        assert_eq!(event.reset().unwrap(), 0);
    }
}
