//! The dashboard: sign in with GitHub (the App's OAuth), then the repositories you can read
//! → their lines and live trains (with Cut / Approve / Reject for those allowed), the
//! deployments per environment and their locks, release health with small server-drawn
//! charts, and the audit trail. Server-rendered with maud, usable without JavaScript.
//!
//! Who may see a repository is asked of GitHub (the collaborator permission, cached
//! briefly); actions go through the same command path and checks as chat, from forms that
//! carry the session's CSRF token, and only from this site (`Origin`).

pub mod api;
pub mod calendar;
pub mod command;
pub mod sign_in;
pub mod verification;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::health::{self, Health, Spread};
use crate::domain::ids::RepoFullName;
use crate::domain::permission::Permission;
use crate::domain::train::Approval;
use crate::domain::train::TrainState;
use crate::state::AppState;
use crate::store::deployments::{DeploymentRow, Lock};
use crate::store::gate_reviews::{self, GateReview};
use crate::store::trains::{PassengerRow, TrainRow};
use crate::store::web_sessions::{self, Session};
use crate::store::{audit, deployments, installations, trains};
use crate::web::browser::{SiteCookie, see_other};

const SESSION_COOKIE: &str = "trainyard_session";
const SIGNIN_COOKIE: &str = "trainyard_signin";
/// Commands one sign-in may send from the pages in a minute.
const COMMANDS_PER_MINUTE: i64 = 10;
/// How long a sign-in lasts.
const SESSION_HOURS: i64 = 8;

fn random_token() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// `Secure` when the site is served over HTTPS (a local http:// trial keeps working).
fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    site_cookie(state, name).set(value, max_age)
}

/// The dashboard's cookie `name` (`__Host-` and `Secure` on an https site).
fn site_cookie(state: &AppState, name: &str) -> SiteCookie {
    SiteCookie::new(state.settings.public_url.as_deref(), name)
}

