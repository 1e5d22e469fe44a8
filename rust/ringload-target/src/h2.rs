//! HTTP/2 on the target (`ServerConfig::http2`): h2c with prior knowledge on plain TCP, `h2` by
//! ALPN over TLS. The same routes as HTTP/1.1. One thread per connection, as for HTTP/1.1: the
//! connection's streams are answered in the order their requests complete, and a `/delay` when
//! it is due, without holding the streams behind it (as a server handling streams concurrently
//! would). Frames and HPACK come from `ringload-h2`.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use ringload_h2::frame::{self, flag, kind, setting, ErrorCode, FrameHeader, HEADER_LEN};
use ringload_h2::hpack::{Decoder, Encoder};

use crate::request::{Framing, Request};
use crate::response::{Body, Reply};
use crate::routes::{self, Route};
use crate::shared::Shared;
use crate::transport::Transport;

/// How often a connection waiting for a delayed answer looks for a stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Streams a client may open at once.
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Request bodies we accept per stream, as HTTP/1.1's limit.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Our receive window per stream and for the connection.
const RECEIVE_WINDOW: u32 = 16 * 1024 * 1024;
/// Largest response header list and request header block we accept.
const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// A request whose frames are still arriving.
struct Incoming {
    id: u32,
    path: String,
    is_head: bool,
    content_type: Option<Vec<u8>>,
    header_lines: Vec<u8>,
    body: Vec<u8>,
    keeps_body: bool,
}

struct Connection<S> {
    io: S,
    out: Vec<u8>,
    encoder: Encoder,
    decoder: Decoder,
    /// What the client lets us send: on the connection, and on each new stream at first.
    send_window: i64,
    initial_stream_window: i64,
    /// Per stream whose response waits for window: (stream, window).
    stream_windows: Vec<(u32, i64)>,
    max_frame_size: usize,
    incoming: Vec<Incoming>,
    complete: VecDeque<Incoming>,
    /// `/delay` requests, with when each is to be answered.
    delayed: Vec<(Instant, Incoming)>,
    /// The socket's reads time out (for the next delayed answer).
    timed_reads: bool,
    last_stream: u32,
    goaway: bool,
    /// Bytes read but not yet a whole frame.
    input: Vec<u8>,
}

/// Serves HTTP/2 on `io` until the client goes away.
pub(crate) fn serve<S: Transport>(io: S, shared: &Shared) {
    let mut conn = Connection {
        io,
        out: Vec::with_capacity(16 * 1024),
        encoder: Encoder::default(),
        decoder: Decoder::default(),
        send_window: i64::from(frame::DEFAULT_WINDOW),
        initial_stream_window: i64::from(frame::DEFAULT_WINDOW),
        stream_windows: Vec::new(),
        max_frame_size: frame::MIN_MAX_FRAME_SIZE as usize,
        incoming: Vec::new(),
        complete: VecDeque::new(),
        delayed: Vec::new(),
        timed_reads: false,
        last_stream: 0,
        goaway: false,
        input: Vec::with_capacity(64 * 1024),
    };
    let _ = conn.run(shared);
}

/// Reads the client's preface from `io`: true when it is HTTP/2's.
fn read_preface(io: &mut impl Read) -> io::Result<bool> {
    let mut preface = [0u8; 24];
    io.read_exact(&mut preface)?;
    Ok(preface == frame::PREFACE)
}

