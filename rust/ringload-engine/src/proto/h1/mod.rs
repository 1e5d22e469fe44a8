//! HTTP/1.1 over one connection: the response reader ([`stream`]), the exchange of
//! requests and responses with keep-alive resends ([`conn`]), and templated requests rendered
//! into its wire form ([`render`]).

pub(crate) mod conn;
pub(crate) mod render;
pub(crate) mod stream;
