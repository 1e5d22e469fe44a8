//! URLs as the Python client (`FastHttpSession`) takes them, read the way
//! `urllib.parse.urlsplit` reads them: the `Host` field is the authority as written, the socket
//! goes to the lower-cased host, a missing port is the scheme's, and the fragment never leaves.

use std::net::{SocketAddr, ToSocketAddrs};

use base64::Engine as _;

use crate::error::{ConfigError, UrlProblem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Where a URL points: scheme, host and port. A [`Target`] holds one (as the URL parser
/// normalizes it); the Python client parses one per origin with [`Origin::parse`] (the
/// authority as written) and caches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: Scheme,
    /// What the socket connects to, and the name for DNS, SNI and certificates: lower-cased,
    /// an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
    /// The `Host` field: the URL's authority without userinfo.
    pub authority: String,
}

impl Origin {
    /// `scheme://[userinfo@]host[:port]` (the first part of [`split_origin`]).
    pub fn parse(origin: &str) -> Result<Origin, ConfigError> {
        let (scheme, authority) = origin.split_once("://").unwrap_or((origin, ""));
        let https = scheme.eq_ignore_ascii_case("https");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) =
                bracketed
                    .split_once(']')
                    .ok_or_else(|| ConfigError::OriginIpv6 {
                        origin: origin.to_string(),
                    })?;
            (host, after.strip_prefix(':').unwrap_or(""))
        } else {
            authority.split_once(':').unwrap_or((authority, ""))
        };
        let port = match port {
            "" if https => 443,
            "" => 80,
            digits => digits.parse::<u16>().map_err(|_| ConfigError::OriginPort {
                origin: origin.to_string(),
                port: digits.to_string(),
            })?,
        };
        Ok(Origin {
            scheme: if https { Scheme::Https } else { Scheme::Http },
            host: host.to_ascii_lowercase(),
            port,
            authority: authority.to_string(),
        })
    }
}

/// Where requests go, parsed from a URL: its origin and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As the URL parser normalizes it: `host` lower-cased (and IDNA-mapped), an IPv6 address
    /// compressed; `authority` is that host, bracketed if IPv6, plus `:port` unless it is the
    /// scheme's default.
    pub origin: Origin,
    /// Origin-form request target (path and query).
    pub path_and_query: String,
    /// The path and query as typed (not normalized or percent-encoded), for templates: a
    /// placeholder such as `{{rand_int 1 9}}` must reach the template parser intact.
    pub typed_path_and_query: String,
    /// `Basic ...` credentials from URL userinfo; never printed.
    pub basic_auth: Option<String>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, ConfigError> {
        let invalid = |problem: UrlProblem| ConfigError::InvalidUrl {
            url: redact_userinfo(url),
            problem,
        };
        if url.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(invalid(UrlProblem::ControlCharacters));
        }
        // Before the URL parser, which reads `localhost:8080` as the scheme `localhost:`.
        if let Some(error) = missing_scheme(url) {
            return Err(error);
        }
        let parsed =
            url::Url::parse(url).map_err(|e| invalid(UrlProblem::Unparsable(e.to_string())))?;
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(ConfigError::UnsupportedScheme(other.to_string())),
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid(UrlProblem::MissingHost)),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| invalid(UrlProblem::MissingPort))?;
        let host_for_header = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => host.clone(),
        };
        let authority = match parsed.port() {
            Some(p) => format!("{host_for_header}:{p}"),
            None => host_for_header,
        };
        let mut path_and_query = parsed.path().to_string();
        if let Some(query) = parsed.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let basic_auth =
            (!parsed.username().is_empty() || parsed.password().is_some()).then(|| {
                let user = percent_decode(parsed.username());
                let password = percent_decode(parsed.password().unwrap_or(""));
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Basic {token}")
            });
        Ok(Target {
            origin: Origin {
                scheme,
                host,
                port,
                authority,
            },
            typed_path_and_query: typed_path_and_query(url)
                .unwrap_or_else(|| path_and_query.clone()),
            path_and_query,
            basic_auth,
        })
    }

    /// The path and query a template is read from: as typed when it has a placeholder or an
    /// escape (the URL parser would percent-encode the braces), else the normalized one.
    pub fn template_path_and_query(&self) -> &str {
        if self.typed_path_and_query.contains("{{") {
            &self.typed_path_and_query
        } else {
            &self.path_and_query
        }
    }

    /// The URL for reports: scheme, authority and path, never credentials.
    pub fn display_url(&self) -> String {
        let scheme = match self.origin.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!(
            "{scheme}://{}{}",
            self.origin.authority, self.path_and_query
        )
    }

    /// Resolves the host to socket addresses (blocking; done once before the run).
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        let resolve_error = |reason: String| ConfigError::Resolve {
            host: self.origin.host.clone(),
            reason,
        };
        let addrs: Vec<SocketAddr> = (self.origin.host.as_str(), self.origin.port)
            .to_socket_addrs()
            .map_err(|e| resolve_error(e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(resolve_error("no addresses".into()));
        }
        Ok(addrs)
    }
}

