//! A `log` backend writing through `proxy_log`, at Envoy's own log level.

use super::abi;

struct HostLogger;

static LOGGER: HostLogger = HostLogger;

// proxy-wasm levels: trace 0, debug 1, info 2, warn 3, error 4, critical 5.
fn to_host_level(level: log::Level) -> u32 {
    match level {
        log::Level::Trace => 0,
        log::Level::Debug => 1,
        log::Level::Info => 2,
        log::Level::Warn => 3,
        log::Level::Error => 4,
    }
}

fn to_filter(host_level: u32) -> log::LevelFilter {
    match host_level {
        0 => log::LevelFilter::Trace,
        1 => log::LevelFilter::Debug,
        2 => log::LevelFilter::Info,
        3 => log::LevelFilter::Warn,
        4 | 5 => log::LevelFilter::Error,
        _ => log::LevelFilter::Off,
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
