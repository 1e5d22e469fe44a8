//! Requests in HTTP/2's form: the header fields of a `RequestSpec` (pseudo-fields first, names in
//! lower case, `Host` as `:authority`) and its body, made once per run. A templated request keeps
//! a template for each field value and the body, rendered into a connection's scratch head for
//! every send. The HPACK encoding itself happens per connection (its dynamic table is the
//! connection's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringload_h2::RequestHead;
use ringload_http1::request::DEFAULT_USER_AGENT;
use ringload_http1::RequestSpec;

use crate::error::{ConfigError, RequestRef, TemplatePlace};
use crate::rng::Rng;
use crate::template::{Template, TemplateContext};

/// Fields about one connection, which HTTP/2 forbids in a request (RFC 9113 §8.2.2).
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A request as HTTP/2 connections send it.
#[derive(Debug)]
pub(crate) struct H2Request {
    head: RequestHead,
    body: Vec<u8>,
    template: Option<H2Template>,
}

/// Which parts of a request are templates.
#[derive(Debug)]
struct H2Template {
    /// The run's `{{seq}}` counter, when the request has the placeholder.
    seq: Option<Arc<AtomicU64>>,
    /// Field values that are templates, by their index in the head.
    fields: Vec<(usize, Template)>,
    body: Option<Template>,
    /// The `content-length` field ringload sets for a templated body.
    content_length: Option<usize>,
}

/// A connection's buffers for rendering templated requests.
#[derive(Debug, Default)]
pub(crate) struct H2Scratch {
    head: RequestHead,
    body: Vec<u8>,
}

impl H2Request {
    /// The HTTP/2 form of `spec` on `scheme`; with `templates`, its path, header values and body
    /// are templates. The spec was already checked by its HTTP/1.1 encoding.
    pub fn new(
        spec: &RequestSpec,
        scheme: &str,
        mut templates: Option<&mut TemplateContext>,
        request: &RequestRef,
    ) -> Result<H2Request, ConfigError> {
        let mut authority = spec.host.clone();
        let mut fields: Vec<(String, &str)> = Vec::with_capacity(spec.headers.len() + 3);
        for (name, value) in &spec.headers {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if CONNECTION_SPECIFIC.contains(&name.as_str())
                || (name == "te" && !value.eq_ignore_ascii_case("trailers"))
            {
                return Err(ConfigError::Http2ForbiddenHeader { name });
            }
            if name == "host" {
                authority = value.to_string();
                continue;
            }
            fields.push((name, value));
        }
        let has = |fields: &[(String, &str)], name: &str| fields.iter().any(|(n, _)| n == name);
        if !has(&fields, "user-agent") {
            fields.push(("user-agent".into(), DEFAULT_USER_AGENT));
        }
        if !has(&fields, "accept") {
            fields.push(("accept".into(), "*/*"));
        }
        let mut head = RequestHead::new(
            spec.method.as_bytes(),
            scheme.as_bytes(),
            authority.as_bytes(),
            spec.target.as_bytes(),
        );
        let mut template = H2Template {
            seq: None,
            fields: Vec::new(),
            body: None,
            content_length: None,
        };
        let mut uses_seq = false;
        let mut parse =
            |text: &str, place: TemplatePlace| -> Result<Option<Template>, ConfigError> {
                let Some(context) = templates.as_deref_mut() else {
                    return Ok(None);
                };
                let parsed = context.parse(text, place, request)?;
                uses_seq |= parsed.uses_seq();
                if uses_seq && template.seq.is_none() {
                    template.seq = Some(context.seq_counter());
                }
                Ok(parsed.changes(text.as_bytes()).then_some(parsed))
            };
        // The path is field 3 (after :method, :scheme, :authority).
        if let Some(path) = parse(&spec.target, TemplatePlace::Path)? {
            template.fields.push((3, path));
        }
        for (name, value) in &fields {
            if let Some(value) = parse(value, TemplatePlace::Header)? {
                template.fields.push((head.fields().count(), value));
            }
            head.push(name.as_bytes(), value.as_bytes());
        }
        let body_text = std::str::from_utf8(&spec.body)
            .ok()
            .filter(|t| t.contains("{{"));
        if let Some(text) = body_text {
            template.body = parse(text, TemplatePlace::Body)?;
        }
        let has_length = has(&fields, "content-length");
        if template.body.is_some() && !has_length {
            template.content_length = Some(head.fields().count());
            head.push(b"content-length", b"");
        } else if !spec.body.is_empty() && !has_length {
            head.push(b"content-length", spec.body.len().to_string().as_bytes());
        }
        let templated = !template.fields.is_empty() || template.body.is_some();
        Ok(H2Request {
            head,
            body: spec.body.clone(),
            template: templated.then_some(template),
        })
    }

