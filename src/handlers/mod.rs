//! Job handlers: load facts, let the domain decide, save, carry out effects.

pub mod autolabel;
pub mod backfill;
pub mod changelog;
pub mod chat;
pub mod comments;
pub mod deployments;
pub mod drafting;
pub mod events;
pub mod installations;
pub mod kit;
pub mod notifications;
pub mod repo_config;
pub mod train_commands;
pub mod trains;
