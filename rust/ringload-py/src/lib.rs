//! `ringload._ringload`: the private extension module. It converts Python values to engine types
//! and engine results and errors back; everything else lives in `ringload-engine`.
//!
//! - [`client`]: the engine thread behind `FastHttpUser` (flush, drain, waiters);
//! - [`session`]: a `FastHttpSession`'s native half: one call per request;
//! - [`tls`]: `TlsConfig`, a TLS client configuration from an `SSLContext` or requests' arguments;
//! - [`load`]: `ringload.run()`: a whole load run, its result and per-name rows;
//! - [`target`]: the built-in target server, for tests and demos;
//! - [`hostile`]: the scriptable hostile server, for tests of misbehaving servers;
//! - [`cli_main`]: the `ringload` command line itself, for the package's `ringload` command.

mod client;
mod convert;
mod hostile;
mod load;
mod native;
mod session;
mod target;
mod tls;

use pyo3::prelude::*;

/// mimalloc instead of glibc's malloc for the extension's own allocations: the engine thread
/// frees request buffers the Python thread allocated, and allocates each request's task with a
/// large alignment; glibc's malloc takes its slow paths for both (arena locks, consolidation),
/// about a microsecond of engine CPU per request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the `ringload` command line (`argv[0]` is the program's name) with the GIL released and
/// returns its exit status: the same program as the Rust binary, printing to this process's
/// stdout and stderr. Ctrl-C and SIGTERM are handled as the binary does for the length of the
/// call, then Python's handlers are back.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| ringload_cli::main_with_args(argv))
}

#[pymodule]
fn _ringload(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Engine>()?;
    m.add_class::<session::Session>()?;
    m.add_class::<tls::TlsConfig>()?;
    m.add_class::<session::Proxies>()?;
    m.add(
        "MissingSchemeError",
        m.py().get_type::<session::MissingSchemeError>(),
    )?;
    m.add_function(wrap_pyfunction!(session::merge_headers, m)?)?;
    m.add_class::<client::RawResponse>()?;
    m.add_class::<client::ResponseStream>()?;
    m.add_class::<client::RawError>()?;
    m.add_class::<client::ErrorKind>()?;
    load::register(m)?;
    native::register(m)?;
    m.add_class::<target::TargetServer>()?;
    m.add_class::<hostile::HostileServer>()?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
