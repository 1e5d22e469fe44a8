//! What the client thread holds per connection, measured by the heap it allocates: a Locust user
//! waits seconds between requests, so with thousands of users most connections sit idle in their
//! pools, and at a spawn every user's first request is in flight at once. Both must stay small
//! (an idle connection used to keep a 16 KiB read buffer, and a request in flight 22 KiB).
//!
//! Its own test binary: the global allocator here counts the bytes that the engine thread
//! allocated and that are still live, wherever they are freed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use ringload_engine::client::{Client, ClientRequest, ClientTls, Completion, Outcome};
use ringload_engine::{IoMode, Scheme};
use ringload_target::hostile::{HostileServer, Step};

/// Every block carries a header saying whether the engine thread allocated it.
struct EngineHeap;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static TRACKING: AtomicBool = AtomicBool::new(false);
/// The engine thread's name, as `Client::start` gives it.
const ENGINE_THREAD: &[u8] = b"ringload-client";

thread_local! {
    /// 0: not looked yet, 1: the engine thread, 2: another thread.
    static ON_ENGINE: Cell<u8> = const { Cell::new(0) };
}

fn on_engine_thread() -> bool {
    ON_ENGINE.with(|state| {
        if state.get() == 0 {
            let mut name = [0u8; 16];
            // SAFETY: PR_GET_NAME writes at most 16 bytes into the buffer; it allocates nothing.
            unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
            let len = name.iter().position(|&b| b == 0).unwrap_or(16);
            state.set(if &name[..len] == ENGINE_THREAD { 1 } else { 2 });
        }
        state.get() == 1
    })
}

fn with_header(layout: Layout) -> (Layout, usize) {
    let header = layout.align().max(16);
    let full = Layout::from_size_align(layout.size() + header, header).unwrap();
    (full, header)
}

// SAFETY: forwards to the system allocator with room for a header in front of every block.
unsafe impl GlobalAlloc for EngineHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (full, header) = with_header(layout);
        // SAFETY: `full` has a non-zero size.
        let base = unsafe { System.alloc(full) };
        if base.is_null() {
            return base;
        }
        let engine = TRACKING.load(Ordering::Relaxed) && on_engine_thread();
        // SAFETY: the header lies inside the block just allocated.
        unsafe { *base = u8::from(engine) };
        if engine {
            let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            PEAK.fetch_max(live + layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: within the block.
        unsafe { base.add(header) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let (full, header) = with_header(layout);
        // SAFETY: `ptr` came from `alloc` above, `header` bytes into its block.
        let base = unsafe { ptr.sub(header) };
        // SAFETY: the header written by `alloc`.
        if unsafe { *base } == 1 {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the block and layout `alloc` got from the system allocator.
        unsafe { System.dealloc(base, full) }
    }
}

#[global_allocator]
static HEAP: EngineHeap = EngineHeap;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n\
    Content-Length: 17\r\nConnection: keep-alive\r\n\r\nhello from nginx\n";

fn request(token: u64, port: u16) -> ClientRequest {
    ClientRequest {
        token,
        // A session per request: each one is a Locust user with its own pool.
        session: token,
        scheme: Scheme::Http,
        host: "127.0.0.1".into(),
        port,
        bytes: b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
            .to_vec(),
        is_head: false,
        idempotent: true,
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(10),
        tls: ClientTls::Insecure,
        max_connections: 10,
        proxy: None,
        stream: false,
        decode: true,
    }
}

/// Waits for `n` completions, dropping them (their bytes count as freed).
fn complete(client: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut done: Vec<Completion> = Vec::new();
    let mut seen = 0;
    while seen < n {
        assert!(
            Instant::now() < deadline,
            "{seen} of {n} requests completed"
        );
        let mut poll = libc::pollfd {
            fd: client.completion_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, 1000) };
        client.drain(&mut done);
        for completion in done.drain(..) {
            assert!(
                matches!(&completion.outcome, Outcome::Response(r) if r.status == 200),
                "request {} failed: {:?}",
                completion.token,
                completion.outcome
            );
            seen += 1;
        }
    }
}

#[test]
fn idle_connections_and_requests_in_flight_hold_little_heap() {
    const USERS: u64 = 200;
    // Every request waits while the others arrive: all of them are in flight together.
    let server = HostileServer::play(vec![
        Step::Read,
        Step::Sleep(Duration::from_millis(300)),
        Step::send(RESPONSE),
        Step::Repeat,
    ])
    .unwrap();
    let port = server.addr().port();
    let client = Client::start(IoMode::Auto).unwrap();
    // The engine's own start-up (its runtime, its first pool) is not per connection.
    client.submit(request(0, port)).unwrap();
    client.flush().unwrap();
    complete(&client, 1);

    TRACKING.store(true, Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    for token in 1..=USERS {
        client.submit(request(token, port)).unwrap();
    }
    client.flush().unwrap();
    complete(&client, USERS as usize);
    let in_flight = (PEAK.load(Ordering::Relaxed) - base) / USERS as isize;
    let idle = (LIVE.load(Ordering::Relaxed) - base) / USERS as isize;
    TRACKING.store(false, Ordering::Relaxed);
    eprintln!("engine heap: {in_flight} bytes per request in flight, {idle} per idle connection");

    // The request's task, its read buffer (4 KiB until a read fills it) and the response.
    assert!(
        in_flight <= 8 * 1024,
        "{in_flight} bytes of engine heap per request in flight"
    );
    // The connection and its pool, without buffers.
    assert!(
        idle <= 1024,
        "{idle} bytes of engine heap per idle pooled connection"
    );
    assert_eq!(server.requests(), USERS + 1);
}
