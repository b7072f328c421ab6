//! The server's own pages: health and readiness, metrics, the setup page and the dashboard.

pub mod dashboard;
pub mod health;
pub mod metrics;
pub mod setup;
