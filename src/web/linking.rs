//! The browser side of `/release link` (see [`crate::handlers::chat::linking`]):
//!
//! 1. `GET /link/{token}` binds the request to this browser (a cookie) and sends it to the
//!    chat service's sign-in: Sign in with Slack (OpenID Connect) or Discord OAuth2
//!    `identify`.
//! 2. `GET /oauth/slack/callback`, `GET /oauth/discord/callback`: the code is exchanged
//!    server to server and the signed-in user compared with the one who asked. Anyone else
//!    spends the request and links nothing. The same user goes on to GitHub's sign-in.
//! 3. `GET /oauth/github/callback` spends the request, reads who signed in to GitHub and
//!    stores the chat user → GitHub user id and login; the chat user is told in a direct
//!    message.
//!
//! Every step needs the same browser's cookie and an unexpired, unspent request. Tokens from
//! the services are used once and never stored or logged.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::handlers::chat::{TellLinked, redirect_uri};
use crate::jobs::BackgroundJob as _;
use crate::settings::{ChatOAuth, GitHubOAuthSettings, Settings};
use crate::state::AppState;
use crate::store::chat::{self as chat_store, ChatSurface, Identity};
use crate::store::link_requests::{self, LinkRequest};
use crate::web::browser::{SiteCookie, see_other};
use crate::web::oauth::{GitHubSignInError, SignInError, discord_user, github_sign_in, slack_user};

/// The cookie that binds a link request to one browser.
const COOKIE: &str = "trainyard_link";
/// Sign in with Slack.
const SLACK_AUTHORIZE: &str = "https://slack.com/openid/connect/authorize";
/// Discord's OAuth2 consent page.
const DISCORD_AUTHORIZE: &str = "https://discord.com/oauth2/authorize";

/// A sign-in service's answer.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A page that says what happened; text is escaped.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>trainyard — {title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;\
         padding:0 1rem;color:#1f2328}}h1{{font-size:1.5rem}}</style></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>",
        title = escape(title),
        text = escape(text),
    );
    let mut response = (status, Html(body)).into_response();
    // These pages carry nothing for other sites to frame or cache.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn not_linked(status: StatusCode, text: &str) -> Response {
    page(status, "Not linked", text)
}

/// What linking needs from the settings, or the page saying it is not set up.
fn linking_settings(settings: &Settings) -> Result<&str, Box<Response>> {
    match (&settings.github_oauth, &settings.public_url) {
        (Some(_), Some(public_url)) => Ok(public_url.as_str()),
        _ => Err(Box::new(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Linking is not set up",
            "This trainyard needs TRAINYARD_GITHUB_CLIENT_ID, TRAINYARD_GITHUB_CLIENT_SECRET \
             and TRAINYARD_PUBLIC_URL to link accounts.",
        ))),
    }
}

/// A link request's step (`true`: taken now) as the page to stop at when it was not: taken
/// before (the link was used), or the store failed (`unavailable` says what to do).
fn step_taken(
    taken: Result<bool, crate::store::StoreError>,
    unavailable: &str,
) -> Result<(), Box<Response>> {
    match taken {
        Ok(true) => Ok(()),
        Ok(false) => Err(Box::new(not_linked(
            StatusCode::GONE,
            "This link was already used; ask for a new one with /release link.",
        ))),
        Err(error) => {
            tracing::error!(%error, "link request not updated");
            Err(Box::new(not_linked(
                StatusCode::SERVICE_UNAVAILABLE,
                unavailable,
            )))
        }
    }
}

fn chat_oauth(settings: &Settings, surface: ChatSurface) -> Option<&ChatOAuth> {
    match surface {
        ChatSurface::Slack => settings.slack.as_ref()?.oauth.as_ref(),
        ChatSurface::Discord => settings.discord.as_ref()?.oauth.as_ref(),
    }
}

fn service_name(surface: ChatSurface) -> &'static str {
    match surface {
        ChatSurface::Slack => "Slack",
        ChatSurface::Discord => "Discord",
    }
}

