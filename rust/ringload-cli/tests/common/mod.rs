//! Helpers for the CLI integration tests: run the real binary against servers started here on
//! 127.0.0.1 port 0.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// A raw TCP server that runs `script` on every accepted connection (one thread each) and
/// counts connections. Stops accepting when dropped.
pub struct ScriptServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl ScriptServer {
    pub fn start(script: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let accept_thread = {
            let (connections, stop) = (connections.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let script = script.clone();
                    std::thread::spawn(move || script(stream));
                }
            })
        };
        ScriptServer {
            addr,
            connections,
            stop,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request head (up to the blank line); false at end of stream.
pub fn read_request_head(stream: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => return false,
        }
    }
    true
}

pub fn write_all(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}
