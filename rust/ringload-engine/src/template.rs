//! Templated requests: placeholders in the path, header values and body, rendered for every
//! send so that requests differ (cold caches, unique ids).
//!
//! `{{seq}}` (0, 1, 2, ... across the whole run, one value per request however often it is
//! written, so `/items/{{seq}}` and `{"id": {{seq}}}` name the same item), `{{rand_int LO HI}}`,
//! `{{uuid}}` (version 4), `{{choice A B C}}`, `{{line FILE}}` (the file's lines in order,
//! wrapping) and `{{rand_line FILE}}`. `\{{` is a literal `{{`. A request is parsed and checked
//! once, before any connection; rendering appends literal byte runs and values straight into
//! the connection's write buffer, with no allocation. What a template becomes on the wire is
//! its protocol's business: HTTP/1.1's is `proto::h1::render`, which writes the head with
//! [`StandIns`] and splits it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringload_http1::push_decimal;

use crate::error::{ConfigError, RequestRef, TemplatePlace, TemplateProblem};
use crate::rng::Rng;

impl TemplatePlace {
    /// Whether a value written in a placeholder may go here as it is.
    fn allows(self, value: &[u8]) -> bool {
        match self {
            TemplatePlace::Path => value.iter().all(|&b| b > b' ' && b != 0x7f && b.is_ascii()),
            TemplatePlace::Header => value
                .iter()
                .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f)),
            TemplatePlace::Body => true,
        }
    }
}

/// What a placeholder renders.
#[derive(Debug)]
enum Generator {
    /// The request's number in the run's sequence, drawn once per rendering.
    Seq,
    /// A uniform integer among the `count` values from `low` (0: all 2^64 of them).
    RandInt {
        low: i64,
        count: u64,
    },
    Uuid,
    Choice(Vec<Box<[u8]>>),
    /// A file's lines in order; the cursor is shared by the run's workers.
    Line(Arc<[Box<[u8]>]>, Arc<AtomicU64>),
    RandLine(Arc<[Box<[u8]>]>),
}

impl Generator {
    fn render(&self, out: &mut Vec<u8>, rng: &Rng, seq: u64) {
        match self {
            Generator::Seq => push_decimal(out, seq),
            Generator::RandInt { low, count } => {
                let offset = if *count == 0 {
                    rng.next_u64()
                } else {
                    rng.below(*count)
                };
                let value = low.wrapping_add(offset as i64);
                if value < 0 {
                    out.push(b'-');
                }
                push_decimal(out, value.unsigned_abs());
            }
            Generator::Uuid => push_uuid(out, rng.next_u64(), rng.next_u64()),
            Generator::Choice(options) => {
                out.extend_from_slice(&options[rng.below(options.len() as u64) as usize]);
            }
            Generator::Line(lines, cursor) => {
                let index = cursor.fetch_add(1, Ordering::Relaxed) % lines.len() as u64;
                out.extend_from_slice(&lines[index as usize]);
            }
            Generator::RandLine(lines) => {
                out.extend_from_slice(&lines[rng.below(lines.len() as u64) as usize]);
            }
        }
    }

    /// The values that come from the user (options, file lines), to check against the place.
    fn given_values(&self) -> &[Box<[u8]>] {
        match self {
            Generator::Choice(options) => options,
            Generator::Line(lines, _) | Generator::RandLine(lines) => lines,
            _ => &[],
        }
    }
}

#[derive(Debug)]
enum Part {
    Literal(Box<[u8]>),
    /// A placeholder, and a hash of its text ([`Rng::for_placeholder`]).
    Value(Generator, u64),
}

