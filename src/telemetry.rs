//! Logging: `tracing` with human-readable lines or JSON lines (`TRAINYARD_LOG_FORMAT=json`).
//! `RUST_LOG` overrides the default filter. Spans carry request and job ids; secrets are never
//! recorded as fields (they are [`crate::settings::Secret`]s, which print `[redacted]`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Filter used when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info";

/// Installs the global subscriber writing to `sink`. A second call (tests) is a no-op.
pub fn init<W>(format: LogFormat, sink: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_ansi(std::io::stdout().is_terminal());
    let _already_set = match format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}
