//! Who signed in, asked of the service that signed them in: Slack (OpenID Connect), Discord
//! (`identify`) and GitHub (the App's user authorisation). Codes are exchanged server to
//! server; the tokens are used once and never stored or logged.

use crate::handlers::chat::redirect_uri;
use crate::settings::{ChatOAuth, Settings};
use axum::http::header;
use serde::Deserialize;

/// Who signed in to the chat service: (workspace where known, user id).
pub(crate) struct ChatUser {
    pub(crate) workspace: Option<String>,
    pub(crate) user: String,
}

pub(crate) enum SignInError {
    /// The service refused the code.
    Refused,
    /// The service could not be reached or answered nonsense.
    Unreachable,
}

/// Sign in with Slack: the code for a token (`openid.connect.token`), then who it is
/// (`openid.connect.userInfo`), both straight from Slack.
pub(crate) async fn slack_user(
    settings: &Settings,
    oauth: &ChatOAuth,
    code: &str,
    public_url: &str,
) -> Result<ChatUser, SignInError> {
    #[derive(Deserialize)]
    struct TokenAnswer {
        ok: bool,
        access_token: Option<String>,
    }
    #[derive(Deserialize)]
    struct UserInfo {
        ok: bool,
        #[serde(rename = "https://slack.com/user_id")]
        user_id: Option<String>,
        #[serde(rename = "https://slack.com/team_id")]
        team_id: Option<String>,
    }
    let http = crate::chat::http_client();
    let form = serde_urlencoded::to_string([
        ("client_id", oauth.client_id.as_str()),
        ("client_secret", oauth.client_secret.expose()),
        ("code", code),
        ("redirect_uri", redirect_uri(public_url, "slack").as_str()),
    ])
    .map_err(|_| SignInError::Refused)?;
    let answer: TokenAnswer = http
        .post(format!("{}/openid.connect.token", settings.slack_api_url))
        .header(
            header::CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send()
        .await
        .map_err(|_| SignInError::Unreachable)?
        .json()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    let (true, Some(token)) = (answer.ok, answer.access_token) else {
        return Err(SignInError::Refused);
    };
    let info: UserInfo = http
        .post(format!(
            "{}/openid.connect.userInfo",
            settings.slack_api_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|_| SignInError::Unreachable)?
        .json()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    match (info.ok, info.user_id, info.team_id) {
        (true, Some(user), Some(team)) => Ok(ChatUser {
            workspace: Some(team),
            user,
        }),
        _ => Err(SignInError::Refused),
    }
}

/// Discord OAuth2: the code for a token (`/oauth2/token`), then who it is (`/users/@me`).
pub(crate) async fn discord_user(
    settings: &Settings,
    oauth: &ChatOAuth,
    code: &str,
    public_url: &str,
) -> Result<ChatUser, SignInError> {
    #[derive(Deserialize)]
    struct TokenAnswer {
        access_token: Option<String>,
    }
    #[derive(Deserialize)]
    struct Me {
        id: String,
    }
    let http = crate::chat::http_client();
    let form = serde_urlencoded::to_string([
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri(public_url, "discord").as_str()),
        ("client_id", oauth.client_id.as_str()),
        ("client_secret", oauth.client_secret.expose()),
    ])
    .map_err(|_| SignInError::Refused)?;
    let response = http
        .post(format!("{}/oauth2/token", settings.discord_api_url))
        .header(
            header::CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    if response.status().is_client_error() {
        return Err(SignInError::Refused);
    }
    let answer: TokenAnswer = response
        .json()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    let token = answer.access_token.ok_or(SignInError::Refused)?;
    let me: Me = http
        .get(format!("{}/users/@me", settings.discord_api_url))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|_| SignInError::Unreachable)?
        .error_for_status()
        .map_err(|_| SignInError::Refused)?
        .json()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    // A Discord user id is global; the guild was proven by the signed interaction.
    Ok(ChatUser {
        workspace: None,
        user: me.id,
    })
}

/// Who signed in to GitHub: the user's id and login.
#[derive(Debug, Clone, Deserialize)]
pub struct GitHubUser {
    /// The account's id: what identifies it for good.
    pub id: i64,
    /// Its login now.
    pub login: String,
}

/// Why a GitHub sign-in did not say who it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitHubSignInError {
    /// GitHub refused the code (used, expired, or not ours).
    Refused,
    /// GitHub could not be reached.
    Unreachable,
    /// GitHub did not say who the token belongs to.
    NoUser,
}

/// Exchanges a sign-in `code` (server to server) and asks GitHub who it is for. The
/// user's token is used for that one question and dropped.
pub async fn github_sign_in(
    settings: &Settings,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
) -> Result<GitHubUser, GitHubSignInError> {
    github_sign_in_with(
        settings,
        client_id,
        client_secret,
        code,
        redirect_uri,
        |_| async { Ok(()) },
    )
    .await
    .map(|(user, ())| user)
}

/// [`github_sign_in`], then `more` asked with the user's token before it is dropped.
pub async fn github_sign_in_with<T, F>(
    settings: &Settings,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
    more: impl FnOnce(String) -> F,
) -> Result<(GitHubUser, T), GitHubSignInError>
where
    F: std::future::Future<Output = Result<T, GitHubSignInError>>,
{
    #[derive(Deserialize)]
    struct TokenAnswer {
        access_token: Option<String>,
        error: Option<String>,
    }
    let http = crate::chat::http_client();
    let answer: Result<TokenAnswer, reqwest::Error> = async {
        http.post(format!(
            "{}/login/oauth/access_token",
            settings.github_web_url
        ))
        .header("Accept", "application/json")
        .json(&serde_json::json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }))
        .send()
        .await?
        .json()
        .await
    }
    .await;
    let github_token = match answer {
        Ok(TokenAnswer {
            access_token: Some(token),
            ..
        }) => token,
        Ok(TokenAnswer { error, .. }) => {
            tracing::warn!(
                error = error.as_deref().unwrap_or("none"),
                "GitHub refused the sign-in code"
            );
            return Err(GitHubSignInError::Refused);
        }
        Err(_) => return Err(GitHubSignInError::Unreachable),
    };
    let user: Result<GitHubUser, reqwest::Error> = async {
        http.get(format!(
            "{}/user",
            settings.github_api_url.trim_end_matches('/')
        ))
        .bearer_auth(&github_token)
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "trainyard")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
    }
    .await;
    let user = user.map_err(|_| GitHubSignInError::NoUser)?;
    Ok((user, more(github_token).await?))
}