    /// The head and body of one send: the request's own, or a rendering in `scratch`.
    pub fn render<'a>(
        &'a self,
        scratch: &'a mut H2Scratch,
        rng: &Rng,
    ) -> (&'a RequestHead, &'a [u8]) {
        let Some(template) = &self.template else {
            return (&self.head, &self.body);
        };
        // One value for the whole request: its path, fields and body agree on it.
        let seq = template
            .seq
            .as_ref()
            .map_or(0, |next| next.fetch_add(1, Ordering::Relaxed));
        scratch.head.copy_from(&self.head);
        for (index, value) in &template.fields {
            let out = scratch.head.value_mut(*index);
            out.clear();
            value.render(out, rng, seq);
        }
        let body = match &template.body {
            Some(body) => {
                scratch.body.clear();
                body.render(&mut scratch.body, rng, seq);
                if let Some(index) = template.content_length {
                    let out = scratch.head.value_mut(index);
                    out.clear();
                    ringload_http1::push_decimal(out, scratch.body.len() as u64);
                }
                &scratch.body[..]
            }
            None => &self.body[..],
        };
        (&scratch.head, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(head: &RequestHead) -> Vec<(String, String)> {
        head.fields()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn single() -> RequestRef {
        RequestRef::Single { url: "test".into() }
    }

    #[test]
    fn host_becomes_the_authority_and_names_are_lower_case() {
        let mut spec = RequestSpec::get("localhost:8080", "/a?b=1");
        spec.headers = vec![
            ("Host".into(), "api.test".into()),
            ("X-Trace".into(), "1".into()),
        ];
        let request = H2Request::new(&spec, "https", None, &single()).unwrap();
        let mut scratch = H2Scratch::default();
        let (head, body) = request.render(&mut scratch, &Rng::new(1));
        let fields = fields(head);
        assert_eq!(
            &fields[..4],
            &[
                (":method".into(), "GET".into()),
                (":scheme".into(), "https".into()),
                (":authority".into(), "api.test".into()),
                (":path".into(), "/a?b=1".into()),
            ]
        );
        assert!(fields.contains(&("x-trace".into(), "1".into())));
        assert!(!fields.iter().any(|(n, _)| n == "host"));
        assert!(body.is_empty());
    }

    #[test]
    fn connection_specific_headers_are_refused() {
        for (name, value) in [("Connection", "close"), ("Upgrade", "h2c"), ("TE", "gzip")] {
            let mut spec = RequestSpec::get("h", "/");
            spec.headers = vec![(name.into(), value.into())];
            let error = H2Request::new(&spec, "http", None, &single()).unwrap_err();
            assert!(error.to_string().contains("HTTP/2 forbids"), "{error}");
        }
        let mut spec = RequestSpec::get("h", "/");
        spec.headers = vec![("TE".into(), "trailers".into())];
        assert!(H2Request::new(&spec, "http", None, &single()).is_ok());
    }

    #[test]
    fn a_templated_request_renders_path_fields_body_and_length_from_one_seq() {
        let spec = RequestSpec {
            method: "POST".into(),
            target: "/item/{{seq}}".into(),
            host: "h".into(),
            headers: vec![("X-Id".into(), "{{seq}}".into())],
            body: br#"{"id":{{seq}}}"#.to_vec(),
        };
        let mut context = TemplateContext::default();
        let request = H2Request::new(&spec, "http", Some(&mut context), &single()).unwrap();
        let mut scratch = H2Scratch::default();
        let rng = Rng::new(3);
        for seq in [0, 1, 10] {
            if seq == 10 {
                for _ in 2..10 {
                    request.render(&mut scratch, &rng);
                }
            }
            let (head, body) = request.render(&mut scratch, &rng);
            let fields = fields(head);
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert_eq!(fields[3].1, format!("/item/{seq}"));
            assert!(fields.contains(&("x-id".into(), seq.to_string())));
            assert_eq!(body, format!("{{\"id\":{seq}}}"));
            assert!(fields.contains(&("content-length".into(), body.len().to_string())));
        }
    }
}