/// The text after the authority of `url`, without a fragment: `/a/{{seq}}?b` as typed.
fn typed_path_and_query(url: &str) -> Option<String> {
    let after_scheme = &url[url.find("://")? + 3..];
    let start = after_scheme.find(['/', '?'])?;
    let rest = &after_scheme[start..];
    let rest = rest.split('#').next().unwrap_or(rest);
    Some(if rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest.to_string()
    })
}

/// `s` with each `%XX` (two hex digits) decoded, lossily as UTF-8: userinfo for `Basic`.
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// The bytes of `text` with each `%XX` (two hex digits, either case) decoded, as `urllib`'s
/// `unquote_to_bytes` does; a `%` not followed by two hex digits stays as it is.
pub(crate) fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A URL with any `user:password@` removed, for messages.
pub fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    // The authority ends at the first '/', '?' or '#'; an '@' after it belongs to the path.
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| i + authority_start);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}***@{}",
            &url[..authority_start],
            &url[authority_start + at + 1..]
        ),
        None => url.to_string(),
    }
}

/// Splits an `http://` or `https://` URL (any case) into `scheme://authority` and the rest
/// (path, query, fragment); `None` for any other scheme.
pub fn split_origin(url: &str) -> Option<(&str, &str)> {
    let scheme_len = ["http://", "https://"].iter().find_map(|prefix| {
        let head = url.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then_some(prefix.len())
    })?;
    let end = url[scheme_len..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| scheme_len + at);
    Some((&url[..end], &url[end..]))
}

