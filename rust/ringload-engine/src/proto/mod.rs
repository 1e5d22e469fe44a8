//! The protocol seam: how requests and responses travel over a connection. HTTP/1.1 today
//! (`h1`); HTTP/2 gets a sibling.

pub(crate) mod h1;
