//! Signing in to the dashboard with GitHub (the App's OAuth), the session and its CSRF
//! token, and signing out.

use super::{
    SESSION_COOKIE, SESSION_HOURS, SIGNIN_COOKIE, message, random_token, session, set_cookie,
    site_cookie,
};
use crate::github::user_access;
use crate::state::AppState;
use crate::store::installations;
use crate::store::web_sessions::{self, Session};
use crate::web::browser::see_other;
use crate::web::oauth::{GitHubSignInError, GitHubUser, github_sign_in_with};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

/// `GET /signin`: off to GitHub, with a state bound to this browser.
pub async fn sign_in(State(state): State<AppState>) -> Response {
    let (Some(oauth), Some(public_url)) =
        (&state.settings.github_oauth, &state.settings.public_url)
    else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign in",
            None,
            "GitHub sign-in is not set up (TRAINYARD_GITHUB_CLIENT_ID, \
             TRAINYARD_GITHUB_CLIENT_SECRET and TRAINYARD_PUBLIC_URL).",
        );
    };
    let signin_state = random_token();
    let redirect = format!("{}/oauth/github/signin", public_url.trim_end_matches('/'));
    let location = format!(
        "{}/login/oauth/authorize?client_id={}&redirect_uri={}&state={signin_state}",
        state.settings.github_web_url,
        percent_encoding::utf8_percent_encode(&oauth.client_id, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(&redirect, percent_encoding::NON_ALPHANUMERIC),
    );
    let mut response = see_other(&location);
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&state, SIGNIN_COOKIE, &signin_state, 600),
    );
    response
}

/// GitHub's answer to a sign-in.
#[derive(Debug, Deserialize)]
pub struct SignInAnswer {
    code: Option<String>,
    state: Option<String>,
}

/// `GET /oauth/github/signin`: the code is exchanged server to server; the state must be
/// the one this browser was sent off with.
pub async fn signed_in(
    State(state): State<AppState>,
    Query(answer): Query<SignInAnswer>,
    headers: HeaderMap,
) -> Response {
    let (Some(oauth), Some(public_url)) =
        (&state.settings.github_oauth, &state.settings.public_url)
    else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign in",
            None,
            "GitHub sign-in is not set up.",
        );
    };
    let code = match sign_in_code(&state, &headers, &answer) {
        Ok(code) => code,
        Err(refused) => return *refused,
    };
    let redirect = format!("{}/oauth/github/signin", public_url.trim_end_matches('/'));
    // What the person may read is listed once, with their own token, before it is dropped.
    let known: Vec<i64> = installations::list(&state.db)
        .await
        .map(|list| list.into_iter().map(|i| i.id).collect())
        .unwrap_or_default();
    let api_url = state.settings.github_api_url.clone();
    let listed = github_sign_in_with(
        &state.settings,
        &oauth.client_id,
        oauth.client_secret.expose(),
        code,
        &redirect,
        |token| async move {
            let http = crate::chat::http_client();
            user_access::reachable(&http, &api_url, &token, &known)
                .await
                .map_err(|error| {
                    tracing::warn!(%error, "what a person may read was not listed");
                    GitHubSignInError::Unreachable
                })
        },
    )
    .await;
    let (user, reachable) = match listed {
        Ok(listed) => listed,
        Err(GitHubSignInError::Refused) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Sign in",
                None,
                "GitHub did not accept the sign-in; start again.",
            );
        }
        Err(_) => {
            return message(
                StatusCode::BAD_GATEWAY,
                "Sign in",
                None,
                "GitHub could not be asked who signed in; try again in a moment.",
            );
        }
    };
    // Sign-in is for people of the accounts trainyard is installed on (or of the
    // organisations the operator names): others get no session at all.
    let orgs = &state.settings.dashboard_orgs;
    let readable: Vec<String> = reachable
        .into_iter()
        .filter(|r| orgs.is_empty() || orgs.iter().any(|o| o.eq_ignore_ascii_case(&r.account)))
        .flat_map(|r| r.repositories)
        .collect();
    if readable.is_empty() {
        tracing::info!(login = %user.login, "dashboard sign-in refused: no readable repository");
        return message(
            StatusCode::FORBIDDEN,
            "Sign in",
            None,
            "This dashboard is for people who can read a repository trainyard is installed on \
             (in the organisations it serves); your account cannot read any.",
        );
    }
    start_session(&state, user, &readable).await
}

/// The code GitHub's answer carries, when the answer belongs to a sign-in this browser
/// started (its state is the one in the sign-in cookie).
fn sign_in_code<'a>(
    state: &AppState,
    headers: &HeaderMap,
    answer: &'a SignInAnswer,
) -> Result<&'a str, Box<Response>> {
    let expected = site_cookie(state, SIGNIN_COOKIE).read(headers);
    let (Some(code), Some(given)) = (answer.code.as_deref(), answer.state.as_deref()) else {
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            "Sign in",
            None,
            "GitHub sign-in was cancelled.",
        )));
    };
    if expected != Some(given) || given.len() != 64 {
        return Err(Box::new(message(
            StatusCode::FORBIDDEN,
            "Sign in",
            None,
            "This sign-in was not started in this browser; start again from the sign-in page.",
        )));
    }
    Ok(code)
}

/// Stores a session for `user`, who may read `readable`, and sets its cookie (the sign-in's
/// own cookie is spent).
async fn start_session(state: &AppState, user: GitHubUser, readable: &[String]) -> Response {
    let token = random_token();
    let now = state.queue.clock().now().as_millisecond();
    let session = Session {
        github_id: user.id,
        login: user.login,
        csrf: random_token(),
        repositories: serde_json::to_string(readable).unwrap_or_else(|_| "[]".into()),
    };
    let expires_at = now + SESSION_HOURS * 3600 * 1000;
    if let Err(error) = web_sessions::create(&state.db, &token, &session, now, expires_at).await {
        tracing::error!(%error, "session not stored");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign in",
            None,
            "The sign-in could not be saved; try again in a moment.",
        );
    }
    tracing::info!(login = %session.login, "signed in to the dashboard");
    let mut response = see_other("/");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(state, SESSION_COOKIE, &token, SESSION_HOURS * 3600),
    );
    headers.append(header::SET_COOKIE, set_cookie(state, SIGNIN_COOKIE, "", 0));
    response
}

/// A form's CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// The answer to a form that did not come from this site with this session's token.
pub(super) fn forged(session: &Session) -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        "Refused",
        Some(session),
        "This form did not come from this site; open the page again and retry.",
    )
}

/// Whether a form post comes from this site with this session's token.
pub(super) fn genuine(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
    csrf: &str,
) -> bool {
    let same_origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Browsers send Origin with every form post; without one it is not a browser's.
        None => false,
        Some(origin) => state
            .settings
            .public_url
            .as_deref()
            .is_some_and(|public| public.trim_end_matches('/').eq_ignore_ascii_case(origin)),
    };
    let token_matches = csrf.len() == session.csrf.len()
        && csrf
            .bytes()
            .zip(session.csrf.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same_origin && token_matches
}

/// `POST /signout`.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(session) = session(&state, &headers).await
        && genuine(&state, &headers, &session, &form.csrf)
        && let Some(token) = site_cookie(&state, SESSION_COOKIE).read(&headers)
    {
        let _ = web_sessions::delete(&state.db, token).await;
    }
    let mut response = see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    response
}
