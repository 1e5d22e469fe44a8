//! `ringload._ringload`: the private extension module. It converts Python values to engine types
//! and engine results and errors back; everything else lives in `ringload-engine`.
//!
//! - [`client`]: the engine thread behind `FastHttpUser` (submit, flush, drain);
//! - [`load`]: `ringload.run()`: a whole load run, its result and per-name rows;
//! - [`target`]: the built-in target server, for tests and demos;
//! - [`hostile`]: the scriptable hostile server, for tests of misbehaving servers.

mod client;
mod hostile;
mod load;
mod target;

use pyo3::prelude::*;

#[pymodule]
fn _ringload(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Engine>()?;
    m.add_class::<client::Route>()?;
    m.add_class::<client::RawResponse>()?;
    m.add_class::<client::RawError>()?;
    load::register(m)?;
    m.add_class::<target::TargetServer>()?;
    m.add_class::<hostile::HostileServer>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
