//! The client side of one HTTP/2 connection (RFC 9113): streams, SETTINGS, both directions of
//! flow control, PING, GOAWAY and RST_STREAM. The caller feeds what it read to
//! [`ClientConnection::receive`], which reports to a [`Handler`], and writes what
//! [`ClientConnection::take_output`] hands it. This file holds the state and the sending side;
//! `receive.rs` handles each frame the server sends.

mod receive;

use crate::events::{ConnectionError, Handler};
use crate::frame::{self, flag, kind, setting, ErrorCode, FrameHeader, HEADER_LEN};
use crate::hpack::{Decoder, Encoder, DEFAULT_TABLE_SIZE};
use crate::request::RequestHead;

/// Stream identifiers are 31 bits; a client's are odd. Past this one the connection is spent.
const LAST_STREAM_ID: u32 = (1 << 31) - 1;

/// Control frames (SETTINGS, PING, empty DATA, CONTINUATION) in a row without any response
/// progress before the server is taken for a flood (ENHANCE_YOUR_CALM). Real servers send a
/// handful.
const MAX_CONTROL_FRAMES_IN_A_ROW: u32 = 10_000;

/// Streams opened before the server's SETTINGS say how many it allows: one. A server allowing
/// fewer streams than a connection would open refuses the rest (RFC 9113 §5.1.2), so requests
/// would be sent to be refused; the first one still goes out with the preface.
const UNANNOUNCED_STREAM_LIMIT: u32 = 1;

/// The most CONTINUATION frames one header block may take.
const MAX_CONTINUATIONS: u32 = 256;

/// The client's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Every stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE), as h2load's `-w`.
    pub stream_window: u32,
    /// The connection's receive window, as h2load's `-W`.
    pub connection_window: u32,
    /// The largest response header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE).
    pub max_header_list_size: u32,
}

