//! A `log` backend writing through `proxy_log`, at Envoy's own log level.

use super::abi;
use super::types::LogLevel;

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

fn to_host_level(level: log::Level) -> LogLevel {
    match level {
        log::Level::Trace => LogLevel::Trace,
        log::Level::Debug => LogLevel::Debug,
        log::Level::Info => LogLevel::Info,
        log::Level::Warn => LogLevel::Warn,
        log::Level::Error => LogLevel::Error,
    }
}

/// `None` (Envoy's "off", or any value outside the ABI) logs nothing.
fn to_filter(host_level: Option<LogLevel>) -> log::LevelFilter {
    match host_level {
        Some(LogLevel::Trace) => log::LevelFilter::Trace,
        Some(LogLevel::Debug) => log::LevelFilter::Debug,
        Some(LogLevel::Info) => log::LevelFilter::Info,
        Some(LogLevel::Warn) => log::LevelFilter::Warn,
        Some(LogLevel::Error | LogLevel::Critical) => log::LevelFilter::Error,
        None => log::LevelFilter::Off,
    }
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            abi::log(to_host_level(record.level()), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger; the first root context does it.
pub fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// Follows Envoy's current log level for this plugin.
pub fn follow_host_level() {
    if let Ok(level) = abi::log_level() {
        log::set_max_level(to_filter(level));
    }
}
