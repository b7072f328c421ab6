//! Release notes: release-drafter's configuration and rendering, as pure functions over
//! pull requests and releases that the GitHub adapter fetched.

pub mod categorize;
pub mod changes;
pub mod config;
pub mod releases;
pub mod render;
pub mod template;