impl<S: Transport> Connection<S> {
    fn run(&mut self, shared: &Shared) -> io::Result<()> {
        if !read_preface(&mut self.io)? {
            return Ok(());
        }
        frame::push_settings(
            &mut self.out,
            &[
                (setting::MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
                (setting::INITIAL_WINDOW_SIZE, RECEIVE_WINDOW),
            ],
        );
        frame::push_window_update(&mut self.out, 0, RECEIVE_WINDOW - frame::DEFAULT_WINDOW);
        self.flush()?;
        loop {
            while let Some(request) = self.complete.pop_front() {
                shared.record(&request.path);
                if let Route::Delay(delay) = routes::resolve(&request.path) {
                    self.delayed.push((Instant::now() + delay, request));
                } else if !self.respond(request)? {
                    return Ok(());
                }
            }
            let now = Instant::now();
            while let Some(at) = self.delayed.iter().position(|(due, _)| *due <= now) {
                let (_, request) = self.delayed.swap_remove(at);
                if !self.respond(request)? {
                    return Ok(());
                }
            }
            self.flush()?;
            if self.goaway || shared.stop.is_set() {
                return Ok(());
            }
            // Read until the next delayed answer is due (checking for a stop now and then).
            let wait = self
                .delayed
                .iter()
                .map(|(due, _)| due.saturating_duration_since(now))
                .min();
            let wait = wait.map(|w| w.clamp(Duration::from_millis(1), STOP_POLL));
            if wait.is_some() || self.timed_reads {
                self.io.tcp().set_read_timeout(wait)?;
                self.timed_reads = wait.is_some();
            }
            match self.read_more() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what the client sent and handles its complete frames; false at its end.
    fn read_more(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        let n = self.io.read(&mut buf)?;
        if n == 0 {
            return Ok(false);
        }
        self.input.extend_from_slice(&buf[..n]);
        let input = std::mem::take(&mut self.input);
        let used = self.receive(&input);
        self.input = input;
        self.input.drain(..used?);
        Ok(true)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out)?;
            self.out.clear();
        }
        self.io.flush()
    }

    /// Handles every complete frame in `input`; returns the bytes used.
    fn receive(&mut self, input: &[u8]) -> io::Result<usize> {
        let mut used = 0;
        while let Some(header) = FrameHeader::parse(&input[used..]) {
            let end = used + HEADER_LEN + header.len as usize;
            if header.len as usize > frame::MIN_MAX_FRAME_SIZE as usize {
                return self.fail(ErrorCode::FRAME_SIZE_ERROR);
            }
            if input.len() < end {
                break;
            }
            self.on_frame(header, &input[used + HEADER_LEN..end])?;
            used = end;
        }
        Ok(used)
    }

    fn fail(&mut self, code: ErrorCode) -> io::Result<usize> {
        frame::push_goaway(&mut self.out, self.last_stream, code);
        self.flush()?;
        Err(io::Error::new(io::ErrorKind::InvalidData, code.name()))
    }

    fn on_frame(&mut self, header: FrameHeader, payload: &[u8]) -> io::Result<()> {
        match header.kind {
            kind::SETTINGS if !header.has(flag::ACK) => {
                for entry in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([entry[0], entry[1]]);
                    let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
                    match id {
                        setting::INITIAL_WINDOW_SIZE => {
                            let delta = i64::from(value) - self.initial_stream_window;
                            self.initial_stream_window = i64::from(value);
                            for (_, window) in &mut self.stream_windows {
                                *window += delta;
                            }
                        }
                        setting::MAX_FRAME_SIZE => self.max_frame_size = value as usize,
                        setting::HEADER_TABLE_SIZE => {
                            self.encoder.set_peer_table_size(value as usize)
                        }
                        _ => {}
                    }
                }
                frame::push_settings_ack(&mut self.out);
            }
            kind::PING if !header.has(flag::ACK) && payload.len() == 8 => {
                let mut opaque = [0u8; 8];
                opaque.copy_from_slice(payload);
                frame::push_ping(&mut self.out, true, opaque);
            }
            kind::WINDOW_UPDATE if payload.len() == 4 => {
                let increment = i64::from(
                    u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & frame::MAX_WINDOW,
                );
                if header.stream == 0 {
                    self.send_window += increment;
                } else if let Some((_, window)) = self
                    .stream_windows
                    .iter_mut()
                    .find(|(s, _)| *s == header.stream)
                {
                    *window += increment;
                }
            }
            kind::HEADERS => self.on_headers(header, payload)?,
            kind::CONTINUATION => {
                // This server takes header blocks in one frame (clients send small ones).
                self.fail(ErrorCode::PROTOCOL_ERROR)?;
            }
            kind::DATA => self.on_data(header, payload)?,
            kind::RST_STREAM => {
                self.incoming.retain(|r| r.id != header.stream);
                self.stream_windows.retain(|(s, _)| *s != header.stream);
            }
            kind::GOAWAY => self.goaway = true,
            _ => {}
        }
        Ok(())
    }

    fn on_headers(&mut self, header: FrameHeader, payload: &[u8]) -> io::Result<()> {
        let Some(mut block) = frame::unpadded(&header, payload) else {
            self.fail(ErrorCode::PROTOCOL_ERROR)?;
            return Ok(());
        };
        if header.has(flag::PRIORITY) {
            block = block.get(5..).unwrap_or_default();
        }
        if !header.has(flag::END_HEADERS) || header.stream % 2 == 0 {
            self.fail(ErrorCode::PROTOCOL_ERROR)?;
        }
        self.last_stream = self.last_stream.max(header.stream);
        let mut request = Incoming {
            id: header.stream,
            path: String::new(),
            is_head: false,
            content_type: None,
            header_lines: Vec::new(),
            body: Vec::new(),
            keeps_body: false,
        };
        let decoded = self.decoder.decode(block, MAX_HEADER_BLOCK, |name, value| {
            match name {
                b":path" => {
                    let path = String::from_utf8_lossy(value);
                    request.path = path.split('?').next().unwrap_or("").to_string();
                }
                b":method" => request.is_head = value == b"HEAD",
                b"content-type" => request.content_type = Some(value.to_vec()),
                _ => {}
            }
            if !name.starts_with(b":") {
                request.header_lines.extend_from_slice(name);
                request.header_lines.extend_from_slice(b": ");
                request.header_lines.extend_from_slice(value);
                request.header_lines.push(b'\n');
            }
        });
        if decoded.is_err() {
            self.fail(ErrorCode::COMPRESSION_ERROR)?;
        }
        request.keeps_body = routes::resolve(&request.path).keeps_body();
        if header.has(flag::END_STREAM) {
            self.complete.push_back(request);
        } else {
            self.incoming.push(request);
        }
        Ok(())
    }

