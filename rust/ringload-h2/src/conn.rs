//! The client side of one HTTP/2 connection (RFC 9113): streams, SETTINGS, both directions of
//! flow control, PING, GOAWAY and RST_STREAM. The caller feeds what it read to
//! [`ClientConnection::receive`], which reports to a [`Handler`], and writes what
//! [`ClientConnection::take_output`] hands it.

use crate::frame::{self, flag, kind, setting, ErrorCode, FrameHeader, HEADER_LEN};
use crate::hpack::{Decoder, Encoder, HpackError, DEFAULT_TABLE_SIZE};

/// Stream identifiers are 31 bits; a client's are odd. Past this one the connection is spent.
const LAST_STREAM_ID: u32 = (1 << 31) - 1;

/// Control frames (SETTINGS, PING, empty DATA, CONTINUATION) in a row without any response
/// progress before the server is taken for a flood (ENHANCE_YOUR_CALM). Real servers send a
/// handful.
const MAX_CONTROL_FRAMES_IN_A_ROW: u32 = 10_000;

/// Streams opened before the server's SETTINGS say how many it allows.
const UNANNOUNCED_STREAM_LIMIT: u32 = 100;

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

/// A request's header fields, pseudo-fields first, as the client sends them. Names are lower
/// case; what HTTP/2 forbids (connection-specific fields) is the caller's to leave out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    fields: Vec<Field>,
}

#[derive(Debug, PartialEq, Eq)]
struct Field {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitive: bool,
}

impl Clone for Field {
    fn clone(&self) -> Self {
        Field {
            name: self.name.clone(),
            value: self.value.clone(),
            sensitive: self.sensitive,
        }
    }

    /// Reuses the buffers: a templated request's head is copied into the same scratch head
    /// for every send.
    fn clone_from(&mut self, source: &Self) {
        self.name.clone_from(&source.name);
        self.value.clone_from(&source.value);
        self.sensitive = source.sensitive;
    }
}

impl Clone for RequestHead {
    fn clone(&self) -> Self {
        RequestHead {
            fields: self.fields.clone(),
        }
    }
}

impl RequestHead {
    pub fn new(method: &[u8], scheme: &[u8], authority: &[u8], path: &[u8]) -> RequestHead {
        let mut head = RequestHead::default();
        head.push(b":method", method);
        head.push(b":scheme", scheme);
        head.push(b":authority", authority);
        head.push(b":path", path);
        head
    }

    /// Adds a field (lower-case name).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let sensitive = matches!(name, b"authorization" | b"proxy-authorization" | b"cookie");
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            sensitive,
        });
    }

    /// Every field, pseudo-fields first.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|f| (&f.name[..], &f.value[..]))
    }

    /// The value of field `index` (in [`Self::fields`] order), to be rewritten in place.
    pub fn value_mut(&mut self, index: usize) -> &mut Vec<u8> {
        &mut self.fields[index].value
    }

    /// Becomes a copy of `source`, reusing this head's buffers.
    pub fn copy_from(&mut self, source: &RequestHead) {
        self.fields.clone_from(&source.fields);
    }
}

/// Which part of a response a decoded field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A 1xx head, before the final one.
    Informational,
    Head,
    Trailers,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The whole response arrived.
    Complete,
    /// The server reset the stream with this code.
    Reset(ErrorCode),
    /// The server refused the stream (REFUSED_STREAM) or went away below it: it was never
    /// processed, so sending it again is safe.
    NotProcessed,
    /// The response broke HTTP/2's rules for a message; the stream was reset.
    Malformed(&'static str),
}

/// What the connection reports while it reads.
pub trait Handler {
    /// Whether [`Handler::field`] should see every field. A handler that reads only the
    /// status says no: the values of fields the HPACK table does not keep are then skipped
    /// undecoded (their Huffman decoding is most of a response head's cost).
    fn wants_fields(&self) -> bool {
        true
    }
    /// A field of a response head or its trailers, pseudo-fields included.
    fn field(&mut self, _stream: u32, _section: Section, _name: &[u8], _value: &[u8]) {}
    /// The final response head of `stream` arrived.
    fn head(&mut self, stream: u32, status: u16);
    /// Part of `stream`'s response body.
    fn data(&mut self, _stream: u32, _data: &[u8]) {}
    /// `stream` is over; nothing more is reported of it.
    fn end(&mut self, stream: u32, end: StreamEnd);
    /// The server is going away: streams above `last_stream` end next, as not processed.
    fn goaway(&mut self, _last_stream: u32, _code: ErrorCode) {}
}