/// FNV-1a of a placeholder's text: the same text, the same key, in every request of a run.
fn placeholder_key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One templated text: literal runs and placeholders.
#[derive(Debug, Default)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// True when sending `text` needs this template: it has a placeholder, or an escape that
    /// renders differently from the text.
    pub fn changes(&self, text: &[u8]) -> bool {
        if !self.is_literal() {
            return true;
        }
        let mut literal = Vec::with_capacity(text.len());
        for part in &self.parts {
            if let Part::Literal(bytes) = part {
                literal.extend_from_slice(bytes);
            }
        }
        literal != text
    }

    pub fn uses_seq(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Value(Generator::Seq, _)))
    }

    /// Bytes sent as they are.
    pub fn literal(bytes: &[u8]) -> Template {
        Template {
            parts: vec![Part::Literal(bytes.into())],
        }
    }

    /// About how long one rendering is, to size buffers.
    pub fn size_hint(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(bytes) => bytes.len(),
                Part::Value(..) => 40,
            })
            .sum()
    }

    /// Appends the text with `seq` for every `{{seq}}`.
    pub fn render(&self, out: &mut Vec<u8>, rng: &Rng, seq: u64) {
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Value(generator, key) => match rng.for_placeholder(*key) {
                    Some(own) => generator.render(out, &own, seq),
                    None => generator.render(out, rng, seq),
                },
            }
        }
    }
}

/// What parsing templates shares within one run: the `{{seq}}` counter and the files read.
#[derive(Default, Debug)]
pub(crate) struct TemplateContext {
    seq: Arc<AtomicU64>,
    /// Where relative file names are found (a scenario file's directory).
    base_dir: Option<PathBuf>,
    files: HashMap<PathBuf, Arc<[Box<[u8]>]>>,
    /// Check placeholders' syntax only: files are not read.
    syntax_only: bool,
}

impl TemplateContext {
    pub fn new(base_dir: Option<PathBuf>) -> Self {
        TemplateContext {
            base_dir,
            ..Default::default()
        }
    }

    /// The run's `{{seq}}` counter, which every request's template draws from.
    pub fn seq_counter(&self) -> Arc<AtomicU64> {
        self.seq.clone()
    }

    /// For checking a request on its own, before its run (and its file base) is known.
    pub fn syntax_only() -> Self {
        TemplateContext {
            syntax_only: true,
            ..Default::default()
        }
    }

