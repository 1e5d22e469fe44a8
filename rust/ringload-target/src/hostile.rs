//! A scriptable hostile server: raw TCP (optionally TLS) that plays canned byte scripts, for
//! testing what a client does when a server misbehaves.
//!
//! Every accepted connection runs the script in its own thread. A script is either a list of
//! [`Step`]s (`HostileServer::play`) or a closure over a [`Session`] (`HostileServer::start`)
//! for servers that decide per request (the chaos test picks an outcome at random and
//! [`Session::log`]s it). The server counts connections and complete requests, and records the
//! SNI name each TLS client sent.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use ringload_target::hostile::{HostileServer, Step};
//!
//! // Answer once with a body longer than its Content-Length, then keep the connection open.
//! let server = HostileServer::play(vec![
//!     Step::Read,
//!     Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
//!     Step::Repeat,
//! ])?;
//! let mut stream = TcpStream::connect(server.addr())?;
//! stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
//! let mut buf = [0u8; 64];
//! let n = stream.read(&mut buf)?;
//! assert!(buf[..n].ends_with(b"okEXTRA"));
//! drop(stream);
//! drop(server);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tls::{server_config, TlsIdentity};

/// Largest request head the server reads before giving up on a connection.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// How often a sleeping or trickling script checks whether the server is stopping.
const STOP_POLL: Duration = Duration::from_millis(20);

/// One action of a canned script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read one complete request (head, and a body framed by Content-Length or chunked) and
    /// count it. The script ends if the client closes instead.
    Read,
    /// Read and count one request head, leaving any body unread (a server that answers early).
    ReadHead,
    /// Write these bytes.
    Send(Vec<u8>),
    /// Write these bytes one at a time, pausing `every` between them.
    Trickle(Vec<u8>, Duration),
    Sleep(Duration),
    /// Orderly close: TLS close_notify (when serving TLS), then FIN.
    Close,
    /// Close the TCP connection without TLS close_notify (same as `Close` for plain TCP).
    CloseWithoutNotify,
    /// Abortive close: the client sees a reset (RST).
    Reset,
    /// Shut down the sending side (FIN), then read until the client closes.
    HalfClose,
    /// Keep the connection open without answering until the client closes it.
    Hold,
    /// Start the script over on the same connection (a keep-alive server).
    Repeat,
}

impl Step {
    pub fn send(bytes: impl AsRef<[u8]>) -> Step {
        Step::Send(bytes.as_ref().to_vec())
    }
}

type Script = dyn Fn(&mut Session) + Send + Sync;

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connections: AtomicU64,
    requests: AtomicU64,
    log: Mutex<Vec<&'static str>>,
    sni: Mutex<Vec<Option<String>>>,
    /// Clones of live sockets by connection index, shut down when the server stops so blocked
    /// scripts return.
    live: Mutex<Vec<(u64, TcpStream)>>,
    sessions: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running hostile server on 127.0.0.1 (a free port). Dropping it stops accepting, cuts every
/// live connection and waits for every script thread, so no socket outlives it.
pub struct HostileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl HostileServer {
    /// Plays `steps` on every connection.
    pub fn play(steps: Vec<Step>) -> io::Result<HostileServer> {
        HostileServer::start(move |session| session.play(&steps))
    }

    /// Runs `script` on every connection (plain TCP).
    pub fn start(script: impl Fn(&mut Session) + Send + Sync + 'static) -> io::Result<Self> {
        HostileServer::spawn(None, Arc::new(script))
    }

    /// Runs `script` on every connection after a TLS handshake with `identity`.
    pub fn start_tls(
        identity: &TlsIdentity,
        script: impl Fn(&mut Session) + Send + Sync + 'static,
    ) -> io::Result<Self> {
        HostileServer::spawn(Some(server_config(identity, false)?), Arc::new(script))
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>, script: Arc<Script>) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = std::thread::Builder::new()
            .name("hostile-accept".into())
            .spawn({
                let shared = shared.clone();
                move || accept_loop(listener, tls, script, shared)
            })?;
        Ok(HostileServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Complete requests read so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// What scripts recorded with [`Session::log`], in order.
    pub fn log(&self) -> Vec<&'static str> {
        lock(&self.shared.log).clone()
    }

