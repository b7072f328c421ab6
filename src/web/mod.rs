//! The server's own pages: health and readiness (later metrics and the dashboard).

pub mod health;
