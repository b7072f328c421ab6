//! The configuration in force: [`reader`] reads it from GitHub (its own file, its
//! organisation's, what it extends) and stores it; [`cache`] keeps the stored one parsed.

pub mod cache;
pub mod reader;

pub use cache::ConfigCache;
pub use reader::{
    CurrentConfig, ReadConfig, Refresh, Resolved, config_file, current, read_config, refresh,
};
