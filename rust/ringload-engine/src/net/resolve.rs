//! Host name lookups for the client thread, done on helper threads.
//!
//! `getaddrinfo` blocks, and the client's one engine thread carries every session's I/O: a
//! lookup there would stall all of it until the resolver answered (for seconds, with a slow or
//! dead one). Lookups run on a few helper threads instead, and their answers come back through
//! the engine's inbox. Each new connection looks its host up again, as geventhttpclient does, so
//! a change in DNS (a failover) is seen; lookups of one name that overlap share one answer.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Turns a host name into addresses. Called on a helper thread, so it may block. Tests inject
/// their own (a slow name, say); the engine uses [`SystemResolver`].
pub trait Resolve: Send + Sync + 'static {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The operating system's resolver (`getaddrinfo`: `/etc/hosts`, DNS, ...).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// An IP address literal needs no lookup (and no thread).
pub(crate) fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// Helper threads at most: lookups beyond this many at once wait for one to finish.
const MAX_THREADS: usize = 8;
/// A helper with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(10);

/// A lookup to run, and where its answer goes (on the helper thread).
pub(crate) struct Job {
    pub host: String,
    pub port: u16,
    pub answer: Box<dyn FnOnce(io::Result<Vec<SocketAddr>>) + Send>,
}

/// The helper threads: started as lookups need them, up to [`MAX_THREADS`], ending when idle.
pub(crate) struct Lookups {
    resolver: Arc<dyn Resolve>,
    state: Arc<(Mutex<Queue>, Condvar)>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl Lookups {
    pub fn new(resolver: Arc<dyn Resolve>) -> Lookups {
        Lookups {
            resolver,
            state: Arc::default(),
        }
    }

    /// Queues a lookup; `job.answer` is called on a helper thread. Never blocks.
    pub fn submit(&self, job: Job) {
        let (lock, wake) = &*self.state;
        let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
        queue.jobs.push_back(job);
        if queue.idle > 0 {
            wake.notify_one();
            return;
        }
        if queue.threads < MAX_THREADS {
            let (resolver, state) = (self.resolver.clone(), self.state.clone());
            let spawned = std::thread::Builder::new()
                .name("ringload-resolve".into())
                .spawn(move || helper(&*resolver, &state));
            if spawned.is_ok() {
                queue.threads += 1;
            } else if queue.threads == 0 {
                // No thread could start and none will: answer here rather than never.
                let job = queue.jobs.pop_back().expect("pushed above");
                drop(queue);
                (job.answer)(Err(io::Error::other(
                    "cannot start a thread to look up the host name",
                )));
            }
        }
    }
}

fn helper(resolver: &dyn Resolve, state: &(Mutex<Queue>, Condvar)) {
    let (lock, wake) = state;
    let mut queue = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            drop(queue);
            let answer = resolver.resolve(&job.host, job.port);
            (job.answer)(answer);
            queue = lock.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        queue.idle += 1;
        let (next, waited) = wake
            .wait_timeout(queue, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        queue = next;
        queue.idle -= 1;
        if waited.timed_out() && queue.jobs.is_empty() {
            queue.threads -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// Slow for `slow.test`, instant for anything else (always 127.0.0.1).
    struct SlowFor(Duration);

    impl Resolve for SlowFor {
        fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
            if host == "slow.test" {
                std::thread::sleep(self.0);
            }
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }
    }

    fn lookup(lookups: &Lookups, host: &str, done: &mpsc::Sender<String>) {
        let (done, name) = (done.clone(), host.to_string());
        lookups.submit(Job {
            host: host.into(),
            port: 80,
            answer: Box::new(move |answer| {
                assert!(answer.is_ok());
                let _ = done.send(name);
            }),
        });
    }

    #[test]
    fn a_slow_lookup_does_not_hold_up_the_others() {
        let lookups = Lookups::new(Arc::new(SlowFor(Duration::from_millis(800))));
        let (done, answers) = mpsc::channel();
        let start = Instant::now();
        lookup(&lookups, "slow.test", &done);
        for _ in 0..20 {
            lookup(&lookups, "fast.test", &done);
            assert_eq!(answers.recv().unwrap(), "fast.test");
        }
        assert!(start.elapsed() < Duration::from_millis(500));
        assert_eq!(answers.recv().unwrap(), "slow.test");
    }

    #[test]
    fn literals_need_no_lookup() {
        assert_eq!(
            literal("::1", 81),
            Some(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 81)))
        );
        assert_eq!(
            literal("127.0.0.1", 80),
            Some(SocketAddr::from(([127, 0, 0, 1], 80)))
        );
        assert_eq!(literal("localhost", 80), None);
    }
}
