//! The server's own pages: health and readiness, and the setup page (later metrics and the
//! dashboard).

pub mod health;
pub mod setup;
