//! The server's own pages: health and readiness, metrics, and the setup page.

pub mod health;
pub mod metrics;
pub mod setup;
