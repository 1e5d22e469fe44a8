//! A small built-in HTTP/1.1 target server for demos and tests.
//!
//! `ringload serve` runs it so a newcomer can try the load generator with
//! nothing else installed, and the load generator's integration tests use it
//! because it reports exact server-side counts ([`Server::requests`],
//! [`Server::connections`], [`Server::path_count`]).
//!
//! It is deliberately simple: blocking `std::net` sockets, one thread per
//! connection, optional TLS via rustls. It is meant for loopback use, not as
//! a production server.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use ringload_target::{Server, ServerConfig};
//!
//! let server = Server::start(ServerConfig::default())?;
//! let mut stream = TcpStream::connect(server.addr())?;
//! stream.write_all(b"GET /?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n")?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response)?;
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.ends_with("\r\n\r\nhello from ringload\n"));
//! assert_eq!(server.requests(), 1);
//! assert_eq!(server.path_count("/"), 1);
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Routes
//!
//! Routing looks only at the path of the request target (the query string is
//! ignored); the method is ignored too, except that `HEAD` gets the headers a
//! `GET` would get and no body.
//!
//! | Path            | Response |
//! |-----------------|----------|
//! | `/`             | `200`, `text/plain`, body `hello from ringload\n` |
//! | `/bytes/N`      | `200`, `N` bytes of `x` (`N` ≤ 100 000 000, else `400`) |
//! | `/chunked/N`    | `200`, `Transfer-Encoding: chunked`, `N` bytes of `x` in chunks of at most 4096 (`N` ≤ 100 000 000, else `400`) |
//! | `/delay/MS`     | sleeps `MS` milliseconds (≤ 60 000, else `400`), then `200` with body `ok\n` |
//! | `/status/CODE`  | status `CODE` (200..=599, else `400`) with an empty body; `204` and `304` carry no `Content-Length` |
//! | `/close`        | `200`, body `bye\n`, `Connection: close`, then the connection is closed |
//! | `/echo`         | `200`, the request body, `Content-Type` copied from the request (default `application/octet-stream`) |
//! | `/headers`      | `200`, `text/plain`, the request's header lines as received, `Name: value\n` each |
//! | anything else   | `404`, body `not found\n` |
//!
//! # Protocol behaviour
//!
//! * Request bodies are framed by `Content-Length` or `Transfer-Encoding:
//!   chunked`; they are decoded and discarded (kept only for `/echo`).
//! * HTTP/1.1 connections are kept alive unless the client sends
//!   `Connection: close`; HTTP/1.0 connections are closed unless the client
//!   sends `Connection: keep-alive`.
//! * Pipelined requests are answered in order.
//! * `Expect: 100-continue` is answered with `100 Continue` before the body is read.
//! * A malformed request gets `400`, a request head over 64 KiB (or with more
//!   than 64 headers) gets `431`, a body over 64 MiB gets `413`; each of these
//!   responses carries `Connection: close` and the connection is then closed.
//!   A request to a known route with a bad parameter (`/bytes/abc`) gets a
//!   `400` but the connection stays open, since the request itself was valid.
//! * Every response carries `Server: ringload-target` and no `Date`.
//! * Idle keep-alive connections stay open unless [`ServerConfig::idle_timeout`] or
//!   [`ServerConfig::max_connections`] says otherwise; then they are ended as
//!   [`ServerConfig::idle_close`] says (as a server or load balancer in production does), and
//!   [`Server::idle_closes`] and [`Server::late_requests`] count what happened.
//!
//! # Counting
//!
//! A request is counted once its head and body have been read completely,
//! before its response is written; in particular `/delay/MS` is counted
//! before it starts sleeping. Requests rejected with `400`/`413`/`431`
//! because they could not be parsed are not counted. Because counting happens
//! before the response is written, a client that has received a response can
//! rely on the counters already including that request.

mod config;
mod conn;
mod h2;
pub mod hostile;
mod request;
mod response;
mod routes;
mod server;
mod shared;
mod tls;
mod transport;

pub use config::{IdleClose, ServerConfig};
pub use server::Server;
pub use tls::{self_signed, self_signed_expired, TlsIdentity};