/// A whole page: the site's look, no scripts.
fn layout(title: &str, signed_in: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) " · trainyard" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/" { "trainyard" }
                    @if let Some(session) = signed_in {
                        form.signout method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            span.muted { "signed in as " strong { (session.login) } }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

const STYLE: &str = "\
body{font:15px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;\
color:#1f2328;background:#f6f8fa;margin:0}\
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1.5rem;\
background:#24292f;color:#fff}header a.brand{color:#fff;font-weight:600;text-decoration:none}\
header .muted{color:#d0d7de}header strong{color:#fff}\
main{max-width:64rem;margin:1.5rem auto;padding:0 1.5rem}\
h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.6rem 0 .6rem;\
border-bottom:1px solid #d0d7de;padding-bottom:.3rem}\
.box{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1rem;\
margin-bottom:.8rem}.state{display:inline-block;border-radius:2em;padding:0 .6em;\
font-size:.8rem;font-weight:600;border:1px solid}.open{color:#1a7f37}.frozen{color:#9a6700}\
.approved{color:#0969da}.blocked{color:#cf222e}.muted{color:#59636e}.gate.waiting strong{color:#9a6700}.gate.rejected strong{color:#cf222e}.gate.approved strong{color:#1a7f37}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;\
border-bottom:1px solid #eaeef2;vertical-align:top}th{font-weight:600;color:#59636e;\
font-size:.85rem}button{font:inherit;padding:.25rem .8rem;border-radius:6px;\
border:1px solid #d0d7de;background:#f6f8fa;cursor:pointer}button.primary{background:#1f883d;\
color:#fff;border-color:#1a7f37}button.danger{color:#cf222e}\
form.inline{display:inline}input[type=text]{font:inherit;padding:.2rem .4rem;\
border:1px solid #d0d7de;border-radius:6px}.grid{display:grid;\
grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.8rem}\
.figure{font-size:1.3rem;font-weight:600}.flash{background:#ddf4ff;border-color:#54aeff}.failed{color:#cf222e}.verified{color:#1a7f37}\
ul.prs{margin:.3rem 0;padding-left:1.2rem}svg{display:block}\
form.signout{margin:0}form.signout button{padding:.1rem .6rem}\
";

fn page(status: StatusCode, title: &str, session: Option<&Session>, body: Markup) -> Response {
    let mut response = (status, layout(title, session, body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn message(status: StatusCode, title: &str, session: Option<&Session>, text: &str) -> Response {
    page(
        status,
        title,
        session,
        html! { h1 { (title) } p { (text) } },
    )
}

/// The signed-in session of this request, if any.
async fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let token = site_cookie(state, SESSION_COOKIE).read(headers)?;
    web_sessions::get(&state.db, token, state.queue.clock().now().as_millisecond())
        .await
        .ok()
        .flatten()
}

/// `GET /`: the setup page while there is no App; the sign-in page, then the repositories.
pub async fn home(
    state: State<AppState>,
    query: Query<super::setup::HomeQuery>,
    headers: HeaderMap,
) -> Response {
    if state.settings.github.is_none() || state.settings.github_oauth.is_none() {
        return super::setup::home(state, query).await;
    }
    let Some(session) = session(&state, &headers).await else {
        let installed = installations::list(&state.db)
            .await
            .map(|list| !list.is_empty())
            .unwrap_or(true);
        return page(
            StatusCode::OK,
            "Sign in",
            None,
            html! {
                h1 { "Release trains, deployments and their health" }
                @if !installed {
                    p.box.flash {
                        "The GitHub App is configured but not installed on any repository yet: \
                         install it from the App's page on GitHub (Install App), then check the \
                         whole setup with " code { "trainyard doctor" } "."
                    }
                }
                p { "Sign in with GitHub to see the repositories you can read." }
                form method="get" action="/signin" {
                    button.primary type="submit" { "Sign in with GitHub" }
                }
            },
        );
    };
    let repositories = match readable_repositories(&state, &session).await {
        Ok(repositories) => repositories,
        Err(reason) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Repositories",
                Some(&session),
                &reason,
            );
        }
    };
    let mut rows = Vec::new();
    for repo in &repositories {
        let live = trains::in_states(
            &state.db,
            repo,
            &[
                TrainState::Open,
                TrainState::Frozen,
                TrainState::Approved,
                TrainState::Blocked,
            ],
        )
        .await
        .unwrap_or_default();
        rows.push((repo.clone(), live));
    }
    let feeds = crate::store::calendar_feeds::of(&state.db, session.github_id)
        .await
        .unwrap_or_default();
    page(
        StatusCode::OK,
        "Repositories",
        Some(&session),
        html! {
            h1 { "Repositories" }
            @if rows.is_empty() {
                p.muted { "None of the repositories trainyard is installed on is readable by you." }
            }
            table.box {
                tr { th { "Repository" } th { "Live trains" } }
                @for (repo, live) in &rows {
                    tr {
                        td { a href=(format!("/repos/{repo}")) { (repo) } }
                        td {
                            @for train in live {
                                span class=(format!("state {}", train.state)) { (train.state) }
                                " " (train.line) " "
                                span.muted { (train.version.as_deref().unwrap_or("next")) }
                                " "
                            }
                        }
                    }
                }
            }
            (calendar::feeds_section(&session, &feeds))
        },
    )
}

/// The installed repositories `session`'s user could read when signing in, in name order:
/// from the store, asking GitHub nothing (their own token listed them at sign-in).
async fn readable_repositories(
    state: &AppState,
    session: &Session,
) -> Result<Vec<RepoFullName>, String> {
    let mut readable = Vec::new();
    for installation in installations::list(&state.db)
        .await
        .map_err(|e| e.to_string())?
    {
        let Ok(installation_id) = u64::try_from(installation.id) else {
            continue;
        };
        for name in installations::repositories(&state.db, installation_id)
            .await
            .map_err(|e| e.to_string())?
        {
            if let Ok(repo) = RepoFullName::parse(&name)
                && session.can_read(repo.as_ref())
            {
                readable.push(repo);
            }
        }
    }
    readable.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    Ok(readable)
}

/// The signed-in reader of `owner/name`, or the page saying why not.
async fn reader(
    state: &AppState,
    headers: &HeaderMap,
    owner: &str,
    name: &str,
) -> Result<(Session, RepoFullName, u64, Permission), Box<Response>> {
    let Some(session) = session(state, headers).await else {
        return Err(Box::new(see_other("/")));
    };
    let not_found = || {
        Box::new(message(
            StatusCode::NOT_FOUND,
            "Not found",
            None,
            "No such repository, or not one you can read.",
        ))
    };
    let repo = RepoFullName::parse(&format!("{owner}/{name}")).map_err(|_| not_found())?;
    // Only what the user could read at sign-in is asked about at all.
    if !session.can_read(repo.as_ref()) {
        return Err(not_found());
    }
    let installation = installations::for_repository(&state.db, &repo)
        .await
        .ok()
        .flatten()
        .ok_or_else(not_found)?;
    let ctx = state.train_context();
    let github = ctx.github().map_err(|_| not_found())?;
    let permission = github
        .collaborator_permission(installation, &repo, &session.login)
        .await
        .map_err(|_| {
            Box::new(message(
                StatusCode::BAD_GATEWAY,
                "Unavailable",
                None,
                "GitHub could not say whether you may read this repository; try again.",
            ))
        })?;
    if permission < Permission::Read {
        return Err(not_found());
    }
    Ok((session, repo, installation, permission))
}

/// `GET /repos/{owner}/{name}`: with the outcome of the session's last form, shown once
/// (kept server-side: nothing a link carries is shown as the site's word).
pub async fn repository(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (session, repo, _, permission) = match reader(&state, &headers, &owner, &name).await {
        Ok(reader) => reader,
        Err(page) => return *page,
    };
    let flash = match site_cookie(&state, SESSION_COOKIE).read(&headers) {
        Some(token) => web_sessions::take_flash(&state.db, token)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    match repository_page(&state, &session, &repo, permission, flash.as_deref()).await {
        Ok(markup) => page(StatusCode::OK, repo.as_ref(), Some(&session), markup),
        Err(error) => {
            tracing::error!(%error, "repository page not rendered");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                repo.as_ref(),
                Some(&session),
                "The store did not answer; try again in a moment.",
            )
        }
    }
}

/// The repository page's content.
pub async fn repository_page(
    state: &AppState,
    session: &Session,
    repo: &RepoFullName,
    permission: Permission,
    done: Option<&str>,
) -> Result<Markup, crate::store::StoreError> {
    let now = state.queue.clock().now().as_millisecond();
    let live = trains::in_states(
        &state.db,
        repo,
        &[
            TrainState::Open,
            TrainState::Frozen,
            TrainState::Approved,
            TrainState::Blocked,
        ],
    )
    .await?;
    let mut trains_shown = Vec::new();
    for train in &live {
        let passengers = trains::passengers(&state.db, train.id).await?;
        let approvals = trains::approvals(&state.db, train.id).await?;
        let gate = gate_reviews::of_train(&state.db, repo.as_ref(), train.id).await?;
        trains_shown.push(ShownTrain {
            train,
            passengers,
            approvals,
            gate,
        });
    }
    // The desk: trains that need someone (cut and awaiting approval, blocked, a deployment
    // the gate holds) before the open one.
    trains_shown.sort_by_key(|shown| (!shown.needs_someone(), std::cmp::Reverse(shown.train.id)));
    let gate = gate_reviews::recent(&state.db, repo.as_ref(), 10).await?;
    let mut environments = Vec::new();
    for environment in deployments::environments(&state.db, repo.as_ref()).await? {
        let last = deployments::history(&state.db, repo.as_ref(), &environment, 1).await?;
        environments.push((environment, last.into_iter().next()));
    }
    let locks = deployments::locks(&state.db, repo.as_ref()).await?;
    let bakes_shown = verification::latest_bakes(state, repo, &environments).await?;
    let history = crate::handlers::chat::release_history(&state.train_context(), repo).await?;
    let health = health::compute(&history, now, 30);
    let weeks = weekly(&history, now, 12);
    let trail = audit::recent(
        &state.db,
        &audit::Query {
            repository: Some(repo.to_string()),
            since: None,
            limit: 20,
        },
    )
    .await?;
    let may_act = permission >= Permission::Write;
    let links = Links {
        web: state
            .settings
            .github_web_url
            .trim_end_matches('/')
            .to_owned(),
        repo: repo.clone(),
    };
    Ok(html! {
        h1 { (repo) }
        @if let Some(done) = done {
            div.box.flash { (done) }
        }
        (trains_section(&links, session, &trains_shown, may_act))
        (deployments_section(&links, &environments, &locks))
        (verification::bakes_section(&bakes_shown, now))
        (gate_section(&links, &gate))
        (health_section(&health, &weeks))
        (audit_section(&trail))
        h2 { "Release calendar" }
        form method="post" action="/calendar/feeds" {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="repo" value=(repo.as_ref());
            a href=(format!("/calendar.ics?repo={repo}")) { "calendar.ics" }
            " — cuts, freezes and releases of this repository. "
            button type="submit" { "New calendar feed" }
        }
    })
}

/// A live train with its passengers, approvals and the gate's answers about its release.
struct ShownTrain<'t> {
    train: &'t TrainRow,
    passengers: Vec<PassengerRow>,
    approvals: Vec<Approval>,
    gate: Vec<GateReview>,
}

