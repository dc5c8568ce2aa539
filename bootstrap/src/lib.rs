//! The composition root shared by the binaries: configuration from the environment, the
//! adapters it selects (as `Arc<dyn Port>`), and telemetry set-up.

mod infra;
mod settings;
mod telemetry;

pub use infra::{Backend, Infra};
pub use settings::{Settings, SettingsError};
pub use telemetry::init_telemetry;
