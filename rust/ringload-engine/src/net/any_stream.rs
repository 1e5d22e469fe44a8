//! A plain or TLS stream behind one type, for pools that hold both (the client used by the
//! Python package). The load workers stay generic and never pay for the branch.

use std::os::fd::RawFd;

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;

use crate::net::dial::TlsStream;
use crate::net::idle::OverSocket;

pub(crate) enum AnyStream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl OverSocket for AnyStream {
    fn socket(&self) -> RawFd {
        match self {
            AnyStream::Plain(s) => s.socket(),
            AnyStream::Tls(s) => s.socket(),
        }
    }

    fn is_plain(&self) -> bool {
        matches!(self, AnyStream::Plain(_))
    }
}

impl AsyncReadRent for AnyStream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            AnyStream::Plain(s) => s.read(buf).await,
            AnyStream::Tls(s) => s.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            AnyStream::Plain(s) => s.readv(buf).await,
            AnyStream::Tls(s) => s.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for AnyStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            AnyStream::Plain(s) => s.write(buf).await,
            AnyStream::Tls(s) => s.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            AnyStream::Plain(s) => s.writev(buf).await,
            AnyStream::Tls(s) => s.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            AnyStream::Plain(s) => s.flush().await,
            AnyStream::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            AnyStream::Plain(s) => s.shutdown().await,
            AnyStream::Tls(s) => s.shutdown().await,
        }
    }
}
