//! `LoadArgs` -> the engine's plan. Every check that can fail happens here or in
//! `LoadConfig::plan`, before any connection is made.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use ringload_engine::{Http2Options, IoMode, LoadConfig, LoadPlan, TlsOptions};

use crate::args::{IoArg, LoadArgs};
use crate::scenario::ScenarioFile;

/// Duration of a run when neither --duration nor --requests (nor stages) is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

impl LoadArgs {
    /// The engine's plan for these options, or a one-line reason why they cannot run.
    pub fn to_plan(&self) -> Result<LoadPlan> {
        let scenario = self
            .scenario
            .as_deref()
            .map(ScenarioFile::load)
            .transpose()?;
        let url = match (&self.url, &scenario) {
            (Some(url), _) => url,
            (None, Some(file)) => file.host.as_ref().with_context(|| {
                "the scenario needs a host: give the base URL on the command line or host = \"http://...\" in the file"
            })?,
            (None, None) => {
                bail!("missing URL: try `ringload http://127.0.0.1:8080/` or `ringload demo`")
            }
        };
        let mut config = LoadConfig::new(url)?;
        let stages_from_file = scenario.as_ref().map(|f| f.stages()).transpose()?;
        let (file_rate_stages, file_connection_stages) = stages_from_file.unwrap_or_default();
        config.rate_stages = if self.stages.is_empty() {
            file_rate_stages
        } else {
            self.stages.clone()
        };
        config.connection_stages = if self.connection_stages.is_empty() {
            file_connection_stages
        } else {
            self.connection_stages.clone()
        };
        config.connections = self
            .connections
            .map(|n| positive("--connections", n))
            .transpose()?;
        config.threads = self.threads.map(|t| positive("--threads", t)).transpose()?;
        config.requests = self
            .requests
            .map(|n| positive("--requests", n).map(|n| n as u64))
            .transpose()?;
        let staged = !config.rate_stages.is_empty() || !config.connection_stages.is_empty();
        config.duration = match (self.duration, self.requests) {
            (Some(d), _) => Some(d),
            // Stages last as long as they add up to (the engine decides).
            (None, None) if staged => None,
            (None, None) => Some(DEFAULT_DURATION),
            (None, Some(_)) => None,
        };
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate must be a number greater than zero, got {rate}");
            }
            config.rate = Some(rate);
        }
        config.pipeline = positive("--pipeline", self.pipeline)?;
        let file_disables_keepalive = scenario.as_ref().is_some_and(|f| f.disable_keepalive);
        config.keep_alive = !(self.disable_keepalive || file_disables_keepalive);
        config.http2 = self.http2_options(scenario.as_ref())?;
        config.body = match (&self.body, &self.body_file) {
            (Some(body), _) => body.clone().into_bytes(),
            (None, Some(path)) => std::fs::read(path)
                .with_context(|| format!("cannot read --body-file {}", path.display()))?,
            (None, None) => Vec::new(),
        };
        config.method = self.method.clone();
        let command_line_headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<_>>()?;
        if let Some(file) = &scenario {
            // The file's common headers, then -H, which wins for the same name.
            config.headers = file
                .headers
                .iter()
                .filter(|(name, _)| {
                    !command_line_headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            config.scenario = file.requests()?;
        }
        config.headers.extend(command_line_headers);
        config.template = self.template;
        if let Some(path) = &self.scenario {
            // A scenario's templates name files relative to the scenario.
            config.template_dir = path.parent().map(std::path::Path::to_path_buf);
        }
        config.timeout = self.timeout;
        config.connect_timeout = self.connect_timeout;
        config.io = match self.io {
            IoArg::Auto => IoMode::Auto,
            IoArg::Uring => IoMode::Uring,
            IoArg::Epoll => IoMode::Epoll,
        };
        config.tls = TlsOptions {
            insecure: self.insecure,
            ca_file: self.cacert.clone(),
            client_cert: self.cert.clone(),
            client_key: self.key.clone(),
        };
        Ok(config.plan()?)
    }
}

impl LoadArgs {
    /// `--http2` and its options, or the scenario file's `http2` and `streams` keys (the
    /// command line wins).
    fn http2_options(&self, scenario: Option<&ScenarioFile>) -> Result<Option<Http2Options>> {
        let http2 = self.http2 || scenario.is_some_and(|f| f.http2);
        let streams = match (self.streams, scenario.and_then(|f| f.streams)) {
            (Some(n), _) => Some(positive("--streams", n)?),
            (None, Some(n)) => Some(positive("streams", n)?),
            (None, None) => None,
        };
        if !http2 {
            let given = [
                (streams.is_some(), "--streams"),
                (self.h2_window.is_some(), "--h2-window"),
                (
                    self.h2_connection_window.is_some(),
                    "--h2-connection-window",
                ),
            ];
            if let Some((_, flag)) = given.iter().find(|(given, _)| *given) {
                bail!("{flag} is an HTTP/2 option: add --http2");
            }
            return Ok(None);
        }
        if self.disable_keepalive {
            bail!(
                "--disable-keepalive needs HTTP/1.1's `Connection: close`, which HTTP/2 does not \
                 have: drop one of --disable-keepalive and --http2"
            );
        }
        if self.pipeline != 1 {
            bail!(
                "--pipeline is HTTP/1.1 pipelining; HTTP/2 multiplexes instead: use \
                 --streams N for N requests in flight per connection"
            );
        }
        let defaults = Http2Options::default();
        Ok(Some(Http2Options {
            streams: streams.unwrap_or(defaults.streams),
            stream_window: self.h2_window.unwrap_or(defaults.stream_window),
            connection_window: self
                .h2_connection_window
                .unwrap_or(defaults.connection_window),
        }))
    }
}

fn positive(flag: &str, value: i64) -> Result<usize> {
    if value <= 0 {
        bail!("{flag} must be greater than zero, got {value}");
    }
    Ok(value as usize)
}

/// `Name: value` -> (name, value). CR/LF/NUL are rejected later by the request encoder.
fn parse_header(raw: &str) -> Result<(String, String)> {
    let Some((name, value)) = raw.split_once(':') else {
        bail!("invalid header {raw:?}: expected \"Name: value\"");
    };
    // Only blanks are trimmed: a CR, LF or NUL stays in so that validation refuses it.
    let blanks = [' ', '\t'];
    let (name, value) = (name.trim_matches(blanks), value.trim_matches(blanks));
    if name.is_empty() {
        bail!("invalid header {raw:?}: the name is empty");
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("X-Api-Key:  abc ").unwrap(),
            ("X-Api-Key".to_string(), "abc".to_string())
        );
        assert_eq!(
            parse_header("X-Url: http://a/b").unwrap().1,
            "http://a/b".to_string()
        );
        assert!(parse_header("NoColon").is_err());
        assert!(parse_header(": value").is_err());
    }
}