    /// The SNI name of each TLS handshake that got that far (None: the client sent none).
    pub fn sni(&self) -> Vec<Option<String>> {
        lock(&self.shared.sni).clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes accept()
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for (_, stream) in lock(&self.shared.live).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let sessions: Vec<_> = lock(&self.shared.sessions).drain(..).collect();
        for session in sessions {
            let _ = session.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    script: Arc<Script>,
    shared: Arc<Shared>,
) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of descriptors, say: wait instead of spinning on accept().
            std::thread::sleep(STOP_POLL);
            continue;
        };
        lock(&shared.sessions).retain(|session| !session.is_finished());
        let index = shared.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.live).push((index, clone));
        }
        let (script, shared_for_session, tls) = (script.clone(), shared.clone(), tls.clone());
        let handle = std::thread::Builder::new()
            .name("hostile-session".into())
            .spawn(move || {
                let Some(mut session) = Session::new(stream, tls, index, shared_for_session) else {
                    return;
                };
                script(&mut session);
            });
        if let Ok(handle) = handle {
            lock(&shared.sessions).push(handle);
        }
    }
}

enum Transport {
    Plain,
    Tls(Box<rustls::ServerConnection>),
}

/// One accepted connection, as a script sees it. Every method is best effort: once the client
/// has gone, writes are dropped and reads report the end.
pub struct Session {
    tcp: TcpStream,
    transport: Transport,
    index: u64,
    shared: Arc<Shared>,
    /// Received bytes not yet consumed by `read_request`.
    pending: Vec<u8>,
    /// The head of the last request read, lowercased.
    last_head: String,
    open: bool,
    /// HTTP/2: the client's preface was read.
    h2_preface_read: bool,
}

impl Drop for Session {
    /// The script is over: close the connection (the server's stop list holds the other handle
    /// to the socket, which would keep it open).
    fn drop(&mut self) {
        lock(&self.shared.live).retain(|(index, _)| *index != self.index);
    }
}

impl Session {
    fn new(
        tcp: TcpStream,
        tls: Option<Arc<rustls::ServerConfig>>,
        index: u64,
        shared: Arc<Shared>,
    ) -> Option<Session> {
        let transport = match tls {
            None => Transport::Plain,
            Some(config) => Transport::Tls(Box::new(rustls::ServerConnection::new(config).ok()?)),
        };
        let mut session = Session {
            tcp,
            transport,
            index,
            shared,
            pending: Vec::new(),
            last_head: String::new(),
            open: true,
            h2_preface_read: false,
        };
        if let Transport::Tls(_) = session.transport {
            session.handshake()?;
        }
        Some(session)
    }

    fn handshake(&mut self) -> Option<()> {
        let Transport::Tls(conn) = &mut self.transport else {
            return Some(());
        };
        while conn.is_handshaking() {
            if conn.complete_io(&mut self.tcp).is_err() {
                // A handshake the client gave up (say, it rejected our certificate) still
                // records the name its ClientHello carried.
                if let Some(name) = conn.server_name() {
                    lock(&self.shared.sni).push(Some(name.to_string()));
                }
                return None;
            }
        }
        lock(&self.shared.sni).push(conn.server_name().map(str::to_string));
        Some(())
    }

    /// 0 for the first connection the server accepted, 1 for the second, ...
    pub fn connection_index(&self) -> u64 {
        self.index
    }

    /// Records what the script did (for tests that compare with the client's counts).
    pub fn log(&self, what: &'static str) {
        lock(&self.shared.log).push(what);
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Plays `steps`; `Step::Repeat` starts over while the connection is open.
    pub fn play(&mut self, steps: &[Step]) {
        'script: loop {
            for step in steps {
                if !self.open || self.stopping() {
                    return;
                }
                match step {
                    Step::Read => {
                        if !self.read_request() {
                            return;
                        }
                    }
                    Step::ReadHead => {
                        if self.read_head().is_none() {
                            return;
                        }
                        self.shared.requests.fetch_add(1, Ordering::SeqCst);
                    }
                    Step::Send(bytes) => self.send(bytes),
                    Step::Trickle(bytes, every) => self.trickle(bytes, *every),
                    Step::Sleep(duration) => self.sleep(*duration),
                    Step::Close => self.close(),
                    Step::CloseWithoutNotify => self.close_without_notify(),
                    Step::Reset => self.reset(),
                    Step::HalfClose => self.half_close(),
                    Step::Hold => self.hold(),
                    Step::Repeat => continue 'script,
                }
            }
            return;
        }
    }

