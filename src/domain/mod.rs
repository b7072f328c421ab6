//! The domain: plain Rust over plain data. It decides (train states, versions, notes,
//! permissions); adapters and clients do the I/O. Nothing here may import tokio, sqlx, axum,
//! reqwest or octocrab (`tests/architecture.rs` checks), and nothing reads a clock: `now`
//! is passed in.

pub mod autolabel;
pub mod bump;
pub mod calendar;
pub mod calver;
pub mod candidate;
pub mod changelog;
pub mod chat_text;
pub mod command;
pub mod config_words;
pub mod deploy;
pub mod event;
pub mod freeze;
pub mod gate;
pub mod health;
pub mod ids;
pub mod notes;
pub mod permission;
pub mod pr_check;
pub mod repo_config;
pub mod schedule;
pub mod spelling;
pub mod train;
pub mod train_event;
pub mod verify;
pub mod version;
pub mod write_budget;
