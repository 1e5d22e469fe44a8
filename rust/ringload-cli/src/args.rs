//! Command-line options: the clap definitions only. `plan.rs` turns them into an engine plan,
//! `units.rs` parses their durations and stages.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringload_engine::Stage;

use crate::thresholds::Threshold;
use crate::units::{parse_duration, parse_stage};

#[derive(Parser, Debug)]
#[command(
    name = "ringload",
    version,
    about = "Fast, honest HTTP/1.1 and HTTP/2 load generator (io_uring, one pinned thread per core)",
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
    /// Run the built-in HTTP/1.1 (and with --http2, HTTP/2) target server on loopback (routes: /, /bytes/N, /chunked/N,
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
    /// Also serve HTTP/2: h2c (prior knowledge) on plain TCP, `h2` by ALPN with --tls.
    #[arg(long)]
    pub http2: bool,
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
    /// HTTP/2: negotiated by ALPN over https:// (a server that declines gets HTTP/1.1, with a
    /// warning); with prior knowledge (h2c) on http://.
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2: requests in flight on each connection at most, as h2load's -m and oha's -p
    /// [default: 1]. The server's SETTINGS_MAX_CONCURRENT_STREAMS may lower it. The closed
    /// model refills them once half are free.
    #[arg(long, value_name = "N")]
    pub streams: Option<i64>,
    /// HTTP/2: each stream's receive window in bytes (h2load's -w, as a size) [default:
    /// 1073741823, as h2load and oha].
    #[arg(long, value_name = "BYTES")]
    pub h2_window: Option<u32>,
    /// HTTP/2: the connection's receive window in bytes (h2load's -W) [default: 1073741823].
    #[arg(long, value_name = "BYTES")]
    pub h2_connection_window: Option<u32>,
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
