//! The `ringload` binary: the command line in [`ringload_cli`], which the Python package's
//! `ringload` command also calls.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(ringload_cli::main_with_args(std::env::args_os()))
}
