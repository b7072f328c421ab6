//! The release calendar feed: `GET /calendar.ics` for the signed-in person (one repository
//! with `?repo=`, else all they may read), or for a calendar app with a feed token
//! (`?feed=tyc_…`) that its maker made on the dashboard and may revoke there.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::sign_in::{forged, genuine};
use super::{message, page, readable_repositories, reader, session};
use crate::domain::calendar::{self, TrainMark};
use crate::domain::ids::RepoFullName;
use crate::domain::train::TrainState;
use crate::state::AppState;
use crate::store::web_sessions::Session;
use crate::store::{calendar_feeds, trains};
use crate::web::browser::see_other;

/// The most repositories one feed shows.
const MAX_REPOSITORIES: usize = 200;

/// `GET /calendar.ics` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// A feed token.
    feed: Option<String>,
    /// `owner/name`: only this repository (signed in).
    repo: Option<String>,
}

/// `GET /calendar.ics`.
pub async fn feed(
    State(state): State<AppState>,
    Query(query): Query<CalendarQuery>,
    headers: HeaderMap,
) -> Response {
    let (name, repositories) = match &query.feed {
        Some(token) => match calendar_feeds::find(&state.db, token).await {
            Ok(Some(feed)) => (
                feed.label.clone(),
                feed.repositories()
                    .filter_map(|r| RepoFullName::parse(r).ok())
                    .collect(),
            ),
            Ok(None) => return plain(StatusCode::NOT_FOUND, "No such calendar feed, or revoked."),
            Err(error) => return unavailable(&error),
        },
        None => match &query.repo {
            Some(repo) => {
                let Some((owner, repo_name)) = repo.split_once('/') else {
                    return plain(StatusCode::BAD_REQUEST, "`repo` is owner/name.");
                };
                match reader(&state, &headers, owner, repo_name).await {
                    Ok((_, repo, _, _)) => (format!("trainyard: {repo}"), vec![repo]),
                    Err(_) => return signed_out(),
                }
            }
            None => {
                let Some(session) = session(&state, &headers).await else {
                    return signed_out();
                };
                match readable_repositories(&state, &session).await {
                    Ok(list) => (format!("trainyard: {}", session.login), list),
                    Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "Try again."),
                }
            }
        },
    };
    match calendar_text(&state, &name, &repositories).await {
        Ok(text) => {
            let mut response = (StatusCode::OK, text).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            // The feed names repositories: never kept by a shared cache.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            response
        }
        Err(error) => unavailable(&error),
    }
}

/// The calendar of `repositories`, named `name`.
async fn calendar_text(
    state: &AppState,
    name: &str,
    repositories: &[RepoFullName],
) -> Result<String, crate::store::StoreError> {
    let now = state.queue.clock().now();
    let mut entries = Vec::new();
    for repo in repositories.iter().take(MAX_REPOSITORIES) {
        let config = state.configs.stored(&state.db, repo).await?;
        let marks: Vec<TrainMark> =
            trains::in_states(&state.db, repo, &[TrainState::Open, TrainState::Released])
                .await?
                .into_iter()
                .map(|t| TrainMark {
                    line: t.line,
                    version: t.tag_name.or(t.version),
                    published_at: t.published_at,
                })
                .collect();
        entries.extend(calendar::entries(repo.as_ref(), &config, &marks, now));
    }
    Ok(calendar::ics(name, &entries, now))
}

/// A new feed's form.
#[derive(Debug, Deserialize)]
pub struct NewFeed {
    csrf: String,
    /// `owner/name`, or none for every repository the person may read.
    #[serde(default)]
    repo: Option<String>,
}

