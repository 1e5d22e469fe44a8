//! Templated requests in HTTP/1.1: the head is encoded once with a stand-in for each
//! placeholder (so the encoder checks it as it checks any request), then cut into the literal
//! runs and placeholders before and after the `content-length` value, which a templated body
//! sets anew for each send. Rendering appends them straight into the connection's write
//! buffer. HTTP/2 will render the same parsed templates into its own header block.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringload_http1::{push_content_length, RequestError, RequestSpec};

use crate::error::{ConfigError, RequestRef, TemplatePlace, TemplatedRequestProblem};
use crate::rng::Rng;
use crate::template::{has_stand_in, StandIns, Template, TemplateContext, MARKER_START};

/// A request in HTTP/1.1's wire form, as the load workers send it: encoded once, or a template
/// rendered anew for each send.
#[derive(Debug, Clone)]
pub(crate) enum WireRequest {
    Fixed(Vec<u8>),
    Templated(Arc<RequestTemplate>),
}

impl WireRequest {
    /// Encodes `spec`; with `templates`, a request with placeholders becomes a template.
    pub fn new(
        spec: &RequestSpec,
        templates: Option<&mut TemplateContext>,
        request: &RequestRef,
    ) -> Result<WireRequest, ConfigError> {
        let template = match templates {
            Some(context) => RequestTemplate::new(spec, context, request)?,
            None => None,
        };
        Ok(match template {
            Some(template) => WireRequest::Templated(Arc::new(template)),
            None => WireRequest::Fixed(spec.encode()?),
        })
    }

    /// Appends the request to `out`; `body` is scratch space for a templated body.
    pub fn write(&self, out: &mut Vec<u8>, body: &mut Vec<u8>, rng: &Rng) {
        match self {
            WireRequest::Fixed(bytes) => out.extend_from_slice(bytes),
            WireRequest::Templated(template) => template.render(out, body, rng),
        }
    }

    /// About how long one rendering is, to size buffers.
    pub fn size_hint(&self) -> usize {
        match self {
            WireRequest::Fixed(bytes) => bytes.len(),
            WireRequest::Templated(template) => template.size_hint(),
        }
    }
}

/// A request whose path, header values or body have placeholders: its head in two templated
/// parts around the body's `content-length`, and its body.
#[derive(Debug)]
pub(crate) struct RequestTemplate {
    /// The run's `{{seq}}` counter, when the request has the placeholder.
    seq: Option<Arc<AtomicU64>>,
    before_length: Template,
    needs_length: bool,
    after_length: Template,
    body: Template,
}

