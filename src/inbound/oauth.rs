//! `GET /oauth/github/callback`: the end of `/release link`. Checks the signed state (which
//! chat user asked, and when), exchanges the code for a user token, reads who signed in and
//! stores chat user → GitHub user id and login. The token is used once and never stored or
//! logged.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::handlers::chat::{redirect_uri, verify_link_state};
use crate::store::chat::{self as chat_store, ChatSurface, Identity};

/// The callback's query.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>trainyard — {}</title></head>\
         <body><h1>{}</h1><p>{}</p></body></html>",
        escape(title),
        escape(title),
        escape(text)
    );
    (status, Html(body)).into_response()
}

/// Finishes linking a chat user.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let settings = &state.settings;
    let (Some(oauth), Some(public_url)) = (&settings.github_oauth, &settings.public_url) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Linking is not set up",
            "This trainyard needs TRAINYARD_GITHUB_CLIENT_ID, TRAINYARD_GITHUB_CLIENT_SECRET and \
             TRAINYARD_PUBLIC_URL to link accounts.",
        );
    };
    if query.error.is_some() {
        return page(
            StatusCode::BAD_REQUEST,
            "Not linked",
            "GitHub sign-in was cancelled; nothing changed.",
        );
    }
    let (Some(code), Some(state_text)) = (query.code, query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not linked",
            "The sign-in answer is incomplete; ask for a new link with /release link.",
        );
    };
    let now = state.queue.clock().now().as_millisecond();
    let link = match verify_link_state(settings, &state_text, now) {
        Ok(link) => link,
        Err(reason) => return page(StatusCode::BAD_REQUEST, "Not linked", &reason),
    };
    let Some(surface) = ChatSurface::parse(&link.surface) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not linked",
            "Unknown chat surface.",
        );
    };
    let http = crate::chat::http_client();
    let token: Result<TokenAnswer, reqwest::Error> = async {
        http.post(format!(
            "{}/login/oauth/access_token",
            settings.github_web_url
        ))
        .header("Accept", "application/json")
        .json(&serde_json::json!({
            "client_id": oauth.client_id,
            "client_secret": oauth.client_secret.expose(),
            "code": code,
            "redirect_uri": redirect_uri(public_url),
        }))
        .send()
        .await?
        .json()
        .await
    }
    .await;
    let token = match token {
        Ok(TokenAnswer {
            access_token: Some(token),
            ..
        }) => token,
        Ok(TokenAnswer { error, .. }) => {
            tracing::warn!(
                error = error.as_deref().unwrap_or("none"),
                "GitHub refused the sign-in code"
            );
            return page(
                StatusCode::BAD_REQUEST,
                "Not linked",
                "GitHub did not accept the sign-in (the code may have been used or expired); \
                 ask for a new link with /release link.",
            );
        }
        Err(_) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Not linked",
                "GitHub could not be reached; try the link again in a moment.",
            );
        }
    };
    let user: Result<GitHubUser, reqwest::Error> = async {
        http.get(format!(
            "{}/user",
            settings.github_api_url.trim_end_matches('/')
        ))
        .bearer_auth(&token)
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "trainyard")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
    }
    .await;
    let Ok(user) = user else {
        return page(
            StatusCode::BAD_GATEWAY,
            "Not linked",
            "GitHub did not say who signed in; try the link again in a moment.",
        );
    };
    let identity = Identity {
        github_id: user.id,
        github_login: user.login,
    };
    if let Err(error) = chat_store::link(
        &state.db,
        surface,
        &link.workspace,
        &link.user,
        &identity,
        now,
    )
    .await
    {
        tracing::error!(%error, "link not stored");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not linked",
            "The link could not be saved; try again in a moment.",
        );
    }
    tracing::info!(surface = surface.as_str(), github_login = %identity.github_login, "chat user linked");
    page(
        StatusCode::OK,
        "Linked",
        &format!(
            "Your {} account now acts as GitHub user {}. You can close this tab.",
            match surface {
                ChatSurface::Slack => "Slack",
                ChatSurface::Discord => "Discord",
            },
            identity.github_login
        ),
    )
}
