//! The one real implementation of the GitHub port: App authentication, the HTTP client over
//! octocrab, and the classification of GitHub's errors.

pub mod auth;
pub mod budget;
pub mod checks;
pub mod client;
pub mod contents;
pub mod deployments;
pub mod error;
pub mod gate;
pub mod git;
pub mod history;
pub mod manifest;
pub mod notes;
pub mod user_access;

pub use budget::ContentLimits;
pub use client::GitHubClient;
pub use error::GitHubError;