    fn on_data(&mut self, header: FrameHeader, payload: &[u8]) -> io::Result<()> {
        // Credit the client at once: this server never holds a body back.
        if header.len > 0 {
            frame::push_window_update(&mut self.out, 0, header.len);
            frame::push_window_update(&mut self.out, header.stream, header.len);
        }
        let data = frame::unpadded(&header, payload).unwrap_or_default();
        let Some(at) = self.incoming.iter().position(|r| r.id == header.stream) else {
            return Ok(());
        };
        let request = &mut self.incoming[at];
        if request.keeps_body {
            if request.body.len() + data.len() > MAX_BODY {
                frame::push_rst_stream(&mut self.out, header.stream, ErrorCode::REFUSED_STREAM);
                self.incoming.swap_remove(at);
                return Ok(());
            }
            request.body.extend_from_slice(data);
        }
        if header.has(flag::END_STREAM) {
            let request = self.incoming.swap_remove(at);
            self.complete.push_back(request);
        }
        Ok(())
    }

    /// Answers `request`; false when the connection is to close after it.
    fn respond(&mut self, request: Incoming) -> io::Result<bool> {
        let route = routes::resolve(&request.path);
        let stream = request.id;
        let is_head = request.is_head;
        let http1_request = Request {
            is_head,
            is_http10: false,
            path: request.path,
            keep_alive: true,
            framing: Framing::None,
            expect_continue: false,
            content_type: request.content_type,
            header_lines: request.header_lines,
        };
        let body = request.keeps_body.then_some(request.body);
        let reply = routes::handle(route, http1_request, body);
        self.send_reply(stream, &reply, is_head)?;
        if reply.close {
            frame::push_goaway(&mut self.out, self.last_stream, ErrorCode::NO_ERROR);
            self.flush()?;
            return Ok(false);
        }
        Ok(true)
    }

    fn send_reply(&mut self, stream: u32, reply: &Reply, is_head: bool) -> io::Result<()> {
        let len = match &reply.body {
            Body::None => None,
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Fill(n) | Body::Chunked(n) => Some(*n),
        };
        let mut block = Vec::with_capacity(64);
        self.encoder.begin_block(&mut block);
        let status = reply.status.to_string();
        self.encoder
            .encode(b":status", status.as_bytes(), false, &mut block);
        self.encoder
            .encode(b"server", b"ringload-target", false, &mut block);
        if let Some(content_type) = &reply.content_type {
            self.encoder
                .encode(b"content-type", content_type, false, &mut block);
        }
        if let Some(len) = len {
            self.encoder.encode(
                b"content-length",
                len.to_string().as_bytes(),
                false,
                &mut block,
            );
        }
        let body_len = if is_head { 0 } else { len.unwrap_or(0) };
        let flags = flag::END_HEADERS | if body_len == 0 { flag::END_STREAM } else { 0 };
        frame::push_header(&mut self.out, block.len(), kind::HEADERS, flags, stream);
        self.out.extend_from_slice(&block);
        if body_len == 0 {
            return Ok(());
        }
        self.stream_windows
            .push((stream, self.initial_stream_window));
        let mut sent = 0u64;
        while sent < body_len {
            let window = self.window_of(stream).min(self.send_window);
            if window <= 0 {
                // Wait for the client's WINDOW_UPDATE, answering its other frames meanwhile.
                self.flush()?;
                if !self.read_more()? {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                if !self.stream_windows.iter().any(|(s, _)| *s == stream) {
                    // The client reset the stream.
                    return Ok(());
                }
                continue;
            }
            let chunk = (body_len - sent)
                .min(window as u64)
                .min(self.max_frame_size as u64) as usize;
            let last = sent + chunk as u64 == body_len;
            let flags = if last { flag::END_STREAM } else { 0 };
            frame::push_header(&mut self.out, chunk, kind::DATA, flags, stream);
            match &reply.body {
                Body::Bytes(bytes) => {
                    self.out
                        .extend_from_slice(&bytes[sent as usize..sent as usize + chunk]);
                }
                _ => self.out.resize(self.out.len() + chunk, b'x'),
            }
            sent += chunk as u64;
            self.send_window -= chunk as i64;
            if let Some((_, w)) = self.stream_windows.iter_mut().find(|(s, _)| *s == stream) {
                *w -= chunk as i64;
            }
            if self.out.len() >= 64 * 1024 {
                self.flush()?;
            }
        }
        self.stream_windows.retain(|(s, _)| *s != stream);
        Ok(())
    }

    fn window_of(&self, stream: u32) -> i64 {
        self.stream_windows
            .iter()
            .find(|(s, _)| *s == stream)
            .map_or(0, |(_, w)| *w)
    }
}
