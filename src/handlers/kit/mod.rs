//! The ground floor every feature stands on: the context handlers run with, one unit of work
//! per decision, announcing, effects recorded as steps, the configuration in force and what it
//! may reach, the command envelope and where its answer goes. Nothing here imports a feature.

pub mod command;
pub mod config;
pub mod context;
pub mod effects;
pub mod links;
pub mod reply;
pub mod routes;
pub mod unit;

pub use context::{ChatClients, TrainContext, stored_config};