    /// Reads one request: the head, then a Content-Length or chunked body. Returns false (and
    /// counts nothing) when the client closes or sends something that is not a request.
    pub fn read_request(&mut self) -> bool {
        let Some(head) = self.read_head() else {
            return false;
        };
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let complete = if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            self.skip_chunked_body()
        } else {
            let length = header("content-length")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            self.skip_bytes(length)
        };
        if complete {
            self.shared.requests.fetch_add(1, Ordering::SeqCst);
        }
        complete
    }

    /// Reads a request head (lowercased), without counting it.
    fn read_head(&mut self) -> Option<String> {
        let head_end = loop {
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                break end + 4;
            }
            if self.pending.len() > MAX_REQUEST_HEAD || !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.pending[..head_end]).to_ascii_lowercase();
        self.pending.drain(..head_end);
        self.last_head.clone_from(&head);
        Some(head)
    }

    /// HTTP/2: reads the client's frames (its preface first) until a request is complete (a
    /// HEADERS or DATA frame with END_STREAM), counts it and returns its stream. Every other
    /// frame is read and ignored. `None` when the client closes first.
    pub fn read_h2_request(&mut self) -> Option<u32> {
        use ringload_h2::frame::{flag, kind, PREFACE};
        if !self.h2_preface_read {
            while self.pending.len() < PREFACE.len() {
                if !self.fill() {
                    return None;
                }
            }
            if !self.pending.starts_with(PREFACE) {
                return None;
            }
            self.pending.drain(..PREFACE.len());
            self.h2_preface_read = true;
        }
        while let Some((header, _)) = self.read_h2_frame() {
            if matches!(header.kind, kind::HEADERS | kind::DATA) && header.has(flag::END_STREAM) {
                self.shared.requests.fetch_add(1, Ordering::SeqCst);
                return Some(header.stream);
            }
        }
        None
    }

    /// Reads the client's frames until its GOAWAY: `(last stream, error code)`, or `None` when
    /// the connection ends first.
    pub fn read_h2_goaway(&mut self) -> Option<(u32, u32)> {
        use ringload_h2::frame::kind;
        while let Some((header, payload)) = self.read_h2_frame() {
            if header.kind == kind::GOAWAY && payload.len() >= 8 {
                let word = |at: usize| {
                    u32::from_be_bytes(payload[at..at + 4].try_into().expect("4 bytes"))
                };
                return Some((word(0) & 0x7fff_ffff, word(4)));
            }
        }
        None
    }

    /// The client's next whole frame: its header and payload. `None` when the client closes
    /// first.
    fn read_h2_frame(&mut self) -> Option<(ringload_h2::frame::FrameHeader, Vec<u8>)> {
        use ringload_h2::frame::{FrameHeader, HEADER_LEN};
        loop {
            if let Some(header) = FrameHeader::parse(&self.pending) {
                let end = HEADER_LEN + header.len as usize;
                if self.pending.len() >= end {
                    let payload = self.pending[HEADER_LEN..end].to_vec();
                    self.pending.drain(..end);
                    return Some((header, payload));
                }
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The head (request line and fields, lowercased) of the last request read.
    pub fn last_request_head(&self) -> &str {
        &self.last_head
    }

    fn skip_bytes(&mut self, mut n: usize) -> bool {
        loop {
            let available = n.min(self.pending.len());
            self.pending.drain(..available);
            n -= available;
            if n == 0 {
                return true;
            }
            if !self.fill() {
                return false;
            }
        }
    }

    fn skip_chunked_body(&mut self) -> bool {
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.pending, b"\r\n") {
                    break end;
                }
                if !self.fill() {
                    return false;
                }
            };
            let line = String::from_utf8_lossy(&self.pending[..line_end]).into_owned();
            self.pending.drain(..line_end + 2);
            let size_text = line.split(';').next().unwrap_or("").trim();
            let Ok(size) = usize::from_str_radix(size_text, 16) else {
                return false;
            };
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let end = loop {
                        if let Some(end) = find(&self.pending, b"\r\n") {
                            break end;
                        }
                        if !self.fill() {
                            return false;
                        }
                    };
                    self.pending.drain(..end + 2);
                    if end == 0 {
                        return true;
                    }
                }
            }
            if !size.checked_add(2).is_some_and(|n| self.skip_bytes(n)) {
                return false;
            }
        }
    }

    /// Reads more bytes into `pending`; false at end of stream or on error.
    fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        let n = match &mut self.transport {
            Transport::Plain => self.tcp.read(&mut buf),
            Transport::Tls(conn) => {
                rustls::Stream::new(conn.as_mut(), &mut self.tcp).read(&mut buf)
            }
        };
        match n {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let result = match &mut self.transport {
            Transport::Plain => self.tcp.write_all(bytes),
            Transport::Tls(conn) => {
                rustls::Stream::new(conn.as_mut(), &mut self.tcp).write_all(bytes)
            }
        };
        if result.is_err() {
            self.open = false;
        }
    }

    pub fn trickle(&mut self, bytes: &[u8], every: Duration) {
        for byte in bytes {
            if !self.open || self.stopping() {
                return;
            }
            self.send(std::slice::from_ref(byte));
            self.sleep(every);
        }
    }

    /// Sleeps, returning early when the server stops.
    pub fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    pub fn close(&mut self) {
        if let Transport::Tls(conn) = &mut self.transport {
            conn.send_close_notify();
            let _ = conn.complete_io(&mut self.tcp);
        }
        self.close_without_notify();
    }

    pub fn close_without_notify(&mut self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
        self.open = false;
    }

    /// Closes with SO_LINGER 0, so the kernel sends RST instead of FIN.
    pub fn reset(&mut self) {
        // Only closing the last descriptor of the socket resets it: drop the server's clone.
        lock(&self.shared.live).retain(|(index, _)| *index != self.index);
        reset_socket_keep_descriptor(&self.tcp);
        self.open = false;
    }

    pub fn half_close(&mut self) {
        if let Transport::Tls(conn) = &mut self.transport {
            conn.send_close_notify();
            let _ = conn.complete_io(&mut self.tcp);
        }
        let _ = self.tcp.shutdown(Shutdown::Write);
        self.hold();
    }

    /// Sends `bytes` over and over, whole, and never reads again, until the client closes (or
    /// the server stops): a server that stopped reading. Plain connections only.
    pub fn send_without_reading(&mut self, bytes: &[u8]) {
        let _ = self.tcp.set_write_timeout(Some(STOP_POLL));
        let mut at = 0;
        self.repeat_until_closed(|tcp| {
            let n = tcp.write(&bytes[at..])?;
            at = (at + n) % bytes.len();
            Ok(n)
        });
    }

    /// Reads and discards until the client closes (or the server stops).
    pub fn hold(&mut self) {
        let _ = self.tcp.set_read_timeout(Some(STOP_POLL * 5));
        let mut buf = [0u8; 4096];
        self.repeat_until_closed(|tcp| tcp.read(&mut buf));
    }

    /// Runs `step` (a read or a write under a socket timeout) until it moves no byte or fails,
    /// or the server stops; a step that timed out runs again.
    fn repeat_until_closed(&mut self, mut step: impl FnMut(&mut TcpStream) -> io::Result<usize>) {
        while !self.stopping() {
            match step(&mut self.tcp) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        self.open = false;
    }
}

