//! A minimal raw HTTP/1.1 client for exercising the target server byte by byte.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// For chunked responses, the size of each data chunk as sent.
    pub chunk_sizes: Vec<usize>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

pub struct Client<S> {
    pub stream: S,
    buf: Vec<u8>,
}

/// Connects a plain TCP client; reads time out so a broken server fails the test instead of hanging it.
pub fn connect(addr: SocketAddr) -> Client<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set timeout");
    Client::new(stream)
}

impl<S: Read + Write> Client<S> {
    pub fn new(stream: S) -> Self {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().expect("flush");
    }

    /// Sends a GET for `path` and reads the response.
    pub fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.read_response()
    }

    pub fn read_response(&mut self) -> Response {
        self.read(false)
    }

    /// Reads the response to a HEAD request: never a body.
    pub fn read_head_response(&mut self) -> Response {
        self.read(true)
    }

    /// Asserts that the server has closed the connection (and sent nothing more).
    pub fn assert_closed(&mut self) {
        assert!(self.buf.is_empty(), "unread bytes: {:?}", self.buf);
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected end of stream, got {other:?}"),
        }
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "unexpected end of stream");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    fn read(&mut self, is_head: bool) -> Response {
        let (mut response, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) =
                parsed.parse(&self.buf).expect("valid response head")
            {
                let response = Response {
                    status: parsed.code.expect("status"),
                    reason: parsed.reason.expect("reason").to_owned(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| {
                            let value = String::from_utf8(h.value.to_vec()).expect("utf-8 header");
                            (h.name.to_owned(), value)
                        })
                        .collect(),
                    body: Vec::new(),
                    chunk_sizes: Vec::new(),
                };
                break (response, len);
            }
            self.fill();
        };
        self.buf.drain(..head_len);

        let no_body = is_head || matches!(response.status, 100..=199 | 204 | 304);
        if no_body {
            return response;
        }
        if response.header("transfer-encoding") == Some("chunked") {
            loop {
                let line = self.line();
                let size = usize::from_str_radix(&line, 16).expect("chunk size");
                if size == 0 {
                    assert_eq!(self.line(), "", "no trailers expected");
                    break;
                }
                response.chunk_sizes.push(size);
                let data = self.exact(size);
                response.body.extend_from_slice(&data);
                assert_eq!(self.line(), "", "chunk ends with CRLF");
            }
        } else {
            let len: usize = response
                .header("content-length")
                .expect("content-length")
                .parse()
                .expect("numeric content-length");
            response.body = self.exact(len);
        }
        response
    }

    fn exact(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            self.fill();
        }
        self.buf.drain(..len).collect()
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..pos].to_vec()).expect("utf-8 line");
                self.buf.drain(..pos + 2);
                return line;
            }
            self.fill();
        }
    }
}
