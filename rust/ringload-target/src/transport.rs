//! A connection's byte stream, plain or TLS, with its output buffer: what the connection loop
//! and the response writer share.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use rustls::{ServerConnection, StreamOwned};

/// Output is written once this much is buffered; larger bodies are streamed.
pub(crate) const FLUSH_AT: usize = 64 * 1024;

/// A byte stream the connection loop can run on: plain TCP or TLS over TCP.
pub(crate) trait Transport: Read + Write {
    /// The underlying socket.
    fn tcp(&self) -> &TcpStream;
    /// Signals that we will send nothing more (TLS: after `close_notify`).
    fn close_write(&mut self) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Transport for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    fn close_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

/// A transport with an output buffer.
///
/// Responses are built in `out` so that a small response (head and body)
/// leaves in one write, and answers to pipelined requests coalesce. Reading
/// flushes first, so the peer never waits on output we are holding back.
pub(crate) struct Conn<S> {
    pub(crate) io: S,
    out: Vec<u8>,
}

impl<S: Read + Write> Conn<S> {
    pub(crate) fn new(io: S) -> Self {
        Conn {
            io,
            out: Vec::with_capacity(4096),
        }
    }

    /// The output buffer, with room for `extra` more bytes before it
    /// exceeds `FLUSH_AT` (flushing first if needed).
    pub(crate) fn buffer(&mut self, extra: usize) -> io::Result<&mut Vec<u8>> {
        if self.out.len() + extra > FLUSH_AT {
            self.flush()?;
        }
        Ok(&mut self.out)
    }

    /// Queues `bytes`; large slices bypass the buffer instead of growing it.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > FLUSH_AT {
            self.flush()?;
            return self.io.write_all(bytes);
        }
        self.buffer(bytes.len())?.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes out everything buffered.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out)?;
            self.out.clear();
        }
        self.io.flush()
    }
}

impl<S: Read + Write> Read for Conn<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.out.is_empty() {
            self.flush()?;
        }
        self.io.read(buf)
    }
}
