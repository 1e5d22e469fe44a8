//! Helpers for the CLI integration tests: run the real binary against servers started here on
//! 127.0.0.1 port 0.

#![allow(dead_code, unused_imports)] // each test file uses a different subset

use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use ringload_target::hostile::{HostileServer, Step};
pub use ringload_target::{Server, ServerConfig};

/// The result of one `ringload` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn ringload(args: &[&str]) -> Run {
    ringload_env(args, &[])
}

pub fn ringload_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let output: Output = Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run ringload");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs with `--json --no-progress` added and returns the parsed report (asserting exit 0).
pub fn ringload_json(args: &[&str]) -> Value {
    let mut all = vec!["--json", "--no-progress"];
    all.extend_from_slice(args);
    let run = ringload(&all);
    assert_eq!(run.code, 0, "exit code; stderr: {}", run.stderr);
    let report = run.json();
    assert_accounting(&report);
    report
}

/// The `--json` contract, `schema/report.schema.json`.
pub fn report_schema() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("../../schema/report.schema.json")).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// The report follows the `--json` contract.
pub fn assert_valid_report(report: &Value) {
    let validator = report_schema();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:?}\n{report}");
}

/// requests = ok + sum(failed) + aborted, always.
pub fn assert_accounting(report: &Value) {
    let failed: u64 = report["failed"]
        .as_object()
        .expect("failed object")
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        report["requests"].as_u64().unwrap(),
        report["ok"].as_u64().unwrap() + failed + report["aborted"].as_u64().unwrap(),
        "accounting in {report}"
    );
    assert_timeline_adds_up(report);
}

/// The timeline's entries add up to the run's totals: requests, ok, aborted, connects, every
/// failure kind and every status code; `t` counts whole seconds from 0.
pub fn assert_timeline_adds_up(report: &Value) {
    let entries = report["timeline"].as_array().expect("timeline array");
    assert!(!entries.is_empty(), "an empty timeline in {report}");
    let sum = |pick: &dyn Fn(&Value) -> u64| entries.iter().map(pick).sum::<u64>();
    for key in ["requests", "ok", "aborted", "connects"] {
        assert_eq!(
            sum(&|e| e[key].as_u64().unwrap()),
            report[key].as_u64().unwrap(),
            "timeline {key} in {report}"
        );
    }
    for (kind, total) in report["failed"].as_object().unwrap() {
        assert_eq!(
            sum(&|e| e["failed"][kind].as_u64().unwrap()),
            total.as_u64().unwrap(),
            "timeline failed.{kind} in {report}"
        );
    }
    for (code, total) in report["status"].as_object().unwrap() {
        assert_eq!(
            sum(&|e| e["status"][code].as_u64().unwrap_or(0)),
            total.as_u64().unwrap(),
            "timeline status {code} in {report}"
        );
    }
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["t"].as_f64().unwrap(), i as f64, "t of entry {i}");
    }
}

pub fn failed(report: &Value, kind: &str) -> u64 {
    report["failed"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no failed.{kind} in {report}"))
}

pub fn count(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

pub fn target() -> Server {
    Server::start(ServerConfig::default()).expect("start target")
}

pub fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.addr())
}

/// A port on 127.0.0.1 with nothing listening.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A keep-alive server that answers 204 to every request, whatever it asks, and keeps every
/// request head it reads.
pub fn recording_server() -> (HostileServer, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = heads.clone();
    let server = HostileServer::start(move |session| {
        while session.read_request() {
            let head = session.last_request_head().to_string();
            recorded.lock().unwrap().push(head);
            session.send(b"HTTP/1.1 204 No Content\r\n\r\n");
        }
    })
    .unwrap();
    (server, heads)
}

/// The built-in target over TLS with a fresh self-signed certificate for localhost and
/// 127.0.0.1, and that certificate's PEM.
pub fn tls_target() -> (Server, String) {
    let (identity, pem) = ringload_target::self_signed(&["localhost", "127.0.0.1"]);
    let server = Server::start(ServerConfig {
        tls: Some(identity),
        ..ServerConfig::default()
    })
    .unwrap();
    (server, pem)
}

/// nginx (one process, `return 204` everywhere, `stub_status` at `/nginx_status`) on a free
/// 127.0.0.1 port, stopped on drop. `None` where nginx is not installed, except in CI
/// (`CI=true`), whose `.ci/run` installs it.
pub struct Nginx {
    child: std::process::Child,
    pub port: u16,
    /// The `tls_server` block's port.
    pub tls_port: u16,
    prefix: std::path::PathBuf,
}

impl Nginx {
    pub fn start() -> Option<Nginx> {
        Nginx::start_with(None)
    }

    /// Also serving `tls_server(tls_port)`: a whole second `server` block, for TLS.
    pub fn start_with(tls_server: Option<&dyn Fn(u16) -> String>) -> Option<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must have nginx (.ci/run installs Debian's nginx-light)"
            );
            eprintln!("skipped: no nginx here (apt-get install nginx-light)");
            return None;
        };
        let prefix = std::env::temp_dir().join(format!(
            "ringload-nginx-{}-{}",
            std::process::id(),
            closed_port()
        ));
        std::fs::create_dir_all(&prefix).unwrap();
        let port = closed_port();
        let tls_port = closed_port();
        let tls_block = tls_server.map_or(String::new(), |block| block(tls_port));
        let p = prefix.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n access_log off;\n client_body_temp_path {p}/body;\n\
             proxy_temp_path {p}/proxy;\n fastcgi_temp_path {p}/fastcgi;\n\
             uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             server {{\n  listen 127.0.0.1:{port};\n\
             location = /nginx_status {{ stub_status; }}\n\
             location / {{ return 204; }}\n }}\n{tls_block}\n}}\n"
        );
        std::fs::write(prefix.join("nginx.conf"), config).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            child,
            port,
            tls_port,
            prefix,
        };
        let started = Instant::now();
        while nginx.stub_status().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(nginx)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `(accepted connections, requests)` from `stub_status`, this probe's own included.
    pub fn stub_status(&self) -> Option<(u64, u64)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .write_all(
                b"GET /nginx_status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        // "server accepts handled requests\n A H R"
        let numbers = text.split("server accepts handled requests").nth(1)?;
        let mut fields = numbers.split_whitespace().map(|n| n.parse::<u64>().ok());
        let accepts = fields.next()??;
        let _handled = fields.next()??;
        let requests = fields.next()??;
        Some((accepts, requests))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}
