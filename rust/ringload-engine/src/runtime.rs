//! The runtime plumbing the load workers and the client thread share: which I/O driver
//! ([`IoMode`], [`choose_io`]), building a thread's monoio runtime, the cores to pin to, and the
//! microsecond clock unit.

use std::time::Duration;

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

use crate::error::RunError;

/// Which io driver the workers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// io_uring when the kernel allows it, else epoll with one warning.
    #[default]
    Auto,
    Uring,
    Epoll,
}

/// The I/O driver decision for a run: `(use io_uring, warning to print once)`.
pub fn choose_io(mode: IoMode) -> Result<(bool, Option<String>), RunError> {
    let available = monoio::utils::detect_uring();
    match (mode, available) {
        (IoMode::Epoll, _) => Ok((false, None)),
        (_, true) => Ok((true, None)),
        (IoMode::Uring, false) => Err(RunError::UringUnavailable(uring_unavailable_reason())),
        (IoMode::Auto, false) => Ok((
            false,
            Some(format!(
                "warning: io_uring is not available ({}); using the epoll driver",
                uring_unavailable_reason()
            )),
        )),
    }
}

fn uring_unavailable_reason() -> &'static str {
    match std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim().to_string())
    {
        Ok(v) if v != "0" => "kernel.io_uring_disabled is set",
        _ => "blocked by seccomp, an old kernel or memlock limits",
    }
}

/// The CPUs this process may run on (respects `taskset` and cgroup affinity).
pub fn available_cores() -> Vec<core_affinity::CoreId> {
    core_affinity::get_core_ids().unwrap_or_default()
}

/// Builds this thread's runtime (io_uring or epoll) and runs `main` on it to completion: the one
/// way both the load workers and the client thread start. `started` runs once the runtime exists
/// and before `main`, so a caller can report that the thread is up; an error means the runtime
/// could not be built and `main` never ran.
pub(crate) fn run_on_runtime<F: std::future::Future>(
    use_uring: bool,
    main: F,
    started: impl FnOnce(),
) -> std::io::Result<F::Output> {
    if use_uring {
        let mut runtime = uring_runtime()?;
        started();
        Ok(runtime.block_on(main))
    } else {
        let mut runtime = RuntimeBuilder::<LegacyDriver>::new()
            .enable_timer()
            .build()?;
        started();
        Ok(runtime.block_on(main))
    }
}

/// An io_uring runtime for this thread. Only this thread ever reaps the ring's completions, so
/// the kernel may defer completion work until the thread enters it anyway (`DEFER_TASKRUN` with
/// `SINGLE_ISSUER`, Linux 6.1+) instead of interrupting it with an IPI per completion; that cut
/// client CPU per request by about a third against nginx on loopback. Older kernels reject the
/// flags: they get cooperative task running (5.19+), then a plain ring.
pub(crate) fn uring_runtime(
) -> std::io::Result<monoio::Runtime<monoio::time::TimeDriver<IoUringDriver>>> {
    let build = |ring: io_uring::Builder| {
        RuntimeBuilder::<IoUringDriver>::new()
            .uring_builder(ring)
            .enable_timer()
            .build()
    };
    let mut deferred = io_uring::IoUring::builder();
    deferred.setup_single_issuer().setup_defer_taskrun();
    let mut cooperative = io_uring::IoUring::builder();
    cooperative.setup_coop_taskrun().setup_taskrun_flag();
    build(deferred)
        .or_else(|_| build(cooperative))
        .or_else(|_| build(io_uring::IoUring::builder()))
}

#[inline]
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
