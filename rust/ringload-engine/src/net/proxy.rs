//! HTTP proxies for the Python package's client (Locust's `proxy_host`/`proxy_port`, requests'
//! `proxies=`): `http://` requests go to the proxy in absolute form; `https://` ones go through a
//! `CONNECT` tunnel, and TLS to the origin runs inside it, so the proxy never sees the request.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::error::ErrorKind;
use crate::error::Failure;
use crate::origin::percent_decode_bytes;

/// The most a proxy's answer to `CONNECT` may take; past it the proxy is not one.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// One proxy: where it listens and the credentials it is sent.
#[derive(Debug)]
pub struct ClientProxy {
    /// Connections through different proxies are pooled apart.
    pub(crate) id: u64,
    pub host: String,
    pub port: u16,
    /// `Basic ...` for `Proxy-Authorization`, from the proxy URL's user information.
    pub authorization: Option<String>,
}

impl ClientProxy {
    /// A proxy from `http://[user:password@]host[:port]` (port 80 when absent, as urllib3).
    pub fn parse(url: &str) -> Result<Arc<ClientProxy>, String> {
        let invalid = |why: &str| format!("invalid proxy URL {url:?}: {why}");
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
            .ok_or_else(|| {
                invalid("ringload speaks to HTTP proxies only; give it as http://host:port")
            })?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| invalid("the port must be 1 to 65535"))?,
            ),
            _ => (hostport, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let authorization = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            // The decoded bytes as they are: credentials need not be UTF-8.
            let mut credentials = percent_decode_bytes(user);
            credentials.push(b':');
            credentials.extend(percent_decode_bytes(password));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            )
        });
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok(Arc::new(ClientProxy {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            host: host.to_string(),
            port,
            authorization,
        }))
    }
}

/// The proxy could not be reached (its address, its TCP connect). The origin was never
/// contacted, so the message names the proxy; the OS error stays the source (its errno).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to the proxy {proxy}: {source}")]
pub(crate) struct ProxyUnreachable {
    proxy: String,
    #[source]
    source: io::Error,
}

impl ClientProxy {
    /// `failure` to reach this proxy, as an error that names it.
    pub(crate) fn unreachable(&self, failure: Failure) -> Failure {
        let proxy = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let kind = failure.error.kind();
        let source = failure.error;
        Failure::new(
            failure.kind,
            io::Error::new(kind, ProxyUnreachable { proxy, source }),
        )
    }
}

/// Asks the proxy on `stream` for a tunnel to `host:port` and reads its answer: the stream then
/// carries bytes to the origin. A refusal (407, 403, 502, ...) is a connect failure naming it.
pub(crate) async fn open_tunnel(
    stream: &mut TcpStream,
    proxy: &ClientProxy,
    host: &str,
    port: u16,
) -> Result<(), Failure> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    let (written, _) = stream.write_all(request.into_bytes()).await;
    written.map_err(|e| Failure::new(ErrorKind::Connect, e))?;
    let mut answer = Vec::with_capacity(512);
    let mut buf = vec![0u8; 1024];
    loop {
        let (read, returned) = stream.read(buf).await;
        buf = returned;
        let n = read.map_err(|e| Failure::new(ErrorKind::Connect, e))?;
        if n == 0 {
            return Err(Failure::new(
                ErrorKind::Connect,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the proxy closed the connection instead of opening a tunnel",
                ),
            ));
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            return tunnel_status(&answer[..end + 4]);
        }
        if answer.len() > MAX_CONNECT_RESPONSE {
            return Err(refused("an answer to CONNECT that never ends"));
        }
    }
}

fn tunnel_status(head: &[u8]) -> Result<(), Failure> {
    // A CONNECT's answer has no body to frame, as a HEAD's has none.
    match ringload_http1::parse_response_head(head, true, |_, _| {}) {
        Ok(Some(parsed)) if (200..300).contains(&parsed.status) => Ok(()),
        Ok(Some(parsed)) => {
            let (start, len) = parsed.reason;
            let reason = String::from_utf8_lossy(&head[start..start + len]);
            Err(refused(&format!("{} {reason}", parsed.status)))
        }
        _ => Err(refused("an invalid answer to CONNECT")),
    }
}

fn refused(what: &str) -> Failure {
    // Not ConnectionRefused: that reads as ECONNREFUSED, and the proxy's answer would be lost.
    Failure::new(
        ErrorKind::Connect,
        io::Error::other(format!("the proxy refused the tunnel: {what}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_with_credentials_and_default_port() {
        let proxy = ClientProxy::parse("http://user:p%40ss@127.0.0.1:3128").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("127.0.0.1", 3128));
        // base64("user:p@ss")
        assert_eq!(proxy.authorization.as_deref(), Some("Basic dXNlcjpwQHNz"));
        let proxy = ClientProxy::parse("http://proxy.local/").unwrap();
        assert_eq!(
            (
                proxy.host.as_str(),
                proxy.port,
                proxy.authorization.is_none()
            ),
            ("proxy.local", 80, true)
        );
        assert_eq!(ClientProxy::parse("http://[::1]:8080").unwrap().host, "::1");
        assert_eq!(ClientProxy::parse("Http://127.0.0.1:1").unwrap().port, 1);
        // Latin-1 "é" (%E9) is sent as that byte, not as U+FFFD: base64("\xe9:x") = "6Tp4".
        let latin1 = ClientProxy::parse("http://%E9:x@127.0.0.1:3128").unwrap();
        assert_eq!(latin1.authorization.as_deref(), Some("Basic 6Tp4"));
        for bad in [
            "socks5://127.0.0.1:1080",
            "https://127.0.0.1:3128",
            "http://:3128",
            "http://h:0",
            "http://h:x",
        ] {
            assert!(ClientProxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tunnel_opens_on_2xx_only() {
        assert!(tunnel_status(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok());
        let refusal = tunnel_status(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
        )
        .unwrap_err();
        assert!(refusal
            .error
            .to_string()
            .contains("407 Proxy Authentication Required"));
        assert!(tunnel_status(b"garbage\r\n\r\n").is_err());
    }
}