/// Closes the socket behind `stream` now with SO_LINGER 0, so the kernel resets the connection
/// (`shutdown` would send FIN instead), while `stream` keeps a valid descriptor for its drop.
fn reset_socket_keep_descriptor(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger` for its size; socket() returns a new descriptor or -1;
    // dup3 atomically closes `fd`'s socket and reuses the number (close-on-exec, as std opens
    // every descriptor), so `stream` still owns a valid descriptor for its drop.
    unsafe {
        let set = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        debug_assert_eq!(set, 0, "SO_LINGER on a TCP socket");
        let placeholder = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if placeholder >= 0 {
            libc::dup3(placeholder, fd, libc::O_CLOEXEC);
            libc::close(placeholder);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// HTTP/2 frames for hostile scripts, built by hand so that each stands alone (no HPACK state).
pub mod h2 {
    use ringload_h2::frame::{self, flag, kind};

    /// A frame of any kind, with any flags and payload.
    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + payload.len());
        frame::push_header(&mut out, payload.len(), kind, flags, stream);
        out.extend_from_slice(payload);
        out
    }

    /// The server's SETTINGS.
    pub fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        frame::push_settings(&mut out, entries);
        out
    }

    /// A response head: `:status` as a literal without indexing (HPACK's static name 8).
    pub fn head(stream: u32, status: u16, end_stream: bool) -> Vec<u8> {
        let status = status.to_string();
        let mut block = vec![0x08, status.len() as u8];
        block.extend_from_slice(status.as_bytes());
        let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
        frame(kind::HEADERS, flags, stream, &block)
    }

    /// A whole response: head and a body in one DATA frame.
    pub fn response(stream: u32, status: u16, body: &[u8]) -> Vec<u8> {
        let mut out = head(stream, status, body.is_empty());
        if !body.is_empty() {
            out.extend(frame(kind::DATA, flag::END_STREAM, stream, body));
        }
        out
    }

    pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
        frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
    }

    pub fn goaway(last_stream: u32, code: u32) -> Vec<u8> {
        let mut payload = last_stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&code.to_be_bytes());
        frame(kind::GOAWAY, 0, 0, &payload)
    }
}
