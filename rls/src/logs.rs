use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{fmt, registry};

use crate::settings::LogFormat;

pub fn init(filter: Targets, format: LogFormat) -> Result<(), TryInitError> {
    let logs = registry().with(filter);
    match format {
        LogFormat::Text => logs
            .with(fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => {
            logs.with(fmt::layer().json().flatten_event(true).with_writer(std::io::stderr)).try_init()
        }
    }
}
