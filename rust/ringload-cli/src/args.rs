//! Command-line options and their conversion to an engine plan. Every check that can fail
//! happens here or in `LoadConfig::plan`, before any connection is made.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ringload_engine::{IoMode, LoadConfig, LoadPlan, Stage, TlsOptions};

use crate::scenario::ScenarioFile;
use crate::thresholds::Threshold;

/// Duration of a run when neither --duration nor --requests (nor stages) is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "ringload",
    version,
    about = "Fast, honest HTTP/1.1 load generator (io_uring, one pinned thread per core)",
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  ringload demo\n  ringload -c 64 -d 30s http://127.0.0.1:8080/\n  ringload -R 2000 -d 1m --fail-on 'p99>50ms' http://127.0.0.1:8080/health\n  ringload -n 10000 -m POST -H 'Content-Type: application/json' -b '{\"a\":1}' --json http://127.0.0.1:8080/items"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the built-in HTTP/1.1 target server on loopback (routes: /, /bytes/N, /chunked/N,
    /// /delay/MS, /status/CODE, /echo, /headers, /close).
    Serve(ServeArgs),
    /// Start the built-in target in-process and run a short load test against it.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,
    /// Serve HTTPS with a freshly generated self-signed certificate.
    #[arg(long)]
    pub tls: bool,
    /// End a kept-alive connection idle this long (like nginx's keepalive_timeout).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Keep at most N connections open; another one first ends the one idle longest (like
    /// nginx at worker_connections).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// How an idle connection is ended: close (FIN; TLS: close_notify first), reset (RST), or
    /// 408 (a 408 Request Timeout, then close).
    #[arg(long, value_name = "HOW", default_value = "close")]
    pub idle_close: ringload_target::IdleClose,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// How long the demo runs.
    #[arg(short, long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Connections.
    #[arg(short, long, default_value_t = 32)]
    pub connections: usize,
    /// Also write the HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoArg {
    Auto,
    Uring,
    Epoll,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Target URL (http:// or https://); with --scenario, the base URL its paths are appended to.
    pub url: Option<String>,
    /// Several requests picked by weight, each with its own statistics row: a TOML or JSON
    /// file (see README, "Scenarios").
    #[arg(long, value_name = "FILE", conflicts_with_all = ["method", "body", "body_file"])]
    pub scenario: Option<PathBuf>,
    /// Concurrent connections, split across threads [default: 64].
    #[arg(short, long)]
    pub connections: Option<i64>,
    /// Worker threads, one pinned per core [default: all available cores].
    #[arg(short, long)]
    pub threads: Option<i64>,
    /// Run for this long (e.g. 10s, 2m, 500ms) [default: 10s unless --requests is given].
    #[arg(short, long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Send exactly this many requests.
    #[arg(short = 'n', long)]
    pub requests: Option<i64>,
    /// Open model: total requests per second on a constant schedule; latency is measured from
    /// when each request was due (coordinated-omission corrected).
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// Open-model ramp, repeatable, like k6's ramping-arrival-rate: the rate moves linearly
    /// from the previous target (the first from -R, or 0) to RATE over DURATION, e.g.
    /// `--stage 30s:1000 --stage 1m:1000 --stage 10s:0`. The run lasts the stages unless -d
    /// is given (then the last rate holds, or the run is cut short).
    #[arg(long = "stage", value_name = "DURATION:RATE", value_parser = parse_stage)]
    pub stages: Vec<Stage>,
    /// Closed-model ramp, repeatable: the connections in use move linearly from the previous
    /// target (the first from 0) to N over DURATION, e.g. `--connection-stage 20s:200
    /// --connection-stage 1m:200`. The run opens as many connections as the peak (no -c).
    #[arg(long = "connection-stage", value_name = "DURATION:N", value_parser = parse_stage)]
    pub connection_stages: Vec<Stage>,
    /// HTTP method [default: GET, or POST when a body is given].
    #[arg(short, long)]
    pub method: Option<String>,
    /// Request header "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short, long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the request body from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// The URL's path and query, -H values and the body are templates, rendered for every
    /// request: {{seq}}, {{rand_int LO HI}}, {{uuid}}, {{choice A B C}}, {{line FILE}},
    /// {{rand_line FILE}}; \{{ is a literal {{. (A scenario's requests always are.)
    #[arg(long)]
    pub template: bool,
    /// Time limit for a whole request, from send to the end of the response.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Time limit for establishing a connection (TCP and TLS).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Do not verify TLS certificates.
    #[arg(long)]
    pub insecure: bool,
    /// Also trust the certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// mTLS: present this client certificate (PEM chain) to servers that ask for one.
    #[arg(long, value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM) [default: in the --cert file].
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// Requests sent on a connection before reading responses (HTTP/1.1 pipelining).
    #[arg(long, default_value_t = 1)]
    pub pipeline: i64,
    /// A new connection (and TLS handshake) for every request, with `Connection: close` sent;
    /// latency then includes the connect.
    #[arg(long)]
    pub disable_keepalive: bool,
    /// I/O driver.
    #[arg(long, value_enum, default_value_t = IoArg::Auto)]
    pub io: IoArg,
    /// Print exactly one JSON object on stdout (schema: rust/ringload-cli/schema/report.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page with charts over time and the
    /// latency distribution (works with --json).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write PREFIX_stats.csv (per endpoint), PREFIX_stats_history.csv (per second) and
    /// PREFIX_failures.csv in Locust's --csv format: Locust's columns first (milliseconds),
    /// then ringload's (microseconds, aborted, failures by kind).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// No live progress line on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Exit non-zero when a threshold is crossed, e.g. 'p99>200ms', 'errors>1%', 'rps<5000'
    /// (repeatable). Metrics: min mean max p50 p75 p90 p99 p999 p9999 (latency), rps,
    /// errors (failed requests), http_errors (4xx/5xx responses).
    #[arg(long = "fail-on", value_name = "EXPR", value_parser = Threshold::parse)]
    pub fail_on: Vec<Threshold>,
}

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

/// `DURATION:TARGET`, e.g. `30s:2000`.
fn parse_stage(raw: &str) -> Result<Stage, String> {
    let (duration, target) = raw
        .rsplit_once(':')
        .ok_or_else(|| format!("invalid stage {raw:?}: use DURATION:TARGET, e.g. 30s:2000"))?;
    let target: f64 = target
        .trim()
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| format!("invalid stage {raw:?}: the target must be a number >= 0"))?;
    Ok(Stage {
        duration: parse_duration(duration)?,
        target,
    })
}

/// `10s`, `2m`, `500ms`, `1h`, `250us`, or a bare number of seconds (may be fractional).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {raw:?}: use e.g. 10s, 2m, 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {raw:?}: use us, ms, s, m or h"
            ))
        }
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("duration {raw:?} must be greater than zero"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("duration {raw:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0s", "ten", "5x", "-1s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn stages() {
        let stage = parse_stage("30s:2000").unwrap();
        assert_eq!(stage.duration, Duration::from_secs(30));
        assert_eq!(stage.target, 2000.0);
        assert_eq!(parse_stage("1.5:0").unwrap().target, 0.0);
        for bad in ["30s", "30s:", ":5", "0s:5", "30s:-1", "30s:fast", "x:5"] {
            assert!(parse_stage(bad).is_err(), "{bad:?} should be rejected");
        }
    }

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
