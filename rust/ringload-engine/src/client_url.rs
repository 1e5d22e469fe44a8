//! URLs as the Python client (`FastHttpSession`) takes them, read the way
//! `urllib.parse.urlsplit` reads them: the `Host` field is the authority as written, the socket
//! goes to the lower-cased host, a missing port is the scheme's, and the fragment never leaves.

use crate::config::Scheme;

/// Where a URL points: parsed once per origin and cached by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrigin {
    pub scheme: Scheme,
    /// What the socket connects to (an IPv6 address without brackets), lower-cased.
    pub host: String,
    pub port: u16,
    /// The `Host` field: the URL's authority without userinfo, as written.
    pub authority: String,
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

/// What to say about a URL written without `http://` or `https://`, naming the URL it most
/// likely meant; `None` when [`with_missing_scheme`] sees no such URL.
pub fn missing_scheme_message(url: &str) -> Option<String> {
    with_missing_scheme(url)
        .map(|meant| format!("the URL {url:?} lacks http:// or https://; did you mean {meant:?}?"))
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

impl ClientOrigin {
    /// `scheme://[userinfo@]host[:port]` (the first part of [`split_origin`]). The error says
    /// what is wrong, for a ValueError.
    pub fn parse(origin: &str) -> Result<ClientOrigin, String> {
        let (scheme, authority) = origin.split_once("://").unwrap_or((origin, ""));
        let https = scheme.eq_ignore_ascii_case("https");
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("invalid IPv6 address in {origin:?}"))?;
            (host, after.strip_prefix(':').unwrap_or(""))
        } else {
            authority.split_once(':').unwrap_or((authority, ""))
        };
        let port = match port {
            "" if https => 443,
            "" => 80,
            digits => digits
                .parse::<u16>()
                .map_err(|_| format!("invalid port {digits:?} in {origin:?} (0-65535)"))?,
        };
        Ok(ClientOrigin {
            scheme: if https { Scheme::Https } else { Scheme::Http },
            host: host.to_ascii_lowercase(),
            port,
            authority: authority.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn origins_read_ports_ipv6_and_userinfo() {
        let origin = ClientOrigin::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("127.0.0.1", 8080));
        let origin = ClientOrigin::parse("HTTPS://Example.COM").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("example.com", 443));
        assert_eq!(origin.authority, "Example.COM");
        assert_eq!(origin.scheme, Scheme::Https);
        let origin = ClientOrigin::parse("http://[::1]:81").unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("::1", 81));
        assert_eq!(origin.authority, "[::1]:81");
        let origin = ClientOrigin::parse("http://u:p@host:90").unwrap();
        assert_eq!((origin.authority.as_str(), origin.port), ("host:90", 90));
        assert!(ClientOrigin::parse("http://host:99999").is_err());
        assert!(ClientOrigin::parse("http://host:x").is_err());
        assert!(ClientOrigin::parse("http://[::1").is_err());
        // as urlsplit: the port is everything after the first colon
        assert!(ClientOrigin::parse("http://h:80ftp:").is_err());
    }
}
