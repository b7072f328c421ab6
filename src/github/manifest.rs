//! The GitHub App's manifest (`app-manifest.yml`, embedded) and what the code needs of an
//! installation: the permissions `trainyard doctor` checks and the setup page asks for.

use serde_json::Value;

/// `app-manifest.yml` as shipped.
pub const MANIFEST: &str = include_str!("../../app-manifest.yml");

/// The permissions the code uses, with the level it needs.
pub const PERMISSIONS: [(&str, &str); 7] = [
    ("actions", "read"),
    ("checks", "write"),
    ("contents", "write"),
    ("issues", "write"),
    ("pull_requests", "write"),
    ("deployments", "write"),
    ("metadata", "read"),
];

/// Why the manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("app-manifest.yml: {0}")]
pub struct ManifestError(String);

/// The manifest as GitHub's manifest flow takes it (JSON), pointed at `public_url`.
pub fn manifest_for(public_url: &str, name: Option<&str>) -> Result<Value, ManifestError> {
    let placeholder = "https://trainyard.example";
    let base = public_url.trim_end_matches('/');
    let text = MANIFEST.replace(placeholder, base);
    let mut manifest: Value =
        serde_saphyr::from_str(&text).map_err(|e| ManifestError(e.to_string()))?;
    if let Some(name) = name {
        manifest["name"] = Value::from(name);
    }
    Ok(manifest)
}

/// How `granted` (an installation's `permissions`) falls short of [`PERMISSIONS`]: one line
/// per missing or too-low permission.
pub fn missing_permissions(granted: &Value) -> Vec<String> {
    let rank = |level: &str| match level {
        "write" | "admin" => 2,
        "read" => 1,
        _ => 0,
    };
    PERMISSIONS
        .iter()
        .filter_map(|(name, needed)| {
            let has = granted.get(*name).and_then(Value::as_str).unwrap_or("none");
            (rank(has) < rank(needed)).then(|| format!("{name}: {needed} needed, {has} granted"))
        })
        .collect()
}
