//! `ringload serve` and `ringload demo`: the built-in target, so the tool can be tried with
//! nothing else installed.

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
    eprintln!(
        "ringload target listening on {scheme}://{}/  routes: {ROUTES}{}  (Ctrl-C to stop)",
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