impl ShownTrain<'_> {
    /// Cut and waiting for approval or publishing, blocked, or holding a deployment at the
    /// gate: someone has to act.
    fn needs_someone(&self) -> bool {
        matches!(
            self.train.state(),
            TrainState::Frozen | TrainState::Approved | TrainState::Blocked
        ) || self.gate.iter().any(|r| r.state == "waiting")
    }
}

/// GitHub's pages of one repository.
struct Links {
    web: String,
    repo: RepoFullName,
}

impl Links {
    fn pull(&self, number: i64) -> String {
        format!("{}/{}/pull/{number}", self.web, self.repo)
    }
    fn commit(&self, sha: &str) -> String {
        format!("{}/{}/commit/{sha}", self.web, self.repo)
    }
    fn release(&self, tag: &str) -> String {
        crate::handlers::kit::links::release_page(&self.web, &self.repo, tag)
    }
    fn drafts(&self) -> String {
        format!("{}/{}/releases", self.web, self.repo)
    }
    fn run(&self, run_id: i64) -> String {
        format!("{}/{}/actions/runs/{run_id}", self.web, self.repo)
    }
}

fn short(sha: &str) -> &str {
    crate::domain::gate::short(sha)
}

/// The live trains, those that need someone first, with Cut / Approve / Reject for those who
/// may act; every pull request, release, commit and workflow run linked to GitHub.
fn trains_section(
    links: &Links,
    session: &Session,
    trains_shown: &[ShownTrain<'_>],
    may_act: bool,
) -> Markup {
    let repo = &links.repo;
    html! {
    h2 { "Trains" }
    @if trains_shown.is_empty() {
        p.muted { "No live train: nothing has boarded since the last release." }
    }
    @for shown in trains_shown {
        @let (train, passengers, approvals) = (shown.train, &shown.passengers, &shown.approvals);
        div.box.train data-needs=(shown.needs_someone()) {
            span class=(format!("state {}", train.state)) { (train.state) }
            " " strong { (train.line) } " "
            @match &train.tag_name {
                Some(tag) => a href=(links.drafts()) { (tag) },
                None => (train.version.as_deref().unwrap_or("next version")),
            }
            @if let Some(sha) = &train.target_sha {
                span.muted { " at " a href=(links.commit(sha)) { code { (short(sha)) } } }
            }
            @if let Some(by) = &train.cut_by { span.muted { " · cut by " (by) } }
            @if !approvals.is_empty() {
                span.muted { " · approved by "
                    (approvals.iter().map(|a| a.login.as_str()).collect::<Vec<_>>().join(", ")) }
            }
            @if let Some(reason) = &train.blocked_reason { p.blocked { "Blocked: " (reason) } }
            ul.prs {
                @for pr in passengers {
                    li { a href=(links.pull(pr.number)) { "#" (pr.number) } " " (pr.title)
                        @if let Some(author) = &pr.author { span.muted { " — " (author) } } }
                }
            }
            @if passengers.is_empty() { p.muted { "No pull request on board yet." } }
            @if !shown.gate.is_empty() {
                ul.gate {
                    @for review in &shown.gate {
                        li class=(format!("gate {}", review.state)) {
                            "Workflow run " a href=(links.run(review.run_id)) { (review.run_id) }
                            " → " (review.environment) ": "
                            strong { (if review.state == "waiting" { "waits" } else { review.state.as_str() }) }
                            " — " (review.reason.as_deref().unwrap_or_default())
                        }
                    }
                }
            }
            @if may_act {
                @match train.state() {
                    // An empty train cannot be cut: no button to be refused by.
                    TrainState::Open if !passengers.is_empty() => {
                        (action_form(repo, session, "cut", train.id, &train.line, "Cut", "primary", false))
                    }
                    TrainState::Frozen => {
                        (action_form(repo, session, "approve", train.id, &train.line, "Approve", "primary", false))
                        " "
                        (action_form(repo, session, "reject", train.id, &train.line, "Reject", "danger", true))
                    }
                    _ => {}
                }
            }
        }
    }
    }
}

/// Each environment's last deployment (linked to its release and its page) and its lock.
fn deployments_section(
    links: &Links,
    environments: &[(String, Option<DeploymentRow>)],
    locks: &[Lock],
) -> Markup {
    html! {
    h2 { "Deployments" }
    @if environments.is_empty() { p.muted { "No deployment recorded." } }
    @else {
        table.box {
            tr { th { "Environment" } th { "Last deployment" } th { "State" } th { "Lock" } }
            @for (environment, last) in environments {
                tr {
                    td { (environment) }
                    td { @if let Some(d) = last {
                        a href=(links.release(&d.ref_name)) { (d.ref_name) }
                        @if let Some(sha) = &d.sha {
                            " " a href=(links.commit(sha)) { code { (short(sha)) } }
                        }
                        span.muted { " by " (d.requested_by) } } }
                    td { @if let Some(d) = last {
                        @match &d.url {
                            Some(url) if url.starts_with("https://") => a href=(url) { (d.state) },
                            _ => (d.state),
                        }
                    } }
                    td { @if let Some(lock) = locks.iter().find(|l| &l.environment == environment) {
                        "🔒 " (lock.owner) ": " (lock.reason) } }
                }
            }
        }
    }
    }
}

/// The release gate's latest answers to workflow runs.
fn gate_section(links: &Links, reviews: &[GateReview]) -> Markup {
    html! {
    @if !reviews.is_empty() {
        h2 { "Release gate" }
        table.box {
            tr { th { "Workflow run" } th { "Environment" } th { "Commit" } th { "Answer" } th { "Started by" } }
            @for review in reviews {
                tr class=(format!("gate {}", review.state)) {
                    td { a href=(links.run(review.run_id)) { (review.run_id) } }
                    td { (review.environment) }
                    td { a href=(links.commit(&review.sha)) { code { (short(&review.sha)) } } }
                    td { strong { (if review.state == "waiting" { "waits" } else { review.state.as_str() }) }
                        " — " (review.reason.as_deref().unwrap_or_default()) }
                    td { (review.requested_by) }
                }
            }
        }
    }
    }
}

/// The figures of the last 30 days and their weekly charts.
fn health_section(health: &Health, weeks: &[Week]) -> Markup {
    html! {
    h2 id="health" { "Health, last 30 days" }
    (health_figures(health))
    div.grid {
        div.box { strong { "Lead time to release (median, hours), by week" }
            (chart(&weeks.iter().map(|w| w.lead_time_hours).collect::<Vec<_>>(), "#0969da")) }
        div.box { strong { "Releases or deployments, by week" }
            (chart(&weeks.iter().map(|w| Some(w.count)).collect::<Vec<_>>(), "#1a7f37")) }
        div.box { strong { "Change failure rate (%), by week" }
            (chart(&weeks.iter().map(|w| w.failure_percent).collect::<Vec<_>>(), "#cf222e")) }
    }
    details.box {
        summary { "What the figures mean" }
        dl { @for (name, meaning) in health::DEFINITIONS { dt { strong { (name) } } dd { (meaning) } } }
    }
    }
}

/// The repository's last twenty audit records.
fn audit_section(trail: &[audit::Record]) -> Markup {
    html! {
    h2 { "Audit trail" }
    table.box {
        tr { th { "When" } th { "Who" } th { "What" } th { "Outcome" } }
        @for record in trail {
            tr {
                td.muted { (jiff::Timestamp::from_millisecond(record.at).map(|t| t.strftime("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) }
                td { (record.actor_login) span.muted { " (" (record.surface) ")" } }
                td { (record.action) @if !record.detail.is_empty() { br; span.muted { (record.detail) } } }
                td { (record.outcome) }
            }
        }
    }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one form: its target and its look"
)]
fn action_form(
    repo: &RepoFullName,
    session: &Session,
    command: &str,
    train_id: i64,
    line: &str,
    label: &str,
    class: &str,
    with_reason: bool,
) -> Markup {
    html! {
        form.inline method="post" action=(format!("/repos/{repo}/commands")) {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="command" value=(command);
            input type="hidden" name="train" value=(train_id);
            input type="hidden" name="line" value=(line);
            @if with_reason {
                input type="text" name="reason" placeholder="why" required;
                " "
            }
            button class=(class) type="submit" { (label) }
        }
    }
}

fn spread(x: &Spread) -> String {
    match (x.median_secs, x.p90_secs) {
        (Some(median), Some(p90)) => {
            format!("{} (p90 {})", health::human(median), health::human(p90))
        }
        _ => "–".to_owned(),
    }
}

fn health_figures(h: &Health) -> Markup {
    let frequency = match h.basis {
        health::Basis::Deployments => format!("{:.1} deployments / week", h.per_week),
        health::Basis::Releases => format!("{:.1} releases / week", h.per_week),
    };
    let failure = h
        .change_failure_rate
        .fraction()
        .map_or("–".to_owned(), |f| format!("{:.0}%", f * 100.0));
    let bakes = format!("{} of {}", h.bake_failures.failed, h.bake_failures.total);
    html! {
        div.grid {
            div.box { div.muted { "Lead time to release" } div.figure { (spread(&h.lead_time_to_release)) } }
            div.box { div.muted { "Lead time to production" } div.figure { (spread(&h.lead_time_to_production)) } }
            div.box { div.muted { "Frequency" } div.figure { (frequency) } }
            div.box { div.muted { "Change failure rate" } div.figure { (failure) } }
            div.box { div.muted { "Time to restore" } div.figure { (spread(&h.time_to_restore)) } }
            div.box { div.muted { "Failed bakes" } div.figure { (bakes) }
                div.muted { "restored by rollback in " (spread(&h.bake_restore)) } }
            div.box { div.muted { "Trains" } div.figure { (h.releases) " released" }
                div.muted { "cut → release " (spread(&h.cut_to_release)) ", " (h.rejected_cuts) " rejected cuts" } }
        }
    }
}

/// One week's figures for the charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Week {
    /// Median lead time to release, in hours.
    pub lead_time_hours: Option<f64>,
    /// Releases (or production deployments) that week.
    pub count: f64,
    /// Change failure rate, in percent.
    pub failure_percent: Option<f64>,
}

/// The last `weeks` weeks, oldest first.
pub fn weekly(history: &health::History, now: i64, weeks: i64) -> Vec<Week> {
    const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
    (0..weeks)
        .rev()
        .map(|back| {
            let h = health::compute(history, now - back * WEEK_MS, 7);
            Week {
                lead_time_hours: h
                    .lead_time_to_release
                    .median_secs
                    .map(|s| s as f64 / 3600.0),
                count: match h.basis {
                    health::Basis::Deployments => h.production_deployments as f64,
                    health::Basis::Releases => h.releases as f64,
                },
                failure_percent: h.change_failure_rate.fraction().map(|f| f * 100.0),
            }
        })
        .collect()
}

/// A small bar chart drawn on the server: one bar per value, empty weeks left blank.
pub fn chart(values: &[Option<f64>], colour: &str) -> Markup {
    let (width, height) = (240.0_f64, 64.0_f64);
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let slot = width / values.len().max(1) as f64;
    let label = values
        .iter()
        .map(|v| v.map_or("none".to_owned(), |v| format!("{v:.1}")))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg width=(width) height=(height + 14.0) viewBox=(format!("0 0 {width} {}", height + 14.0))
            role="img" aria-label=(format!("by week, oldest first: {label}")) {
            line x1="0" y1=(height) x2=(width) y2=(height) stroke="#d0d7de" {}
            @for (i, value) in values.iter().enumerate() {
                @if let Some(value) = value {
                    @let h = if max > 0.0 { (value / max * (height - 4.0)).max(1.0) } else { 1.0 };
                    rect x=(format!("{:.1}", i as f64 * slot + 2.0)) y=(format!("{:.1}", height - h))
                        width=(format!("{:.1}", (slot - 4.0).max(1.0))) height=(format!("{h:.1}"))
                        fill=(colour) { title { (format!("{value:.1}")) } }
                }
            }
            text x="0" y=(height + 12.0) font-size="10" fill="#59636e" { "12 weeks ago" }
            text x=(width) y=(height + 12.0) font-size="10" fill="#59636e" text-anchor="end" { "this week" }
        }
    }
}