/// `POST /calendar/feeds`: makes a feed and shows its URL, once.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewFeed>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return see_other("/");
    };
    if !genuine(&state, &headers, &session, &form.csrf) {
        return forged(&session);
    }
    let (label, repositories) = match form.repo.as_deref().filter(|r| !r.is_empty()) {
        Some(repo) => {
            let Some((owner, name)) = repo.split_once('/') else {
                return message(
                    StatusCode::BAD_REQUEST,
                    "Refused",
                    Some(&session),
                    "No such repository.",
                );
            };
            match reader(&state, &headers, owner, name).await {
                Ok((_, repo, _, _)) => (format!("trainyard: {repo}"), vec![repo.to_string()]),
                Err(page) => return *page,
            }
        }
        None => match readable_repositories(&state, &session).await {
            Ok(list) => (
                format!("trainyard: {}", session.login),
                list.iter()
                    .take(MAX_REPOSITORIES)
                    .map(ToString::to_string)
                    .collect(),
            ),
            Err(reason) => {
                return message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Calendar",
                    Some(&session),
                    &reason,
                );
            }
        },
    };
    let now = state.queue.clock().now().as_millisecond();
    let made = calendar_feeds::create(
        &state.db,
        session.github_id,
        &session.login,
        &repositories,
        &label,
        now,
    )
    .await;
    let Ok((_, token)) = made else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Calendar",
            Some(&session),
            "The store did not answer; try again in a moment.",
        );
    };
    let base = state
        .settings
        .public_url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    let url = format!("{base}/calendar.ics?feed={token}");
    page(
        StatusCode::OK,
        "Calendar feed",
        Some(&session),
        html! {
            h1 { "Calendar feed" }
            p { "Subscribe to this address in your calendar app (" em { "add calendar from URL" }
                "). It shows " (repositories.len()) " repositor"
                (if repositories.len() == 1 { "y" } else { "ies" })
                ": scheduled cuts, freeze windows and releases. It is shown only now; anyone \
                 with it can read the calendar until you revoke it on " a href="/" { "the home page" } "." }
            p.box { code #feed-url { (url) } }
        },
    )
}

/// A revocation's form.
#[derive(Debug, Deserialize)]
pub struct Revoke {
    csrf: String,
}

/// `POST /calendar/feeds/{id}/revoke`: the maker's own feeds only.
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<Revoke>,
) -> Response {
    let Some(session) = session(&state, &headers).await else {
        return see_other("/");
    };
    if !genuine(&state, &headers, &session, &form.csrf) {
        return forged(&session);
    }
    let now = state.queue.clock().now().as_millisecond();
    match calendar_feeds::revoke(&state.db, id, session.github_id, now).await {
        Ok(true) => see_other("/"),
        Ok(false) => message(
            StatusCode::NOT_FOUND,
            "Not found",
            Some(&session),
            "No such calendar feed of yours.",
        ),
        Err(error) => unavailable(&error),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

fn signed_out() -> Response {
    plain(
        StatusCode::UNAUTHORIZED,
        "Sign in, or open the address of a calendar feed (made on the dashboard).",
    )
}

fn unavailable(error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "calendar not made");
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "The store did not answer; try again.",
    )
}

/// The signed-in person's calendar feeds, each revocable, and a button for a new one.
pub(super) fn feeds_section(session: &Session, feeds: &[calendar_feeds::Feed]) -> Markup {
    html! {
    h2 id="calendar" { "Release calendar" }
    p.muted { "Scheduled cuts, freeze windows and releases: "
        a href="/calendar.ics" { "calendar.ics" } " while signed in, or a feed address a \
        calendar app can fetch." }
    @if !feeds.is_empty() {
        table.box {
            tr { th { "Feed" } th { "Repositories" } th { "Made" } th {} }
            @for feed in feeds {
                tr {
                    td { (feed.label) }
                    td { (feed.repositories().count()) }
                    td { (jiff::Timestamp::from_millisecond(feed.created_at).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default()) }
                    td { form method="post" action=(format!("/calendar/feeds/{}/revoke", feed.id)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Revoke" } } }
                }
            }
        }
    }
    form method="post" action="/calendar/feeds" {
        input type="hidden" name="csrf" value=(session.csrf);
        button type="submit" { "New feed of all my repositories" }
    }
    }
}