/// The request `token` names, if it may still be used by the browser sending `headers`.
async fn usable_request(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<(LinkRequest, ChatSurface), Box<Response>> {
    let request = match link_requests::find(&state.db, token).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            return Err(Box::new(not_linked(
                StatusCode::NOT_FOUND,
                "This link is unknown; ask for a new one with /release link.",
            )));
        }
        Err(error) => {
            tracing::error!(%error, "link request not read");
            return Err(Box::new(not_linked(
                StatusCode::SERVICE_UNAVAILABLE,
                "The link could not be checked; try again in a moment.",
            )));
        }
    };
    if request.spent_at.is_some() {
        return Err(Box::new(not_linked(
            StatusCode::GONE,
            "This link was already used; ask for a new one with /release link.",
        )));
    }
    if request.expires_at < now {
        return Err(Box::new(not_linked(
            StatusCode::GONE,
            "This link expired; ask for a new one with /release link.",
        )));
    }
    let link_cookie = SiteCookie::new(state.settings.public_url.as_deref(), COOKIE);
    let same_browser = match (&request.browser_hash, link_cookie.read(headers)) {
        (Some(bound), Some(cookie)) => *bound == link_requests::digest(cookie),
        _ => false,
    };
    if !same_browser {
        return Err(Box::new(not_linked(
            StatusCode::FORBIDDEN,
            "This sign-in did not start in this browser. Open the link from /release link \
             yourself, and finish in the same browser.",
        )));
    }
    let Some(surface) = request.chat_surface() else {
        return Err(Box::new(not_linked(
            StatusCode::BAD_REQUEST,
            "Unknown chat service.",
        )));
    };
    Ok((request, surface))
}

/// The chat service's sign-in page, asked to send the person back here with `token`.
fn authorize_url(
    surface: ChatSurface,
    oauth: &ChatOAuth,
    public_url: &str,
    token: &str,
    workspace: &str,
) -> String {
    let service = match surface {
        ChatSurface::Slack => "slack",
        ChatSurface::Discord => "discord",
    };
    let redirect_to = redirect_uri(public_url, service);
    let query = match surface {
        ChatSurface::Slack => serde_urlencoded::to_string([
            ("response_type", "code"),
            ("scope", "openid"),
            ("client_id", oauth.client_id.as_str()),
            ("redirect_uri", redirect_to.as_str()),
            ("state", token),
            ("team", workspace),
        ]),
        ChatSurface::Discord => serde_urlencoded::to_string([
            ("response_type", "code"),
            ("scope", "identify"),
            ("client_id", oauth.client_id.as_str()),
            ("redirect_uri", redirect_to.as_str()),
            ("state", token),
            ("prompt", "none"),
        ]),
    }
    .unwrap_or_default();
    let authorize = match surface {
        ChatSurface::Slack => SLACK_AUTHORIZE,
        ChatSurface::Discord => DISCORD_AUTHORIZE,
    };
    format!("{authorize}?{query}")
}

/// `GET /link/{token}`: binds the request to this browser and starts the chat sign-in.
pub async fn start(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let settings = &state.settings;
    let public_url = match linking_settings(settings) {
        Ok(public_url) => public_url,
        Err(page) => return *page,
    };
    let now = state.queue.clock().now().as_millisecond();
    let request = match link_requests::find(&state.db, &token).await {
        Ok(Some(request)) if request.spent_at.is_none() && request.expires_at >= now => request,
        Ok(_) => {
            return not_linked(
                StatusCode::GONE,
                "This link is unknown, used or expired; ask for a new one with /release link.",
            );
        }
        Err(error) => {
            tracing::error!(%error, "link request not read");
            return not_linked(
                StatusCode::SERVICE_UNAVAILABLE,
                "The link could not be checked; try again in a moment.",
            );
        }
    };
    let Some(surface) = request.chat_surface() else {
        return not_linked(StatusCode::BAD_REQUEST, "Unknown chat service.");
    };
    let Some(oauth) = chat_oauth(settings, surface) else {
        return not_linked(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "Sign-in with {} is not set up on this trainyard.",
                service_name(surface)
            ),
        );
    };

    // The first browser to open the link holds it; the same browser may open it again.
    let link_cookie = SiteCookie::new(Some(public_url), COOKIE);
    let cookie = match (&request.browser_hash, link_cookie.read(&headers)) {
        (Some(bound), Some(cookie)) if *bound == link_requests::digest(cookie) => None,
        (Some(_), _) => {
            return not_linked(
                StatusCode::FORBIDDEN,
                "This link was opened in another browser. Ask for a new one with /release link \
                 and open it yourself.",
            );
        }
        (None, _) => {
            let cookie = format!(
                "{:032x}{:032x}",
                rand::random::<u128>(),
                rand::random::<u128>()
            );
            match link_requests::bind_browser(&state.db, &token, &cookie).await {
                Ok(true) => Some(cookie),
                Ok(false) => {
                    return not_linked(
                        StatusCode::FORBIDDEN,
                        "This link was opened in another browser. Ask for a new one with \
                         /release link and open it yourself.",
                    );
                }
                Err(error) => {
                    tracing::error!(%error, "link request not bound");
                    return not_linked(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The link could not be opened; try again in a moment.",
                    );
                }
            }
        }
    };

    let url = authorize_url(surface, oauth, public_url, &token, &request.workspace);
    let mut response = see_other(&url);
    if let Some(cookie) = cookie {
        let max_age = (request.expires_at - now).max(0) / 1000;
        response
            .headers_mut()
            .insert(header::SET_COOKIE, link_cookie.set(&cookie, max_age));
    }
    response
}

