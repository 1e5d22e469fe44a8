//! Shared plumbing: opening connections (TCP, TLS, proxies), names, idle sockets. Knows
//! sockets, not runs or Python.

pub(crate) mod any_stream;
pub(crate) mod dial;
pub(crate) mod h2_dial;
pub(crate) mod h2_settle;
pub(crate) mod idle;
pub mod proxy;
pub mod resolve;
pub mod tls;
pub(crate) mod x509;