impl RequestTemplate {
    /// Builds the template of `spec` (its texts may hold placeholders) and checks it by
    /// encoding it with every placeholder stood in for; `None` when it has no placeholder.
    pub fn new(
        spec: &RequestSpec,
        context: &mut TemplateContext,
        request: &RequestRef,
    ) -> Result<Option<RequestTemplate>, ConfigError> {
        let mut stand_ins = StandIns::default();
        let target_template = context.parse(&spec.target, TemplatePlace::Path, request)?;
        let mut templated = target_template.changes(spec.target.as_bytes());
        let target = stand_ins.text_of(target_template);
        let mut headers = Vec::with_capacity(spec.headers.len());
        for (name, value) in &spec.headers {
            let value_template = context.parse(value, TemplatePlace::Header, request)?;
            templated |= value_template.changes(value.as_bytes());
            headers.push((name.clone(), stand_ins.text_of(value_template)));
        }
        // A body that is not text (or has no placeholder) is sent as it is.
        let body_text = std::str::from_utf8(&spec.body)
            .ok()
            .filter(|t| t.contains("{{"));
        let body = if let Some(text) = body_text {
            context.parse(text, TemplatePlace::Body, request)?
        } else {
            Template::literal(&spec.body)
        };
        let body_templated = body.changes(&spec.body);
        if !templated && !body_templated {
            return Ok(None);
        }
        if has_stand_in(&spec.target) || spec.headers.iter().any(|(_, v)| has_stand_in(v)) {
            return Err(ConfigError::TemplatedRequest {
                request: request.clone(),
                problem: TemplatedRequestProblem::ReservedText {
                    marker: MARKER_START,
                },
            });
        }
        if body_templated
            && spec
                .headers
                .iter()
                .any(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        {
            return Err(ConfigError::TemplatedRequest {
                request: request.clone(),
                problem: TemplatedRequestProblem::BodyWithContentLength,
            });
        }
        let head = RequestSpec {
            target,
            headers,
            // The length check is for a fixed body; a templated one gets its own each time.
            body: if body_templated {
                vec![b'x']
            } else {
                spec.body.clone()
            },
            ..spec.clone()
        }
        .encode_head()
        .map_err(|error| match error {
            // The target refused holds stand-ins for the placeholders: show it as written.
            RequestError::InvalidTarget(_) => RequestError::InvalidTarget(spec.target.clone()),
            other => other,
        })?;
        let uses_seq = body.uses_seq() || stand_ins.uses_seq();
        Ok(Some(RequestTemplate {
            seq: uses_seq.then(|| context.seq_counter()),
            before_length: stand_ins.split(&head.before_length),
            needs_length: head.needs_length,
            after_length: stand_ins.split(&head.after_length),
            body,
        }))
    }

    /// About how long one rendering is, to size buffers.
    pub fn size_hint(&self) -> usize {
        self.before_length.size_hint() + 32 + self.after_length.size_hint() + self.body.size_hint()
    }

    /// Appends one rendering of the request to `out`; `body` is scratch space for the body.
    pub fn render(&self, out: &mut Vec<u8>, body: &mut Vec<u8>, rng: &Rng) {
        // One value for the whole request: its path, headers and body agree on it.
        let seq = self
            .seq
            .as_ref()
            .map_or(0, |next| next.fetch_add(1, Ordering::Relaxed));
        body.clear();
        self.body.render(body, rng, seq);
        self.before_length.render(out, rng, seq);
        if self.needs_length {
            push_content_length(out, body.len());
        }
        self.after_length.render(out, rng, seq);
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TemplateProblem;

    fn test_request() -> RequestRef {
        RequestRef::Single { url: "test".into() }
    }

    #[test]
    fn a_problem_of_the_whole_request_names_it() {
        let mut context = TemplateContext::default();
        // A problem of the request as a whole names it, the single request by its URL.
        let mut spec = RequestSpec::get("localhost", "/{{seq}}");
        spec.method = "POST".into();
        spec.body = b"{{seq}}".to_vec();
        spec.headers = vec![("Content-Length".into(), "7".into())];
        let single = RequestRef::Single {
            url: "http://h/{{seq}}".into(),
        };
        let length = RequestTemplate::new(&spec, &mut context, &single).unwrap_err();
        assert_eq!(
            length,
            ConfigError::TemplatedRequest {
                request: single,
                problem: TemplatedRequestProblem::BodyWithContentLength,
            }
        );
        assert_eq!(
            length.to_string(),
            "the request http://h/{{seq}}: a templated body's length changes from request to \
             request; remove the Content-Length header and ringload sets it for each one"
        );
    }

    #[test]
    fn every_seq_of_one_request_shares_its_value_and_the_next_request_the_next() {
        let spec = RequestSpec {
            method: "PUT".into(),
            target: "/item/{{seq}}?again={{seq}}".into(),
            host: "localhost".into(),
            headers: vec![("X-Id".into(), "{{seq}}".into())],
            body: br#"{"id":{{seq}}}"#.to_vec(),
        };
        let mut context = TemplateContext::default();
        let template = RequestTemplate::new(&spec, &mut context, &test_request())
            .unwrap()
            .unwrap();
        // A second request of the run draws from the same counter.
        let other = RequestSpec::get("localhost", "/other/{{seq}}");
        let other = RequestTemplate::new(&other, &mut context, &test_request())
            .unwrap()
            .unwrap();
        let rng = Rng::new(5);
        let render = |template: &RequestTemplate| {
            let (mut out, mut scratch) = (Vec::new(), Vec::new());
            template.render(&mut out, &mut scratch, &rng);
            String::from_utf8(out).unwrap()
        };
        for seq in [0, 1] {
            let text = render(&template);
            assert!(
                text.starts_with(&format!("PUT /item/{seq}?again={seq} HTTP/1.1\r\n")),
                "{text}"
            );
            assert!(text.contains(&format!("\r\nx-id: {seq}\r\n")), "{text}");
            assert!(text.ends_with(&format!("{{\"id\":{seq}}}")), "{text}");
        }
        assert!(render(&other).starts_with("GET /other/2 "));
        assert!(render(&template).starts_with("PUT /item/3?again=3 "));
    }

    #[test]
    fn a_templated_request_renders_its_content_length_each_time() {
        let spec = RequestSpec {
            method: "POST".into(),
            target: "/items/{{seq}}".into(),
            host: "localhost".into(),
            headers: vec![("X-Id".into(), "id-{{seq}}".into())],
            body: br#"{"n":{{rand_int 1 100000}}}"#.to_vec(),
        };
        let mut context = TemplateContext::default();
        let template = RequestTemplate::new(&spec, &mut context, &test_request())
            .unwrap()
            .unwrap();
        let rng = Rng::new(3);
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        template.render(&mut out, &mut scratch, &rng);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("POST /items/0 HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("\r\nx-id: id-0\r\n"), "{text}");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{text}"
        );
        assert!(body.starts_with("{\"n\":") && body.ends_with('}'));
        // Not templated: no template, the encoded bytes are sent as they are.
        let plain = RequestSpec::get("localhost", "/");
        assert!(RequestTemplate::new(&plain, &mut context, &test_request())
            .unwrap()
            .is_none());
        // Only an escape: still rendered, so `\{{` goes out as `{{`.
        let mut escaped = RequestSpec::get("localhost", "/");
        escaped.body = br#"{"t":"\{{x}}"}"#.to_vec();
        escaped.method = "POST".into();
        let template = RequestTemplate::new(&escaped, &mut context, &test_request())
            .unwrap()
            .unwrap();
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        template.render(&mut out, &mut scratch, &rng);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\ncontent-length: 13\r\n\r\n"), "{text}");
        assert!(text.ends_with(r#"{"t":"{{x}}"}"#), "{text}");
        // A value that cannot go in a path.
        let spaced = RequestSpec::get("localhost", "/{{choice a é}}");
        let error = RequestTemplate::new(&spaced, &mut context, &test_request()).unwrap_err();
        assert_eq!(
            error,
            ConfigError::Template {
                request: test_request(),
                place: TemplatePlace::Path,
                problem: TemplateProblem::ValueNotAllowed {
                    value: "é".into(),
                    place: TemplatePlace::Path
                },
            }
        );
        assert_eq!(
            error.to_string(),
            "template in the path of the request test: the value \"é\" cannot go in the path \
             (spaces and control characters are not allowed there)"
        );
        // A space written in a templated path: the message quotes the template, not the
        // stand-ins its placeholders had while it was checked.
        let spaced = RequestSpec::get("localhost", "/a b{{seq}}");
        let message = RequestTemplate::new(&spaced, &mut context, &test_request())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("invalid request target \"/a b{{seq}}\""),
            "{message}"
        );
        assert!(!message.contains(MARKER_START), "{message}");
    }
}
