//! The live progress line on stderr: once a second, only when stderr is a terminal.

use std::io::{IsTerminal, Write};

use ringload_engine::report::format_us;
use ringload_engine::Progress;

pub struct ProgressLine {
    enabled: bool,
    shown: bool,
}

impl ProgressLine {
    pub fn new(requested: bool) -> Self {
        ProgressLine {
            enabled: requested && std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    pub fn update(&mut self, p: &Progress) {
        if !self.enabled {
            return;
        }
        let p99 = p
            .p99_us
            .map_or_else(|| "-".to_string(), |v| format_us(v as f64));
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{:>6.1}s] {:>9.0} req/s  requests {}  errors {}  p99 {}",
            p.elapsed.as_secs_f64(),
            p.current_rps,
            p.requests,
            p.failed,
            p99
        );
        let _ = err.flush();
        self.shown = true;
    }

    /// Erases the line before the report is printed.
    pub fn clear(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.shown = false;
        }
    }
}