/// A sign-in service's answer, with the link request it belongs to.
struct Answered {
    public_url: String,
    code: String,
    token: String,
    now: i64,
    request: LinkRequest,
    surface: ChatSurface,
}

/// Reads a sign-in answer: linking set up, a code and state, and a link request this browser
/// may still use; otherwise the page saying why (`cancelled` when the person said no).
async fn answered(
    state: &AppState,
    query: CallbackQuery,
    headers: &HeaderMap,
    cancelled: &str,
) -> Result<Answered, Box<Response>> {
    let public_url = linking_settings(&state.settings)?.to_owned();
    let (Some(code), Some(token)) = (query.code, query.state) else {
        let text = if query.error.is_some() {
            cancelled
        } else {
            "The sign-in answer is incomplete; ask for a new link with /release link."
        };
        return Err(Box::new(not_linked(StatusCode::BAD_REQUEST, text)));
    };
    let now = state.queue.clock().now().as_millisecond();
    let (request, surface) = usable_request(state, &token, headers, now).await?;
    Ok(Answered {
        public_url,
        code,
        token,
        now,
        request,
        surface,
    })
}

/// `GET /oauth/slack/callback`.
pub async fn slack_callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    chat_callback(state, query, headers, ChatSurface::Slack).await
}

/// `GET /oauth/discord/callback`.
pub async fn discord_callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    chat_callback(state, query, headers, ChatSurface::Discord).await
}

async fn chat_callback(
    state: AppState,
    query: CallbackQuery,
    headers: HeaderMap,
    expected: ChatSurface,
) -> Response {
    let settings = &state.settings;
    let Answered {
        public_url,
        code,
        token,
        now,
        request,
        surface,
    } = match answered(
        &state,
        query,
        &headers,
        "The sign-in was cancelled; nothing changed.",
    )
    .await
    {
        Ok(answered) => answered,
        Err(page) => return *page,
    };
    if surface != expected || request.chat_verified_at.is_some() {
        return not_linked(
            StatusCode::BAD_REQUEST,
            "This sign-in does not belong to this link; ask for a new one with /release link.",
        );
    }
    let Some(oauth) = chat_oauth(settings, surface) else {
        return not_linked(
            StatusCode::SERVICE_UNAVAILABLE,
            "Chat sign-in is not set up on this trainyard.",
        );
    };
    let service = service_name(surface);
    let signed_in = match surface {
        ChatSurface::Slack => slack_user(settings, oauth, &code, &public_url).await,
        ChatSurface::Discord => discord_user(settings, oauth, &code, &public_url).await,
    };
    let signed_in = match signed_in {
        Ok(user) => user,
        Err(error) => {
            let (status, text) = chat_sign_in_failure(&error, service);
            return not_linked(status, &text);
        }
    };
    let same_person = signed_in.user == request.chat_user
        && signed_in
            .workspace
            .as_ref()
            .is_none_or(|workspace| *workspace == request.workspace);
    if !same_person {
        // Someone else's link: spend it, so it cannot be tried again.
        let _ = link_requests::spend(&state.db, &token, now).await;
        tracing::warn!(
            surface = surface.as_str(),
            "link refused: the browser signed in as another chat user than the one who asked"
        );
        return page(
            StatusCode::FORBIDDEN,
            "Not linked",
            &format!(
                "You signed in to {service} as someone other than the person who asked for this \
                 link, so nothing was linked and the link no longer works. Only open links you \
                 asked for yourself with /release link; if someone sent you theirs, they may \
                 have tried to act as you."
            ),
        );
    }
    if let Err(page) = step_taken(
        link_requests::mark_chat_verified(&state.db, &token, now).await,
        "The sign-in could not be recorded; try again in a moment.",
    ) {
        return *page;
    }
    let Some(github) = &settings.github_oauth else {
        return not_linked(
            StatusCode::SERVICE_UNAVAILABLE,
            "GitHub sign-in is not set up.",
        );
    };
    see_other(&github_authorize_url(
        settings,
        github,
        &public_url,
        token,
        request.login_hint,
    ))
}

