//! What the run tests share: one test at a time, and a target server on a free port.

use std::sync::{Mutex, MutexGuard};

use ringload_target::{Server, ServerConfig};

/// The tests of a file run one at a time: their timing (and one's count of the process's
/// worker threads) depends on nothing else running.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The built-in target on 127.0.0.1, port 0.
pub fn target() -> Server {
    Server::start(ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    })
    .expect("the target starts")
}
