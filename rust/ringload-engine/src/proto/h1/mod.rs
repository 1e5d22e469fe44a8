//! HTTP/1.1 over one connection: the response reader ([`stream`]) and the exchange of
//! requests and responses with keep-alive resends ([`conn`]).

pub(crate) mod conn;
pub(crate) mod stream;
