//! trainyard: a GitHub App and chat-ops bot that runs a team's release trains.
//!
//! Layout follows the flow of a request:
//! - [`inbound`]: verify, parse, persist and enqueue, acknowledge.
//! - [`jobs`]: the durable queue and its workers.
//! - [`domain`]: pure decisions (no I/O).
//! - [`store`]: the one store implementation (sqlx over SQLite or PostgreSQL).
//! - [`github`], [`chat`], [`probe`]: outbound clients (GitHub; Slack and Discord;
//!   deployment verification's Prometheus and health URLs).
//! - [`app`], [`cli`], [`settings`], [`telemetry`], [`web`]: wiring and operations.

pub mod app;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod error;
pub mod github;
pub mod handlers;
pub mod inbound;
pub mod jobs;
pub mod metrics;
pub mod probe;
pub mod registration;
pub mod server;
pub mod settings;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