/// Stores the link and the message telling of it in one write: no link goes untold. Whether
/// the queue has work to wake for.
async fn store_link(
    state: &AppState,
    surface: ChatSurface,
    request: &LinkRequest,
    identity: &Identity,
    now: i64,
) -> Result<bool, String> {
    let tell = TellLinked {
        surface: surface.as_str().to_owned(),
        user: request.chat_user.clone(),
        github_login: identity.github_login.clone(),
    };
    let mut tx = state.db.begin_write().await.map_err(|e| e.to_string())?;
    chat_store::link(
        &mut tx,
        surface,
        &request.workspace,
        &request.chat_user,
        identity,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let (_, runnable) = state
        .queue
        .enqueue_with_hint(&mut tx, &tell)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(runnable)
}

/// `GET /oauth/github/callback`: spends the request and links the GitHub account.
pub async fn github_callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let settings = &state.settings;
    let Some(oauth) = &settings.github_oauth else {
        return not_linked(
            StatusCode::SERVICE_UNAVAILABLE,
            "GitHub sign-in is not set up.",
        );
    };
    let Answered {
        public_url,
        code,
        token,
        now,
        request,
        surface,
    } = match answered(
        &state,
        query,
        &headers,
        "GitHub sign-in was cancelled; nothing changed.",
    )
    .await
    {
        Ok(answered) => answered,
        Err(page) => return *page,
    };
    if request.chat_verified_at.is_none() {
        return not_linked(
            StatusCode::FORBIDDEN,
            &format!(
                "Sign in to {} first: open the link from /release link again.",
                service_name(surface)
            ),
        );
    }
    // Single use: the first answer spends it, whatever GitHub then says.
    if let Err(page) = step_taken(
        link_requests::spend(&state.db, &token, now).await,
        "The link could not be used; try again in a moment.",
    ) {
        return *page;
    }

    let redirect = redirect_uri(&public_url, "github");
    let signed_in = github_sign_in(
        settings,
        &oauth.client_id,
        oauth.client_secret.expose(),
        &code,
        &redirect,
    )
    .await;
    let user = match signed_in {
        Ok(user) => user,
        Err(error) => {
            let (status, text) = sign_in_failure(&error);
            return not_linked(status, text);
        }
    };
    let identity = Identity {
        github_id: user.id,
        github_login: user.login,
    };
    let stored = store_link(&state, surface, &request, &identity, now).await;
    if let Ok(true) = stored {
        state.queue.wake();
    }
    if let Err(error) = stored {
        tracing::error!(%error, kind = TellLinked::KIND, "link not stored");
        return not_linked(
            StatusCode::SERVICE_UNAVAILABLE,
            "The link could not be saved; ask for a new one with /release link.",
        );
    }
    tracing::info!(surface = surface.as_str(), github_login = %identity.github_login, "chat user linked");
    page(
        StatusCode::OK,
        "Linked",
        &format!(
            "Your {} account now acts as GitHub user {}. You can close this tab.",
            service_name(surface),
            identity.github_login
        ),
    )
}

/// What the person is told when GitHub's sign-in did not say who they are.
fn sign_in_failure(error: &GitHubSignInError) -> (StatusCode, &'static str) {
    match error {
        GitHubSignInError::Refused => (
            StatusCode::BAD_REQUEST,
            "GitHub did not accept the sign-in (the code may have been used or expired); ask \
             for a new link with /release link.",
        ),
        GitHubSignInError::Unreachable => (
            StatusCode::BAD_GATEWAY,
            "GitHub could not be reached; ask for a new link with /release link.",
        ),
        GitHubSignInError::NoUser => (
            StatusCode::BAD_GATEWAY,
            "GitHub did not say who signed in; ask for a new link with /release link.",
        ),
    }
}

/// GitHub's sign-in page, after the chat service's: back here with `token`, the login the
/// person named suggested.
fn github_authorize_url(
    settings: &Settings,
    github: &GitHubOAuthSettings,
    public_url: &str,
    token: String,
    login_hint: Option<String>,
) -> String {
    let mut query = vec![
        ("client_id", github.client_id.clone()),
        ("redirect_uri", redirect_uri(public_url, "github")),
        ("state", token),
        ("allow_signup", "false".to_owned()),
    ];
    if let Some(login) = login_hint {
        query.push(("login", login));
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    format!("{}/login/oauth/authorize?{query}", settings.github_web_url)
}

/// What the person is told when the chat service's sign-in did not say who they are.
fn chat_sign_in_failure(error: &SignInError, service: &str) -> (StatusCode, String) {
    match error {
        SignInError::Refused => (
            StatusCode::BAD_REQUEST,
            format!(
                "{service} did not accept the sign-in (it may have been used or expired); ask \
                 for a new link with /release link."
            ),
        ),
        SignInError::Unreachable => (
            StatusCode::BAD_GATEWAY,
            format!("{service} could not be reached; open the link again in a moment."),
        ),
    }
}
