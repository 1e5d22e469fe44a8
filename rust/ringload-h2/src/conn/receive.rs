//! The frames the server sends, one handler each: what the connection does with them and what
//! it reports.

use super::{
    parse_status, ClientConnection, PartialBlock, Receiving, MAX_CONTINUATIONS,
    MAX_CONTROL_FRAMES_IN_A_ROW,
};
use crate::events::{ConnectionError, Handler, Section, StreamEnd};
use crate::frame::{self, flag, kind, setting, ErrorCode, FrameHeader};
use crate::hpack::HpackError;

impl ClientConnection {
    pub(super) fn on_frame(
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

    pub(super) fn position(&self, stream: u32) -> Option<usize> {
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
        self.acks_owed += 1;
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
            self.acks_owed += 1;
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
}