impl Default for Config {
    /// Windows of 2^30-1, as h2load and oha open them: flow control never throttles a
    /// download.
    fn default() -> Self {
        Config {
            stream_window: (1 << 30) - 1,
            connection_window: (1 << 30) - 1,
            max_header_list_size: 256 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiving {
    Head,
    Body,
}

#[derive(Debug)]
struct Stream {
    id: u32,
    receiving: Receiving,
    /// What the server lets us send on this stream.
    send_window: i64,
    /// What the server may still send on this stream before a WINDOW_UPDATE.
    recv_window: i64,
    /// Received since the last WINDOW_UPDATE we sent for the stream.
    recv_unacked: u32,
    /// Request body bytes waiting for send window.
    body: Vec<u8>,
    body_sent: usize,
    /// The request's END_STREAM went out.
    sent_all: bool,
}

/// The server's settings, as far as the client acts on them.
#[derive(Debug, Clone, Copy)]
struct PeerSettings {
    max_concurrent_streams: u32,
    initial_window: u32,
    max_frame_size: u32,
}

/// A header block arriving in pieces (HEADERS then CONTINUATION).
#[derive(Debug)]
struct PartialBlock {
    stream: u32,
    end_stream: bool,
    continuations: u32,
}

pub struct ClientConnection {
    config: Config,
    peer: PeerSettings,
    out: Vec<u8>,
    encoder: Encoder,
    decoder: Decoder,
    streams: Vec<Stream>,
    next_stream_id: u32,
    /// What the server lets us send on the connection.
    send_window: i64,
    /// What the server may still send on the connection before a WINDOW_UPDATE.
    recv_window: i64,
    recv_unacked: u32,
    settings_received: bool,
    /// The lowest `last_stream_id` of the server's GOAWAYs.
    goaway: Option<u32>,
    /// The preface (and whatever was queued with it) was taken for writing.
    preface_taken: bool,
    failed: Option<ConnectionError>,
    partial: Option<PartialBlock>,
    /// The server's header block being received (it may span reads, across which requests are
    /// opened).
    block: Vec<u8>,
    /// A request's header block being encoded: never the same buffer as `block`.
    request_block: Vec<u8>,
    /// The last request head whose encoding left the encoder's table as it was, and its block.
    repeated: RepeatedBlock,
    control_in_a_row: u32,
    /// SETTINGS and PING acknowledgements queued and not yet taken.
    acks_owed: usize,
}

/// A header block that can be sent again: `head` encoded while the encoder stood at `changes`.
#[derive(Debug, Default)]
struct RepeatedBlock {
    head: RequestHead,
    block: Vec<u8>,
    changes: Option<u64>,
}

impl ClientConnection {
    /// A new connection; the preface, SETTINGS and the connection window's update are queued.
    pub fn new(config: Config) -> ClientConnection {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(frame::PREFACE);
        frame::push_settings(
            &mut out,
            &[
                (setting::ENABLE_PUSH, 0),
                (setting::INITIAL_WINDOW_SIZE, config.stream_window),
                (setting::MAX_HEADER_LIST_SIZE, config.max_header_list_size),
            ],
        );
        if config.connection_window > frame::DEFAULT_WINDOW {
            frame::push_window_update(
                &mut out,
                0,
                config.connection_window - frame::DEFAULT_WINDOW,
            );
        }
        ClientConnection {
            config,
            peer: PeerSettings {
                // Unlimited until the server says otherwise (RFC 9113 §6.5.2).
                max_concurrent_streams: u32::MAX,
                initial_window: frame::DEFAULT_WINDOW,
                max_frame_size: frame::MIN_MAX_FRAME_SIZE,
            },
            out,
            encoder: Encoder::default(),
            decoder: Decoder::new(DEFAULT_TABLE_SIZE),
            streams: Vec::new(),
            next_stream_id: 1,
            send_window: i64::from(frame::DEFAULT_WINDOW),
            recv_window: i64::from(config.connection_window.max(frame::DEFAULT_WINDOW)),
            recv_unacked: 0,
            settings_received: false,
            goaway: None,
            failed: None,
            preface_taken: false,
            partial: None,
            block: Vec::new(),
            request_block: Vec::new(),
            repeated: RepeatedBlock::default(),
            control_in_a_row: 0,
            acks_owed: 0,
        }
    }

    /// Bytes to write, swapped with `buf` (which should be empty: its allocation is reused).
    pub fn take_output(&mut self, buf: &mut Vec<u8>) {
        debug_assert!(buf.is_empty());
        std::mem::swap(&mut self.out, buf);
        self.preface_taken = true;
        self.acks_owed = 0;
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// SETTINGS and PING acknowledgements queued since the output was last taken. A server
    /// that sends PINGs and does not read would grow them without bound: the caller stops
    /// reading while too many are owed.
    pub fn acks_owed(&self) -> usize {
        self.acks_owed
    }

    /// Streams open (sent, response not complete).
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (`u32::MAX` until it sets one).
    pub fn peer_max_concurrent_streams(&self) -> u32 {
        self.peer.max_concurrent_streams
    }

    /// How many streams may be open at once: the server's limit once its SETTINGS arrived;
    /// before, one (`UNANNOUNCED_STREAM_LIMIT`): the others wait a round trip for the limit.
    fn stream_limit(&self) -> u32 {
        if self.settings_received {
            self.peer.max_concurrent_streams
        } else {
            UNANNOUNCED_STREAM_LIMIT
        }
    }

    /// The server's first SETTINGS arrived.
    pub fn is_ready(&self) -> bool {
        self.settings_received
    }

    /// Whether a new stream may be opened now: the server allows one more, has not gone away,
    /// and the connection has identifiers left.
    pub fn can_open(&self) -> bool {
        self.failed.is_none()
            && self.goaway.is_none()
            && (self.streams.len() as u64) < u64::from(self.stream_limit())
            && self.next_stream_id <= LAST_STREAM_ID
    }

    /// How many more streams may be opened now.
    pub fn stream_room(&self) -> usize {
        if self.is_draining() {
            return 0;
        }
        let limit = u64::from(self.stream_limit())
            .min(u64::from(LAST_STREAM_ID - self.next_stream_id) / 2 + 1);
        limit
            .saturating_sub(self.streams.len() as u64)
            .min(usize::MAX as u64) as usize
    }

    /// No new stream will ever be opened here (GOAWAY, failure, identifiers spent).
    pub fn is_draining(&self) -> bool {
        self.failed.is_some() || self.goaway.is_some() || self.next_stream_id > LAST_STREAM_ID
    }

    /// Sends a request on a new stream and returns its identifier. The caller checks
    /// [`Self::can_open`] first.
    pub fn open(&mut self, head: &RequestHead, body: &[u8]) -> u32 {
        debug_assert!(self.can_open());
        let id = self.next_stream_id;
        self.next_stream_id += 2;
        self.encode_head(head);
        let end_stream = body.is_empty();
        self.push_header_block(id, end_stream);
        self.streams.push(Stream {
            id,
            receiving: Receiving::Head,
            send_window: i64::from(self.peer.initial_window),
            recv_window: i64::from(self.config.stream_window),
            recv_unacked: 0,
            body: Vec::new(),
            body_sent: 0,
            sent_all: end_stream,
        });
        if !end_stream {
            let at = self.streams.len() - 1;
            let sent = self.send_body(at, body);
            if sent < body.len() {
                self.streams[at].body.extend_from_slice(&body[sent..]);
            }
        }
        id
    }

    /// Encodes `head` into `request_block`. After a connection's first request most heads
    /// repeat the one before (a fixed request, or template values that came out the same), and
    /// while the encoder's table is unchanged a head encodes to the same bytes: the last such
    /// block is copied instead of looking every field up again.
    fn encode_head(&mut self, head: &RequestHead) {
        self.request_block.clear();
        let repeated = &mut self.repeated;
        let changes = self.encoder.changes();
        if repeated.changes == Some(changes) && repeated.head == *head {
            self.request_block.extend_from_slice(&repeated.block);
            return;
        }
        self.encoder.begin_block(&mut self.request_block);
        for f in &head.fields {
            self.encoder
                .encode(&f.name, &f.value, f.sensitive, &mut self.request_block);
        }
        if self.encoder.changes() == changes {
            repeated.head.copy_from(head);
            repeated.block.clone_from(&self.request_block);
            repeated.changes = Some(changes);
        }
    }

    /// Abandons `stream` (its deadline passed): RST_STREAM(CANCEL), and nothing more is
    /// reported of it. Data still arriving for it is counted against the connection window.
    pub fn cancel(&mut self, stream: u32) {
        if let Some(at) = self.position(stream) {
            self.streams.swap_remove(at);
            frame::push_rst_stream(&mut self.out, stream, ErrorCode::CANCEL);
        }
    }

    /// Reads every complete frame at the start of `input`, reporting to `handler`; returns how
    /// many bytes were used (the rest is an incomplete frame, to be offered again with more).
    pub fn receive(
        &mut self,
        input: &[u8],
        handler: &mut impl Handler,
    ) -> Result<usize, ConnectionError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if !self.settings_received && input.starts_with(b"HTTP/1.") {
            return Err(self.fail(ErrorCode::PROTOCOL_ERROR, ConnectionError::HTTP1_REPLY));
        }
        let mut used = 0;
        while let Some(header) = FrameHeader::parse(&input[used..]) {
            // Our SETTINGS_MAX_FRAME_SIZE is the default.
            if header.len > frame::MIN_MAX_FRAME_SIZE {
                return Err(self.fail(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "frame larger than SETTINGS_MAX_FRAME_SIZE",
                ));
            }
            let end = used + HEADER_LEN + header.len as usize;
            if input.len() < end {
                break;
            }
            let payload = &input[used + HEADER_LEN..end];
            used = end;
            if let Err(error) = self.on_frame(header, payload, handler) {
                return Err(self.fail(error.code, error.reason));
            }
        }
        Ok(used)
    }

    /// Queues GOAWAY, in place of anything queued after the preface and not yet taken, and
    /// remembers the failure. Its last stream is the last one the server opened that we acted
    /// on: none, with push disabled. Requests queued after the preface and not yet taken never
    /// reach the server: their streams fail with the connection.
    fn fail(&mut self, code: ErrorCode, reason: &'static str) -> ConnectionError {
        let error = ConnectionError { code, reason };
        if self.failed.is_none() {
            if self.preface_taken {
                self.out.clear();
                self.acks_owed = 0;
            }
            frame::push_goaway(&mut self.out, 0, code);
            self.failed = Some(error);
        }
        error
    }

    /// Writes the header block in `self.request_block` as HEADERS and as many CONTINUATION frames as
    /// the server's frame size needs.
    fn push_header_block(&mut self, stream: u32, end_stream: bool) {
        let max = self.peer.max_frame_size as usize;
        let mut chunks = self.request_block.chunks(max);
        let first = chunks.next().unwrap_or(&[]);
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        let more = self.request_block.len() > max;
        if !more {
            flags |= flag::END_HEADERS;
        }
        frame::push_header(&mut self.out, first.len(), kind::HEADERS, flags, stream);
        self.out.extend_from_slice(first);
        let count = self.request_block.len().div_ceil(max.max(1)).max(1);
        for (i, chunk) in chunks.enumerate() {
            let last = i + 2 == count;
            let flags = if last { flag::END_HEADERS } else { 0 };
            frame::push_header(
                &mut self.out,
                chunk.len(),
                kind::CONTINUATION,
                flags,
                stream,
            );
            self.out.extend_from_slice(chunk);
        }
    }

    /// Sends what the windows allow of `body` on stream `at`; returns how much went out.
    fn send_body(&mut self, at: usize, body: &[u8]) -> usize {
        let max_frame = self.peer.max_frame_size as usize;
        let stream = &mut self.streams[at];
        let mut sent = 0;
        loop {
            let room = stream.send_window.min(self.send_window).max(0) as usize;
            let len = (body.len() - sent).min(room).min(max_frame);
            let last = sent + len == body.len();
            if len == 0 && !last {
                return sent;
            }
            let flags = if last { flag::END_STREAM } else { 0 };
            frame::push_header(&mut self.out, len, kind::DATA, flags, stream.id);
            self.out.extend_from_slice(&body[sent..sent + len]);
            stream.send_window -= len as i64;
            self.send_window -= len as i64;
            sent += len;
            if last {
                stream.sent_all = true;
                return sent;
            }
        }
    }

    /// After the windows grew: sends the request bodies that were waiting for them.
    fn send_waiting_bodies(&mut self) {
        for at in 0..self.streams.len() {
            if self.send_window <= 0 {
                return;
            }
            if self.streams[at].sent_all {
                continue;
            }
            let body = std::mem::take(&mut self.streams[at].body);
            let from = self.streams[at].body_sent;
            let sent = self.send_body(at, &body[from..]);
            let stream = &mut self.streams[at];
            stream.body_sent = from + sent;
            if !stream.sent_all {
                stream.body = body;
            }
        }
    }
}

/// A `:status` value: three digits.
fn parse_status(value: &[u8]) -> Option<u16> {
    match value {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}