    /// Parses `text`, found in `place` of `request` (for errors).
    pub fn parse(
        &mut self,
        text: &str,
        place: TemplatePlace,
        request: &RequestRef,
    ) -> Result<Template, ConfigError> {
        let invalid = |problem: TemplateProblem| ConfigError::Template {
            request: request.clone(),
            place,
            problem,
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("{{") {
            if rest[..at].ends_with('\\') {
                // `\{{` is a literal `{{`.
                literal.push_str(&rest[..at - 1]);
                literal.push_str("{{");
                rest = &rest[at + 2..];
                continue;
            }
            literal.push_str(&rest[..at]);
            let inside = &rest[at + 2..];
            let Some(end) = inside.find("}}") else {
                return Err(invalid(TemplateProblem::Unclosed {
                    text: text.to_string(),
                }));
            };
            let source = inside[..end].trim();
            let generator = self.generator(source).map_err(&invalid)?;
            for value in generator.given_values() {
                if !place.allows(value) {
                    return Err(invalid(TemplateProblem::ValueNotAllowed {
                        value: String::from_utf8_lossy(value).into_owned(),
                        place,
                    }));
                }
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(
                    std::mem::take(&mut literal).into_bytes().into(),
                ));
            }
            parts.push(Part::Value(generator, placeholder_key(source)));
            rest = &inside[end + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.into_bytes().into()));
        }
        Ok(Template { parts })
    }

    fn generator(&mut self, placeholder: &str) -> Result<Generator, TemplateProblem> {
        let mut words = placeholder.split_whitespace();
        let name = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        let usage = |usage: &'static str| TemplateProblem::Usage {
            placeholder: placeholder.to_string(),
            usage,
        };
        let arity = |n: usize, text: &'static str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(usage(text))
            }
        };
        match name {
            "seq" => arity(0, "{{seq}}").map(|()| Generator::Seq),
            "uuid" => arity(0, "{{uuid}}").map(|()| Generator::Uuid),
            "rand_int" => {
                arity(2, "{{rand_int LO HI}}")?;
                let number = |s: &str| {
                    s.parse::<i64>().map_err(|_| TemplateProblem::NotAnInteger {
                        placeholder: placeholder.to_string(),
                        text: s.to_string(),
                    })
                };
                let (low, high) = (number(args[0])?, number(args[1])?);
                if low > high {
                    return Err(TemplateProblem::LowAboveHigh {
                        placeholder: placeholder.to_string(),
                        low,
                        high,
                    });
                }
                // The full i64 range has 2^64 values: a count of 0 stands for it.
                let count = (high.wrapping_sub(low) as u64).wrapping_add(1);
                Ok(Generator::RandInt { low, count })
            }
            "choice" => {
                if args.is_empty() {
                    return Err(usage("{{choice A B C}}"));
                }
                Ok(Generator::Choice(
                    args.iter().map(|a| a.as_bytes().into()).collect(),
                ))
            }
            "line" | "rand_line" => {
                let line = name == "line";
                arity(
                    1,
                    if line {
                        "{{line FILE}}"
                    } else {
                        "{{rand_line FILE}}"
                    },
                )?;
                let lines = self.lines(args[0])?;
                Ok(if line {
                    Generator::Line(lines, Arc::new(AtomicU64::new(0)))
                } else {
                    Generator::RandLine(lines)
                })
            }
            "" => Err(TemplateProblem::Empty),
            other => Err(TemplateProblem::UnknownFunction {
                name: other.to_string(),
                placeholder: placeholder.to_string(),
            }),
        }
    }

    /// The non-empty lines of `file` (without line endings), read once per run.
    fn lines(&mut self, file: &str) -> Result<Arc<[Box<[u8]>]>, TemplateProblem> {
        if self.syntax_only {
            return Ok(Arc::from(vec![Box::from(&b"x"[..])]));
        }
        let path = match &self.base_dir {
            Some(dir) if Path::new(file).is_relative() => dir.join(file),
            _ => PathBuf::from(file),
        };
        if let Some(lines) = self.files.get(&path) {
            return Ok(lines.clone());
        }
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) => {
                return Err(TemplateProblem::Unreadable {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let lines: Arc<[Box<[u8]>]> = text
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter(|line| !line.is_empty())
            .map(Box::from)
            .collect();
        if lines.is_empty() {
            return Err(TemplateProblem::NoLines { path });
        }
        self.files.insert(path, lines.clone());
        Ok(lines)
    }
}

/// Stands for the `n`-th placeholder in a text handed to a protocol's encoder: letters and
/// digits, valid in a path and a header value, and split out again after encoding.
pub(crate) const MARKER_START: &str = "rLtPlMk";
const MARKER_END: char = 'z';

/// Templates written out as text with a stand-in for each placeholder, so that a protocol's
/// encoder can check and frame them as it does any request; [`StandIns::split`] reads its
/// output back into templates. Keeps the placeholders meanwhile.
#[derive(Default)]
pub(crate) struct StandIns {
    generators: Vec<Option<(Generator, u64)>>,
}

impl StandIns {
    /// `template` as text, each placeholder replaced by its stand-in.
    pub fn text_of(&mut self, template: Template) -> String {
        let mut text = String::new();
        for part in template.parts {
            match part {
                Part::Literal(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
                Part::Value(generator, key) => {
                    let n = self.generators.len();
                    text.push_str(&format!("{MARKER_START}{n}{MARKER_END}"));
                    self.generators.push(Some((generator, key)));
                }
            }
        }
        text
    }

    /// Whether a placeholder written out so far is `{{seq}}`.
    pub fn uses_seq(&self) -> bool {
        self.generators
            .iter()
            .any(|g| matches!(g, Some((Generator::Seq, _))))
    }

    /// Encoded bytes holding stand-ins, back into literal runs and their placeholders.
    pub fn split(&mut self, bytes: &[u8]) -> Template {
        let mut parts = Vec::new();
        let text = String::from_utf8_lossy(bytes);
        let mut rest: &str = &text;
        while let Some(at) = rest.find(MARKER_START) {
            let after = &rest[at + MARKER_START.len()..];
            let digits = after.find(MARKER_END).unwrap_or(0);
            let index: Option<usize> = after[..digits].parse().ok();
            let Some((generator, key)) = index
                .and_then(|i| self.generators.get_mut(i))
                .and_then(Option::take)
            else {
                // Not one of ours (cannot happen: user text with the marker is refused).
                break;
            };
            if at > 0 {
                parts.push(Part::Literal(rest.as_bytes()[..at].into()));
            }
            parts.push(Part::Value(generator, key));
            rest = &after[digits + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.as_bytes().into()));
        }
        Template { parts }
    }
}

/// Whether `text` holds the stand-ins' marker (user text may not, in a templated request).
pub(crate) fn has_stand_in(text: &str) -> bool {
    text.contains(MARKER_START)
}

/// A random (version 4, RFC 9562) UUID in its 8-4-4-4-12 form.
fn push_uuid(out: &mut Vec<u8>, high: u64, low: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let high = (high & !0xF000) | 0x4000; // version 4
    let low = (low & !(0b11 << 62)) | (0b10 << 62); // variant 10
    let bytes = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0xF)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_request() -> RequestRef {
        RequestRef::Single { url: "test".into() }
    }

    fn render_all(text: &str, times: usize) -> Vec<String> {
        let mut context = TemplateContext::default();
        let template = context
            .parse(text, TemplatePlace::Body, &test_request())
            .unwrap();
        let rng = Rng::new(7);
        (0..times as u64)
            .map(|seq| {
                let mut out = Vec::new();
                template.render(&mut out, &rng, seq);
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    #[test]
    fn seq_counts_and_literals_stay() {
        assert_eq!(render_all("id={{seq}};", 3), ["id=0;", "id=1;", "id=2;"]);
        assert_eq!(render_all("{{ seq }}-{{seq}}", 2), ["0-0", "1-1"]);
        assert_eq!(render_all(r"\{{seq}} {}", 1), ["{{seq}} {}"]);
        assert_eq!(render_all("no placeholders }}", 1), ["no placeholders }}"]);
    }

    #[test]
    fn random_values_stay_in_range() {
        let values: Vec<i64> = render_all("{{rand_int -3 3}}", 2_000)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(values.iter().all(|v| (-3..=3).contains(v)));
        for want in -3..=3 {
            assert!(values.contains(&want), "{want} never drawn");
        }
        let picks = render_all("{{choice red green blue}}", 300);
        for colour in ["red", "green", "blue"] {
            assert!(picks.iter().any(|p| p == colour));
        }
        assert!(picks
            .iter()
            .all(|p| ["red", "green", "blue"].contains(&p.as_str())));
        assert_eq!(render_all("{{rand_int 5 5}}", 3), ["5", "5", "5"]);
        assert_eq!(render_all("{{rand_int -30 -30}}", 2), ["-30", "-30"]);
        let lowest = render_all(&format!("{{{{rand_int {0} {0}}}}}", i64::MIN), 1);
        assert_eq!(lowest, [i64::MIN.to_string()]);
        let full = render_all(&format!("{{{{rand_int {} {}}}}}", i64::MIN, i64::MAX), 5);
        assert!(full.iter().all(|v| v.parse::<i64>().is_ok()));
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let ids = render_all("{{uuid}}", 100);
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 100);
        for id in &ids {
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(groups[2].starts_with('4'), "{id}");
            assert!(
                matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
        }
    }

    #[test]
    fn lines_come_in_order_and_wrap() {
        let dir = std::env::temp_dir().join(format!("ringload-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ids.txt"), "a\r\nb\n\nc\n").unwrap();
        let mut context = TemplateContext::new(Some(dir.clone()));
        let template = context
            .parse("{{line ids.txt}}", TemplatePlace::Path, &test_request())
            .unwrap();
        let rng = Rng::new(1);
        let rendered: Vec<String> = (0..5)
            .map(|_| {
                let mut out = Vec::new();
                template.render(&mut out, &rng, 0);
                String::from_utf8(out).unwrap()
            })
            .collect();
        assert_eq!(rendered, ["a", "b", "c", "a", "b"]);
        let random = context
            .parse(
                "{{rand_line ids.txt}}",
                TemplatePlace::Body,
                &test_request(),
            )
            .unwrap();
        let mut out = Vec::new();
        random.render(&mut out, &rng, 0);
        assert!(["a", "b", "c"].contains(&std::str::from_utf8(&out).unwrap()));
    }

    #[test]
    fn bad_templates_are_refused_with_their_reason() {
        let mut context = TemplateContext::default();
        let mut reason = |text: &str, place: TemplatePlace| {
            context
                .parse(text, place, &RequestRef::Scenario { name: "x".into() })
                .map(drop)
                .unwrap_err()
                .to_string()
        };
        assert!(reason("{{nope}}", TemplatePlace::Body).contains("unknown function \"nope\""));
        assert!(reason("/a/{{seq", TemplatePlace::Path).contains("without a closing"));
        assert!(reason("{{rand_int 9 1}}", TemplatePlace::Body).contains("above HI"));
        assert!(reason("{{rand_int 1}}", TemplatePlace::Body).contains("{{rand_int LO HI}}"));
        assert!(reason("{{rand_int a 2}}", TemplatePlace::Body).contains("not an integer"));
        assert!(
            reason("{{line /nonexistent/ids.txt}}", TemplatePlace::Body).contains("cannot read")
        );
        assert!(reason("{{}}", TemplatePlace::Body).contains("empty"));
        assert!(reason("{{choice}}", TemplatePlace::Body).contains("choice A B C"));
        assert!(reason("{{seq 1}}", TemplatePlace::Body).contains("{{seq}}"));
    }

    #[test]
    fn template_errors_carry_where_they_are_and_say_it_as_before() {
        let mut context = TemplateContext::default();
        let request = RequestRef::Scenario { name: "x".into() };
        let mut refused = |text: &str, place: TemplatePlace| {
            context.parse(text, place, &request).map(drop).unwrap_err()
        };
        let unknown = refused("{{nope 1}}", TemplatePlace::Header);
        assert_eq!(
            unknown,
            ConfigError::Template {
                request: RequestRef::Scenario { name: "x".into() },
                place: TemplatePlace::Header,
                problem: TemplateProblem::UnknownFunction {
                    name: "nope".into(),
                    placeholder: "nope 1".into()
                },
            }
        );
        assert_eq!(
            unknown.to_string(),
            "template in a header value of scenario request \"x\": unknown function \"nope\" \
             in {{nope 1}}: use seq, rand_int, uuid, choice, line or rand_line"
        );
        for (text, place, message) in [
            (
                "/a/{{seq",
                TemplatePlace::Path,
                r#"template in the path of scenario request "x": {{ without a closing }} in "/a/{{seq"; write \{{ for literal braces"#,
            ),
            (
                "{{rand_int 9 1}}",
                TemplatePlace::Body,
                r#"template in the body of scenario request "x": {{rand_int 9 1}}: LO 9 is above HI 1"#,
            ),
            (
                "{{rand_int a 2}}",
                TemplatePlace::Body,
                r#"template in the body of scenario request "x": {{rand_int a 2}}: "a" is not an integer"#,
            ),
            (
                "{{line}}",
                TemplatePlace::Body,
                r#"template in the body of scenario request "x": {{line}}: write {{line FILE}}"#,
            ),
            (
                "{{}}",
                TemplatePlace::Body,
                r#"template in the body of scenario request "x": {{}} is empty: name a function (seq, rand_int, uuid, choice, line, rand_line)"#,
            ),
        ] {
            assert_eq!(refused(text, place).to_string(), message);
        }
        let missing = refused("{{line /nonexistent/ids.txt}}", TemplatePlace::Body);
        assert!(
            matches!(
                &missing,
                ConfigError::Template {
                    problem: TemplateProblem::Unreadable { path, .. },
                    ..
                } if path == Path::new("/nonexistent/ids.txt")
            ),
            "{missing:?}"
        );
        assert!(missing.to_string().starts_with(
            "template in the body of scenario request \"x\": cannot read /nonexistent/ids.txt: "
        ));
    }
}
