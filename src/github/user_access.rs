//! What a signed-in person may read, asked with their own user access token: the App's
//! installations they can reach (`GET /user/installations`) and, in each, the repositories
//! (`GET /user/installations/{id}/repositories`). A few calls at sign-in instead of one
//! permission call per installed repository per person.

use serde::Deserialize;

/// Pages read at most per list (100 entries each).
const MAX_PAGES: u32 = 10;

/// An installation the person can reach, with the repositories they can read in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    /// The installation.
    pub installation: i64,
    /// The account it is installed on.
    pub account: String,
    /// `owner/name` of each repository the person can read there.
    pub repositories: Vec<String>,
}

/// Why the lists could not be read.
#[derive(Debug, thiserror::Error)]
#[error("GitHub could not list what you may read: {0}")]
pub struct UserAccessError(String);

#[derive(Deserialize)]
struct Installations {
    installations: Vec<Installation>,
}

#[derive(Deserialize)]
struct Installation {
    id: i64,
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct Repositories {
    repositories: Vec<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// The installations among `known` (this trainyard's) that `token`'s person can reach, each
/// with the repositories they can read.
pub async fn reachable(
    http: &reqwest::Client,
    api_url: &str,
    token: &str,
    known: &[i64],
) -> Result<Vec<Reachable>, UserAccessError> {
    let api = api_url.trim_end_matches('/');
    let mut found = Vec::new();
    for page in 1..=MAX_PAGES {
        let listed: Installations = get(
            http,
            &format!("{api}/user/installations?per_page=100&page={page}"),
            token,
        )
        .await?;
        let last = listed.installations.len() < 100;
        for installation in listed.installations {
            if known.contains(&installation.id) {
                found.push(Reachable {
                    installation: installation.id,
                    account: installation.account.map(|a| a.login).unwrap_or_default(),
                    repositories: Vec::new(),
                });
            }
        }
        if last {
            break;
        }
    }
    for reachable in &mut found {
        for page in 1..=MAX_PAGES {
            let listed: Repositories = get(
                http,
                &format!(
                    "{api}/user/installations/{}/repositories?per_page=100&page={page}",
                    reachable.installation
                ),
                token,
            )
            .await?;
            let last = listed.repositories.len() < 100;
            reachable
                .repositories
                .extend(listed.repositories.into_iter().map(|r| r.full_name));
            if last {
                break;
            }
        }
    }
    Ok(found)
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<T, UserAccessError> {
    let answer = http
        .get(url)
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "trainyard")
        .send()
        .await
        .map_err(|e| UserAccessError(e.without_url().to_string()))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(UserAccessError(format!("HTTP {status}")));
    }
    answer
        .json()
        .await
        .map_err(|e| UserAccessError(e.without_url().to_string()))
}
