//! The configuration in force, as stored: parsed once per version and kept, so answers within
//! a chat surface's three seconds do not parse YAML.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::ids::RepoFullName;
use crate::domain::repo_config::RepoConfig;
use crate::store::{Db, StoreError, repo_configs};

/// Parsed configurations by repository and blob sha, so chat answers do not parse YAML on
/// every request.
#[derive(Debug, Clone, Default)]
pub struct ConfigCache(Arc<Mutex<HashMap<String, CachedConfig>>>);

/// A parsed configuration and the blob sha it was parsed from.
type CachedConfig = (String, Arc<RepoConfig>);

impl ConfigCache {
    /// The repository's stored configuration (parsed once per version), or the defaults.
    /// No GitHub call: what a push stored is what is in force.
    pub async fn stored(
        &self,
        db: &Db,
        repo: &RepoFullName,
    ) -> Result<Arc<RepoConfig>, StoreError> {
        let Some(repo_configs::RepoConfigRow {
            source_path: Some(path),
            config_text: Some(text),
            blob_sha,
            ..
        }) = repo_configs::get(db, repo).await?
        else {
            return Ok(Arc::default());
        };
        let sha = blob_sha.unwrap_or_default();
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_sha, config)) = cache.get(repo.as_ref())
            && *cached_sha == sha
        {
            return Ok(config.clone());
        }
        let config = Arc::new(RepoConfig::from_file(&path, &text).unwrap_or_default());
        cache.insert(repo.to_string(), (sha, config.clone()));
        Ok(config)
    }
}
