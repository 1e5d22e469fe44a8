//! `--scenario FILE`: several requests picked by weight inside the engine, each with its own
//! statistics row. TOML or JSON, with the same keys:
//!
//! ```toml
//! host = "http://127.0.0.1:8080"          # base URL; a URL on the command line replaces it
//! headers = { "X-Api-Key" = "secret" }    # sent with every request
//! disable_keepalive = false               # true: a new connection per request
//! http2 = false                           # true: as --http2
//! streams = 10                            # HTTP/2 requests in flight per connection, as --streams
//! stages = [{ duration = "30s", rate = 1000 }, { duration = "1m", rate = 1000 }]   # as --stage
//! # connection_stages = [{ duration = "30s", connections = 100 }]          # as --connection-stage
//!
//! [[requests]]
//! name = "list products"                  # statistics row (default: the path)
//! path = "/v1/products?page=1"            # appended to host, or an absolute URL on its origin
//! weight = 5                              # relative frequency (default 1)
//!
//! [[requests]]
//! method = "POST"                         # default GET, or POST with a body
//! path = "/v1/cart"
//! json = { sku = 42, quantity = 1 }       # or body = "raw text"
//! headers = { "X-Trace" = "1" }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ringload_engine::{ScenarioRequest, Stage};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub host: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A new connection per request, as `--disable-keepalive`.
    #[serde(default)]
    pub disable_keepalive: bool,
    /// HTTP/2, as `--http2`.
    #[serde(default)]
    pub http2: bool,
    /// HTTP/2 streams per connection, as `--streams` (which replaces it).
    pub streams: Option<i64>,
    /// Open-model ramp, as `--stage` (which replaces it).
    #[serde(default)]
    stages: Vec<RateStageEntry>,
    /// Closed-model ramp, as `--connection-stage` (which replaces it).
    #[serde(default)]
    connection_stages: Vec<ConnectionStageEntry>,
    pub requests: Vec<RequestEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateStageEntry {
    duration: String,
    rate: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionStageEntry {
    duration: String,
    connections: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestEntry {
    name: Option<String>,
    method: Option<String>,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    json: Option<serde_json::Value>,
    #[serde(default = "one")]
    weight: i64,
}

fn one() -> i64 {
    1
}

impl ScenarioFile {
    /// Reads a TOML or JSON scenario (by extension, else by its first character).
    pub fn load(path: &Path) -> Result<ScenarioFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --scenario {}", path.display()))?;
        let where_ = || format!("invalid --scenario {}", path.display());
        let file: ScenarioFile = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).with_context(where_)?,
            Some("toml") => from_toml(&text).with_context(where_)?,
            // No telling extension: a JSON document starts with '{'.
            _ if text.trim_start().starts_with('{') => {
                serde_json::from_str(&text).with_context(where_)?
            }
            _ => from_toml(&text).with_context(where_)?,
        };
        if file.requests.is_empty() {
            bail!("{}: the scenario has no [[requests]]", where_());
        }
        Ok(file)
    }

    /// The file's `(stages, connection_stages)`; the engine checks their values.
    pub fn stages(&self) -> Result<(Vec<Stage>, Vec<Stage>)> {
        let stage = |which: &str, i: usize, duration: &str, target: f64| {
            crate::units::parse_duration(duration)
                .map_err(anyhow::Error::msg)
                .map(|duration| Stage { duration, target })
                .with_context(|| format!("scenario {which} #{}", i + 1))
        };
        let rate = self
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| stage("stage", i, &s.duration, s.rate))
            .collect::<Result<_>>()?;
        let connections = self
            .connection_stages
            .iter()
            .enumerate()
            .map(|(i, s)| stage("connection stage", i, &s.duration, s.connections))
            .collect::<Result<_>>()?;
        Ok((rate, connections))
    }

    /// The engine's requests, or a message naming the entry that cannot be sent.
    pub fn requests(&self) -> Result<Vec<ScenarioRequest>> {
        self.requests
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .to_request()
                    .with_context(|| format!("scenario request #{} ({})", i + 1, entry.path))
            })
            .collect()
    }
}

/// TOML's errors draw the offending line over several lines; the CLI reports one line.
fn from_toml(text: &str) -> Result<ScenarioFile> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start].matches('\n').count() + 1);
        let message = e.message().trim().replace('\n', " ");
        match line {
            Some(line) => anyhow::anyhow!("line {line}: {message}"),
            None => anyhow::anyhow!("{message}"),
        }
    })
}

impl RequestEntry {
    fn to_request(&self) -> Result<ScenarioRequest> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = match (&self.body, &self.json) {
            (Some(_), Some(_)) => bail!("give body or json, not both"),
            (Some(body), None) => body.clone().into_bytes(),
            (None, Some(json)) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                serde_json::to_vec(json)?
            }
            (None, None) => Vec::new(),
        };
        let weight = u32::try_from(self.weight)
            .ok()
            .filter(|w| *w > 0)
            .with_context(|| format!("weight must be a positive integer, got {}", self.weight))?;
        Ok(ScenarioRequest {
            name: self.name.clone(),
            method: self.method.clone(),
            target: self.path.clone(),
            headers,
            body,
            weight,
        })
    }
}
