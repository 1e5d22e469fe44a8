//! HTTP/2's side of the protocol seam: requests in HTTP/2's form ([`render`]). The codec is the
//! `ringload-h2` crate; the load workers' connection driver is `load::h2_connection`, over the
//! sockets `net::h2_dial` opens.

pub(crate) mod render;