/// The connection cannot go on. A GOAWAY with `code` is queued for the server; every stream
/// still open is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionError {
    pub code: ErrorCode,
    pub reason: &'static str,
}

impl ConnectionError {
    /// The reason given when the server answered the preface in HTTP/1.x.
    pub const HTTP1_REPLY: &'static str = "the server answered in HTTP/1.x";
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
    failed: Option<ConnectionError>,
    partial: Option<PartialBlock>,
    block: Vec<u8>,
    control_in_a_row: u32,
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
            partial: None,
            block: Vec::new(),
            control_in_a_row: 0,
        }
    }

    /// Bytes to write, swapped with `buf` (which should be empty: its allocation is reused).
    pub fn take_output(&mut self, buf: &mut Vec<u8>) {
        debug_assert!(buf.is_empty());
        std::mem::swap(&mut self.out, buf);
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
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
    /// before, the 100 that RFC 9113 §6.5.2 recommends every server allow (requests sent with
    /// the preface save a round trip, as h2load's do).
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
        self.block.clear();
        self.encoder.begin_block(&mut self.block);
        for f in &head.fields {
            self.encoder
                .encode(&f.name, &f.value, f.sensitive, &mut self.block);
        }
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

    /// Queues GOAWAY and remembers the failure.
    fn fail(&mut self, code: ErrorCode, reason: &'static str) -> ConnectionError {
        let error = ConnectionError { code, reason };
        if self.failed.is_none() {
            let last = self.next_stream_id.saturating_sub(2);
            frame::push_goaway(&mut self.out, last, code);
            self.failed = Some(error);
        }
        error
    }

    fn on_frame(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let error = |code, reason| Err(ConnectionError { code, reason });
        if !self.settings_received && (header.kind != kind::SETTINGS || header.has(flag::ACK)) {
            return error(
                ErrorCode::PROTOCOL_ERROR,
                "the server did not start with SETTINGS",
            );
        }
        if let Some(partial) = &self.partial {
            if header.kind != kind::CONTINUATION || header.stream != partial.stream {
                return error(
                    ErrorCode::PROTOCOL_ERROR,
                    "a header block was interrupted before END_HEADERS",
                );
            }
        }
        match header.kind {
            kind::DATA => self.on_data(header, payload, handler),
            kind::HEADERS => self.on_headers(header, payload, handler),
            kind::PRIORITY => Ok(()),
            kind::RST_STREAM => self.on_rst_stream(header, payload, handler),
            kind::SETTINGS => self.on_settings(header, payload),
            kind::PUSH_PROMISE => error(
                ErrorCode::PROTOCOL_ERROR,
                "PUSH_PROMISE although push was disabled",
            ),
            kind::PING => self.on_ping(header, payload),
            kind::GOAWAY => self.on_goaway(header, payload, handler),
            kind::WINDOW_UPDATE => self.on_window_update(header, payload, handler),
            kind::CONTINUATION => self.on_continuation(header, payload, handler),
            // Unknown frame types are ignored (RFC 9113 §4.1).
            _ => Ok(()),
        }
    }

    fn control_frame(&mut self) -> Result<(), ConnectionError> {
        self.control_in_a_row += 1;
        if self.control_in_a_row > MAX_CONTROL_FRAMES_IN_A_ROW {
            return Err(ConnectionError {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                reason: "a flood of control frames without responses",
            });
        }
        Ok(())
    }

    fn position(&self, stream: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == stream)
    }

    /// A frame for a stream that is not open: fine if we opened it before (it was reset or
    /// completed), a protocol error if it was never opened.
    fn check_was_opened(&self, stream: u32) -> Result<(), ConnectionError> {
        if stream == 0 || stream % 2 == 0 || stream >= self.next_stream_id {
            return Err(ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "a frame for a stream the client never opened",
            });
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let len = header.len;
        // The whole frame, padding included, counts against both windows.
        self.recv_window -= i64::from(len);
        if self.recv_window < 0 {
            return Err(ConnectionError {
                code: ErrorCode::FLOW_CONTROL_ERROR,
                reason: "DATA beyond the connection window",
            });
        }
        self.recv_unacked += len;
        if self.recv_unacked >= self.config.connection_window / 2 {
            frame::push_window_update(&mut self.out, 0, self.recv_unacked);
            self.recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
        if payload.is_empty() && !header.has(flag::END_STREAM) {
            self.control_frame()?;
        } else {
            self.control_in_a_row = 0;
        }
        let Some(data) = frame::unpadded(&header, payload) else {
            return Err(ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "padding longer than its frame",
            });
        };
        let Some(at) = self.position(header.stream) else {
            return self.check_was_opened(header.stream);
        };
        self.streams[at].recv_window -= i64::from(len);
        if self.streams[at].recv_window < 0 {
            return self.reset_stream(
                at,
                ErrorCode::FLOW_CONTROL_ERROR,
                StreamEnd::Malformed("DATA beyond the stream window"),
                handler,
            );
        }
        if self.streams[at].receiving == Receiving::Head {
            return self.reset_stream(
                at,
                ErrorCode::PROTOCOL_ERROR,
                StreamEnd::Malformed("DATA before the response head"),
                handler,
            );
        }
        handler.data(header.stream, data);
        if header.has(flag::END_STREAM) {
            self.streams.swap_remove(at);
            handler.end(header.stream, StreamEnd::Complete);
            return Ok(());
        }
        let stream = &mut self.streams[at];
        stream.recv_unacked += len;
        if stream.recv_unacked >= self.config.stream_window / 2 {
            frame::push_window_update(&mut self.out, stream.id, stream.recv_unacked);
            stream.recv_window += i64::from(stream.recv_unacked);
            stream.recv_unacked = 0;
        }
        Ok(())
    }

    fn on_headers(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        self.control_in_a_row = 0;
        let Some(mut fragment) = frame::unpadded(&header, payload) else {
            return Err(ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "padding longer than its frame",
            });
        };
        if header.has(flag::PRIORITY) {
            fragment = fragment.get(5..).ok_or(ConnectionError {
                code: ErrorCode::FRAME_SIZE_ERROR,
                reason: "HEADERS too short for its priority fields",
            })?;
        }
        self.check_was_opened(header.stream)?;
        self.block.clear();
        self.block.extend_from_slice(fragment);
        if header.has(flag::END_HEADERS) {
            return self.on_header_block(header.stream, header.has(flag::END_STREAM), handler);
        }
        self.partial = Some(PartialBlock {
            stream: header.stream,
            end_stream: header.has(flag::END_STREAM),
            continuations: 0,
        });
        Ok(())
    }

    fn on_continuation(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let Some(partial) = &mut self.partial else {
            return Err(ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "CONTINUATION without a header block to continue",
            });
        };
        partial.continuations += 1;
        if partial.continuations > MAX_CONTINUATIONS
            || self.block.len() + payload.len() > self.config.max_header_list_size as usize * 2
        {
            return Err(ConnectionError {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                reason: "a header block of too many CONTINUATION frames",
            });
        }
        self.block.extend_from_slice(payload);
        if header.has(flag::END_HEADERS) {
            let (stream, end_stream) = (partial.stream, partial.end_stream);
            self.partial = None;
            return self.on_header_block(stream, end_stream, handler);
        }
        Ok(())
    }

    /// A complete header block for `stream`: a (1xx or final) head, or trailers.
    fn on_header_block(
        &mut self,
        stream: u32,
        end_stream: bool,
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let at = self.position(stream);
        let mut section = match at.map(|at| self.streams[at].receiving) {
            Some(Receiving::Body) => Section::Trailers,
            _ => Section::Head,
        };
        let mut status: Option<u16> = None;
        let mut first = true;
        let mut malformed: Option<&'static str> = None;
        let block = std::mem::take(&mut self.block);
        let all_fields = handler.wants_fields();
        let decoded = self.decoder.decode_some(
            &block,
            self.config.max_header_list_size as usize,
            |name| all_fields || name.first() == Some(&b':'),
            |name, value| {
                if section != Section::Trailers && first {
                    status = (name == b":status").then(|| parse_status(value)).flatten();
                    if status.is_none() {
                        malformed = Some("a response head without a valid :status first");
                    } else if status < Some(200) {
                        section = Section::Informational;
                    }
                } else if name.first() == Some(&b':') {
                    malformed = Some("a pseudo-field out of place in a response");
                }
                first = false;
                if at.is_some() {
                    handler.field(stream, section, name, value);
                }
            },
        );
        self.block = block;
        match decoded {
            Ok(()) => {}
            Err(HpackError::ListTooLarge) => {
                malformed = Some("a response header list over the limit");
            }
            Err(error) => {
                return Err(ConnectionError {
                    code: ErrorCode::COMPRESSION_ERROR,
                    reason: error.describe(),
                })
            }
        }
        // The block kept the decoder in step; a stream already gone takes nothing more.
        let Some(at) = at else { return Ok(()) };
        if section == Section::Head && first {
            malformed = Some("an empty response head");
        }
        if section == Section::Trailers && !end_stream {
            malformed = Some("trailers without END_STREAM");
        }
        if section == Section::Informational && end_stream {
            malformed = Some("an informational head with END_STREAM");
        }
        if let Some(why) = malformed {
            return self.reset_stream(
                at,
                ErrorCode::PROTOCOL_ERROR,
                StreamEnd::Malformed(why),
                handler,
            );
        }
        if section == Section::Head {
            self.streams[at].receiving = Receiving::Body;
            handler.head(stream, status.unwrap_or_default());
        }
        if end_stream {
            self.streams.swap_remove(at);
            handler.end(stream, StreamEnd::Complete);
        }
        Ok(())
    }

    /// Ends stream `at` on our side with RST_STREAM(`code`), reporting `end`.
    fn reset_stream(
        &mut self,
        at: usize,
        code: ErrorCode,
        end: StreamEnd,
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let stream = self.streams.swap_remove(at);
        frame::push_rst_stream(&mut self.out, stream.id, code);
        handler.end(stream.id, end);
        Ok(())
    }

    fn on_rst_stream(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let Ok(code) = <[u8; 4]>::try_from(payload) else {
            return Err(ConnectionError {
                code: ErrorCode::FRAME_SIZE_ERROR,
                reason: "RST_STREAM of a length other than 4",
            });
        };
        self.check_was_opened(header.stream)?;
        let code = ErrorCode(u32::from_be_bytes(code));
        if let Some(at) = self.position(header.stream) {
            self.streams.swap_remove(at);
            let end = if code == ErrorCode::REFUSED_STREAM {
                StreamEnd::NotProcessed
            } else {
                StreamEnd::Reset(code)
            };
            handler.end(header.stream, end);
        }
        Ok(())
    }

    fn on_settings(&mut self, header: FrameHeader, payload: &[u8]) -> Result<(), ConnectionError> {
        let error = |code, reason| Err(ConnectionError { code, reason });
        if header.stream != 0 {
            return error(ErrorCode::PROTOCOL_ERROR, "SETTINGS on a stream");
        }
        if header.has(flag::ACK) {
            if !payload.is_empty() {
                return error(ErrorCode::FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
            }
            return Ok(());
        }
        if payload.len() % 6 != 0 {
            return error(
                ErrorCode::FRAME_SIZE_ERROR,
                "SETTINGS of a length not a multiple of 6",
            );
        }
        if self.settings_received {
            self.control_frame()?;
        }
        self.settings_received = true;
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                setting::HEADER_TABLE_SIZE => self.encoder.set_peer_table_size(value as usize),
                setting::ENABLE_PUSH if value > 1 => {
                    return error(ErrorCode::PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH above 1")
                }
                setting::MAX_CONCURRENT_STREAMS => self.peer.max_concurrent_streams = value,
                setting::INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return error(
                            ErrorCode::FLOW_CONTROL_ERROR,
                            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                        );
                    }
                    // The change applies to every open stream (RFC 9113 §6.9.2).
                    let delta = i64::from(value) - i64::from(self.peer.initial_window);
                    self.peer.initial_window = value;
                    for stream in &mut self.streams {
                        stream.send_window += delta;
                        if stream.send_window > i64::from(frame::MAX_WINDOW) {
                            return error(
                                ErrorCode::FLOW_CONTROL_ERROR,
                                "a stream window over 2^31-1 after SETTINGS",
                            );
                        }
                    }
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::MIN_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE).contains(&value) {
                        return error(
                            ErrorCode::PROTOCOL_ERROR,
                            "SETTINGS_MAX_FRAME_SIZE out of range",
                        );
                    }
                    self.peer.max_frame_size = value;
                }
                _ => {}
            }
        }
        frame::push_settings_ack(&mut self.out);
        self.send_waiting_bodies();
        Ok(())
    }

    fn on_ping(&mut self, header: FrameHeader, payload: &[u8]) -> Result<(), ConnectionError> {
        let Ok(opaque) = <[u8; 8]>::try_from(payload) else {
            return Err(ConnectionError {
                code: ErrorCode::FRAME_SIZE_ERROR,
                reason: "PING of a length other than 8",
            });
        };
        if header.stream != 0 {
            return Err(ConnectionError {
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "PING on a stream",
            });
        }
        if !header.has(flag::ACK) {
            self.control_frame()?;
            frame::push_ping(&mut self.out, true, opaque);
        }
        Ok(())
    }

    fn on_goaway(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        if header.stream != 0 || payload.len() < 8 {
            return Err(ConnectionError {
                code: if header.stream != 0 {
                    ErrorCode::PROTOCOL_ERROR
                } else {
                    ErrorCode::FRAME_SIZE_ERROR
                },
                reason: "a malformed GOAWAY",
            });
        }
        let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
            & frame::MAX_WINDOW;
        let code = ErrorCode(u32::from_be_bytes([
            payload[4], payload[5], payload[6], payload[7],
        ]));
        let last = self.goaway.map_or(last, |earlier| earlier.min(last));
        self.goaway = Some(last);
        handler.goaway(last, code);
        // Streams above `last` were never processed: they may go out again elsewhere.
        let mut i = 0;
        while i < self.streams.len() {
            if self.streams[i].id > last {
                let stream = self.streams.swap_remove(i);
                handler.end(stream.id, StreamEnd::NotProcessed);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn on_window_update(
        &mut self,
        header: FrameHeader,
        payload: &[u8],
        handler: &mut impl Handler,
    ) -> Result<(), ConnectionError> {
        let Ok(increment) = <[u8; 4]>::try_from(payload) else {
            return Err(ConnectionError {
                code: ErrorCode::FRAME_SIZE_ERROR,
                reason: "WINDOW_UPDATE of a length other than 4",
            });
        };
        let increment = i64::from(u32::from_be_bytes(increment) & frame::MAX_WINDOW);
        let overflow = ConnectionError {
            code: ErrorCode::FLOW_CONTROL_ERROR,
            reason: "WINDOW_UPDATE beyond 2^31-1",
        };
        if header.stream == 0 {
            if increment == 0 {
                return Err(ConnectionError {
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason: "WINDOW_UPDATE of 0",
                });
            }
            self.send_window += increment;
            if self.send_window > i64::from(frame::MAX_WINDOW) {
                return Err(overflow);
            }
        } else if let Some(at) = self.position(header.stream) {
            let stream = &mut self.streams[at];
            stream.send_window += increment;
            if increment == 0 || stream.send_window > i64::from(frame::MAX_WINDOW) {
                // A stream error: the connection goes on.
                return self.reset_stream(
                    at,
                    ErrorCode::FLOW_CONTROL_ERROR,
                    StreamEnd::Malformed("a stream WINDOW_UPDATE of 0 or beyond 2^31-1"),
                    handler,
                );
            }
        } else {
            self.check_was_opened(header.stream)?;
        }
        self.send_waiting_bodies();
        Ok(())
    }

    /// Writes the header block in `self.block` as HEADERS and as many CONTINUATION frames as
    /// the server's frame size needs.
    fn push_header_block(&mut self, stream: u32, end_stream: bool) {
        let max = self.peer.max_frame_size as usize;
        let mut chunks = self.block.chunks(max);
        let first = chunks.next().unwrap_or(&[]);
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        let more = self.block.len() > max;
        if !more {
            flags |= flag::END_HEADERS;
        }
        frame::push_header(&mut self.out, first.len(), kind::HEADERS, flags, stream);
        self.out.extend_from_slice(first);
        let count = self.block.len().div_ceil(max.max(1)).max(1);
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
