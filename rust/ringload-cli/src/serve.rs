//! `ringload serve` and `ringload demo`: the built-in target, so the tool can be tried with
//! nothing else installed.

use std::path::Path;

use anyhow::{Context, Result};
use ringload_target::{Server, ServerConfig};

use crate::args::{DemoArgs, ServeArgs};
use crate::signals::SignalStop;

/// How often `serve` looks whether a signal asked it to stop.
const SIGNAL_POLL: std::time::Duration = std::time::Duration::from_millis(50);

const ROUTES: &str = "/  /bytes/N  /chunked/N  /delay/MS  /status/CODE  /echo  /headers  /close";

/// Serves until Ctrl-C or SIGTERM and returns the exit status a shell gives a process that
/// signal ended. The wait watches the signal itself, rather than leaving the process to die of
/// it, because inside a Python process (the package's `ringload` command) it would not.
pub fn serve(args: &ServeArgs) -> Result<u8> {
    let signals = SignalStop::install();
    let mut config = ServerConfig {
        addr: ([127, 0, 0, 1], args.port).into(),
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections.map(|n| n as usize),
        idle_close: args.idle_close,
        http2: args.http2,
        ..ServerConfig::default()
    };
    let scheme = if args.tls {
        let (identity, _pem) = ringload_target::self_signed(&["localhost", "127.0.0.1"]);
        config.tls = Some(identity);
        "https"
    } else {
        "http"
    };
    let server = Server::start(config)
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let protocols = match (args.http2, args.tls) {
        (false, _) => "HTTP/1.1",
        (true, false) => "HTTP/1.1 and h2c (HTTP/2 with prior knowledge: ringload --http2)",
        (true, true) => "HTTP/1.1 and HTTP/2 (ALPN h2: ringload --http2)",
    };
    eprintln!(
        "ringload target listening on {scheme}://{}/  {protocols}  routes: {ROUTES}{}  (Ctrl-C \
         to stop)",
        server.addr(),
        if args.tls {
            "  (self-signed: use --insecure)"
        } else {
            ""
        }
    );
    let stop = signals.stop();
    while !stop.is_requested() {
        std::thread::sleep(SIGNAL_POLL);
    }
    server.shutdown();
    Ok(signals.exit_status())
}

/// Starts the target on a free loopback port and returns it with its URL.
pub fn start_demo_target() -> Result<(Server, String)> {
    let server = Server::start(ServerConfig::default()).context("cannot start the demo target")?;
    let url = format!("http://{}/", server.addr());
    Ok((server, url))
}

pub fn demo_args(args: &DemoArgs, url: String) -> crate::args::LoadArgs {
    use clap::Parser;
    let duration = format!("{}ms", args.duration.as_millis());
    let connections = args.connections.to_string();
    let mut cli =
        crate::args::Cli::parse_from(["ringload", "-c", &connections, "-d", &duration, &url]);
    cli.load.url = Some(url);
    cli.load.html.clone_from(&args.html);
    cli.load
}

/// The demo's last lines: what to try after it. `html` is the page the demo wrote, if any.
pub fn demo_next_steps(html: Option<&Path>) -> String {
    let page = match html {
        Some(path) => format!("open {}", path.display()),
        None => "ringload demo --html demo.html".to_string(),
    };
    let steps = [
        (
            "ringload -c 64 -d 30s http://HOST:PORT/PATH".to_string(),
            "load a real server (one you are allowed to load)",
        ),
        (
            page,
            "the run as one page: charts per second, latency spectrum",
        ),
        (
            "ringload --html run.html --csv run URL".to_string(),
            "any run as that page, and as CSV files in Locust's format",
        ),
        (
            "python -m ringload.locust -f locustfile.py".to_string(),
            "your Locust file on ringload's engine (pip install .; see README)",
        ),
    ];
    let mut text = String::from("demo: next steps");
    for (command, what) in steps {
        text.push_str(&format!("\n  {command:<44}  {what}"));
    }
    text
}