/// The scheme as `urlsplit` reads it ('' when there is none), for error messages.
pub fn scheme_of(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            scheme.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// The URL meant by one written without `http://` or `https://` (`127.0.0.1:8080`,
/// `localhost:8080/x`, `example.com`): `https://` in front for port 443, `http://` for any
/// other. `None` for a URL with a scheme, a path, or text that does not begin with a host.
pub fn with_missing_scheme(url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    // `//host/x`, a scheme-relative reference, has all but the scheme.
    let (rest, prefix) = match url.strip_prefix("//") {
        Some(rest) => (rest, "//"),
        None => (url, ""),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (address, after) = bracketed.split_once(']')?;
            let is_ipv6 = address.contains(':')
                && address
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (is_ipv6, port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let is_name = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
            (is_name, port)
        }
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if !(host_ok && port_ok) {
        return None;
    }
    let scheme = if port == Some("443") {
        "https:"
    } else {
        "http:"
    };
    let slashes = if prefix.is_empty() { "//" } else { "" };
    Some(format!("{scheme}{slashes}{url}"))
}

/// The error for a URL written without `http://` or `https://`, naming the URL it most likely
/// meant; `None` when [`with_missing_scheme`] sees no such URL.
pub fn missing_scheme(url: &str) -> Option<ConfigError> {
    with_missing_scheme(url).map(|suggested| ConfigError::MissingScheme {
        url: url.to_string(),
        suggested,
    })
}

/// What to say about a URL written without `http://` or `https://` ([`missing_scheme`]'s
/// message), for callers that raise their own error type.
pub fn missing_scheme_message(url: &str) -> Option<String> {
    missing_scheme(url).map(|error| error.to_string())
}

/// The origin-form request target of what follows the authority: the path ("/" when empty)
/// and a non-empty query, without the fragment.
pub fn target_of(rest: &str) -> String {
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_says_what_is_wrong_as_data() {
        let problem = |url: &str| match Target::parse(url) {
            Err(ConfigError::InvalidUrl { problem, .. }) => problem,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(problem("http://a\r\nb/"), UrlProblem::ControlCharacters);
        assert!(matches!(problem("http://[::1/"), UrlProblem::Unparsable(_)));
        assert_eq!(
            Target::parse("http://u:secret@a\n/")
                .unwrap_err()
                .to_string(),
            r#"invalid URL "http://***@a\n/": CR, LF and NUL are not allowed"#
        );
    }

    #[test]
    fn only_http_and_https_split_at_the_end_of_the_authority() {
        assert_eq!(
            split_origin("http://h:1/a?b#c"),
            Some(("http://h:1", "/a?b#c"))
        );
        assert_eq!(split_origin("HTTPS://h?q"), Some(("HTTPS://h", "?q")));
        assert_eq!(split_origin("https://h"), Some(("https://h", "")));
        assert_eq!(split_origin("ftp://h/x"), None);
        assert_eq!(split_origin("/relative"), None);
        assert_eq!(scheme_of("ftp://h/x"), "ftp");
        assert_eq!(scheme_of("None/x"), "");
        assert_eq!(scheme_of("Localhost:8080/x"), "localhost");
    }

    #[test]
    fn urls_without_a_scheme_get_the_one_they_meant() {
        for (written, meant) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("localhost:8080/", "http://localhost:8080/"),
            ("Example.com/a?b#c", "http://Example.com/a?b#c"),
            ("example.com:443", "https://example.com:443"),
            ("[::1]:81/x", "http://[::1]:81/x"),
            ("[::1]", "http://[::1]"),
            ("//host:9/x", "http://host:9/x"),
        ] {
            assert_eq!(with_missing_scheme(written).as_deref(), Some(meant));
        }
        for not_schemeless in [
            "http://127.0.0.1:8080",
            "ftp://h/x",
            "/relative",
            "",
            "not a url",
            "mailto:someone",
            "localhost:",
            "localhost:99999999/",
            "user:secret@host:80",
            "[zz]:80",
        ] {
            assert_eq!(
                with_missing_scheme(not_schemeless),
                None,
                "{not_schemeless}"
            );
        }
        assert_eq!(
            missing_scheme_message("127.0.0.1:8080").unwrap(),
            "the URL \"127.0.0.1:8080\" lacks http:// or https://; did you mean \"http://127.0.0.1:8080\"?"
        );
        assert_eq!(
            Target::parse("example.com:443/x").unwrap_err(),
            ConfigError::MissingScheme {
                url: "example.com:443/x".into(),
                suggested: "https://example.com:443/x".into(),
            }
        );
    }

    #[test]
    fn targets_keep_path_and_query_without_fragment() {
        assert_eq!(target_of(""), "/");
        assert_eq!(target_of("?a=1"), "/?a=1");
        assert_eq!(target_of("/x?"), "/x");
        assert_eq!(target_of("/x?a=1#frag"), "/x?a=1");
        assert_eq!(target_of("/x#f?not-a-query"), "/x");
    }

    #[test]
    fn percent_escapes_decode_to_bytes_and_nothing_else_does() {
        assert_eq!(percent_decode_bytes("p%40ss%2f%2F"), b"p@ss//");
        assert_eq!(percent_decode_bytes("%E9%e9"), [0xe9, 0xe9]);
        // Not two hex digits: left as written (a sign is not a digit).
        for literal in ["%", "%4", "a%4", "%zz", "%+5", "%-1", "100%"] {
            assert_eq!(
                percent_decode_bytes(literal),
                literal.as_bytes(),
                "{literal}"
            );
        }
        assert_eq!(percent_decode_bytes("%41%4"), b"A%4");
        assert_eq!(percent_decode("caf%C3%A9"), "caf\u{e9}");
        assert_eq!(percent_decode("%E9x"), "\u{fffd}x");
    }

    #[test]
    fn a_target_holds_its_origin_as_the_url_parser_normalizes_it() {
        let target = Target::parse("HTTP://u:p%40ss@Example.COM:80/a?b#c").unwrap();
        let origin = Origin {
            scheme: Scheme::Http,
            host: "example.com".into(),
            port: 80,
            authority: "example.com".into(),
        };
        assert_eq!(target.origin, origin);
        assert_eq!(target.path_and_query, "/a?b");
        assert_eq!(target.display_url(), "http://example.com/a?b");
        // base64("u:p@ss")
        assert_eq!(target.basic_auth.as_deref(), Some("Basic dTpwQHNz"));
        let target = Target::parse("https://[0::1]:8443").unwrap();
        assert_eq!(target.origin.scheme, Scheme::Https);
        assert_eq!(
            (target.origin.host.as_str(), target.origin.port),
            ("::1", 8443)
        );
        assert_eq!(target.origin.authority, "[::1]:8443");
        assert_eq!(target.display_url(), "https://[::1]:8443/");
        // The Python client's origins keep the authority as written.
        let written = Origin::parse("HTTP://Example.COM:80").unwrap();
        assert_eq!(written.host, "example.com");
        assert_eq!(written.authority, "Example.COM:80");
    }

    #[test]
    fn origins_read_ports_ipv6_and_userinfo() {
        let origin = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("127.0.0.1", 8080));
        let origin = Origin::parse("HTTPS://Example.COM").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("example.com", 443));
        assert_eq!(origin.authority, "Example.COM");
        assert_eq!(origin.scheme, Scheme::Https);
        let origin = Origin::parse("http://[::1]:81").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("::1", 81));
        assert_eq!(origin.authority, "[::1]:81");
        let origin = Origin::parse("http://u:p@host:90").unwrap();
        assert_eq!((origin.authority.as_str(), origin.port), ("host:90", 90));
        assert_eq!(
            Origin::parse("http://host:99999").unwrap_err().to_string(),
            r#"invalid port "99999" in "http://host:99999" (0-65535)"#
        );
        assert!(matches!(
            Origin::parse("http://host:x"),
            Err(ConfigError::OriginPort { port, .. }) if port == "x"
        ));
        assert_eq!(
            Origin::parse("http://[::1").unwrap_err().to_string(),
            r#"invalid IPv6 address in "http://[::1""#
        );
        // as urlsplit: the port is everything after the first colon
        assert!(Origin::parse("http://h:80ftp:").is_err());
    }
}
