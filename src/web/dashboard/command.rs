//! A command from the dashboard's form: Cut, Approve or Reject, into the one command intake.

use super::sign_in::{forged, genuine};
use super::{COMMANDS_PER_MINUTE, SESSION_COOKIE, message, random_token, reader, site_cookie};
use crate::domain::train::TrainCommand;
use crate::handlers::commands::intake::{self, Door};
use crate::handlers::kit::command::RunTrainCommand;
use crate::state::AppState;
use crate::store::trains;
use crate::store::web_sessions::Session;
use crate::store::web_sessions::{self};
use crate::web::browser::see_other;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

/// A command from the page.
#[derive(Debug, Deserialize)]
pub struct CommandForm {
    csrf: String,
    command: String,
    train: i64,
    line: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /repos/{owner}/{name}/commands`: Cut, Approve or Reject, through the command path
/// (the same permission checks as chat), recorded and enqueued; the page says so.
pub async fn command(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CommandForm>,
) -> Response {
    let (session, repo, installation, _) = match reader(&state, &headers, &owner, &name).await {
        Ok(reader) => reader,
        Err(page) => return *page,
    };
    if !genuine(&state, &headers, &session, &form.csrf) {
        return forged(&session);
    }
    let Some(token) = site_cookie(&state, SESSION_COOKIE).read(&headers) else {
        return see_other("/");
    };
    if let Some(refused) = too_fast(&state, token, &session).await {
        return refused;
    }
    // The train is looked up within this page's repository, after the permission check:
    // a train id of another repository names nothing here.
    let train = trains::get(&state.db, form.train).await.ok().flatten();
    if !train.is_some_and(|t| t.repository.eq_ignore_ascii_case(repo.as_ref())) {
        return message(
            StatusCode::NOT_FOUND,
            "Not found",
            Some(&session),
            "No such train in this repository.",
        );
    }
    let command = match train_command(&form) {
        Ok(command) => command,
        Err((status, text)) => return message(status, "Refused", Some(&session), text),
    };
    let verb = form.command.clone();
    let job = RunTrainCommand {
        repository: repo.clone(),
        installation,
        line: Some(form.line.clone()),
        actor: session.login.clone(),
        actor_id: Some(session.github_id),
        command,
        command_id: format!("web:{}", random_token()),
        by_schedule: false,
        reply_to: None,
        train_id: Some(form.train),
        expect_version: None,
    };
    let submitted = intake::submit(&state.train_context(), Door::Web, &job).await;
    if let Err(error) = submitted {
        tracing::error!(%error, "web command not enqueued");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            Some(&session),
            "trainyard cannot take the command now; try again in a moment.",
        );
    }
    let done = format!(
        "{verb} asked for the {} train; its outcome shows here and in the audit trail once \
         it is decided.",
        form.line
    );
    if let Err(error) = web_sessions::set_flash(&state.db, token, &done).await {
        tracing::warn!(%error, "the command's flash was not kept");
    }
    see_other(&format!("/repos/{repo}"))
}

/// At most [`COMMANDS_PER_MINUTE`] commands a minute from one sign-in: the page that says
/// so, when this one is one too many (or cannot be counted).
async fn too_fast(state: &AppState, token: &str, session: &Session) -> Option<Response> {
    let now = state.queue.clock().now().as_millisecond();
    match web_sessions::count_command(&state.db, token, COMMANDS_PER_MINUTE, now).await {
        Ok(true) => None,
        Ok(false) => Some(message(
            StatusCode::TOO_MANY_REQUESTS,
            "Slow down",
            Some(session),
            &format!(
                "At most {COMMANDS_PER_MINUTE} commands a minute from one sign-in; try again \
                     in a minute."
            ),
        )),
        Err(error) => {
            tracing::error!(%error, "web command not counted");
            Some(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                Some(session),
                "trainyard cannot take the command now; try again in a moment.",
            ))
        }
    }
}

/// The command a form asks for; a rejection needs its reason.
fn train_command(form: &CommandForm) -> Result<TrainCommand, (StatusCode, &'static str)> {
    Ok(match form.command.as_str() {
        "cut" => TrainCommand::Cut,
        "approve" => TrainCommand::Approve,
        "reject" => match form
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(reason) => TrainCommand::Reject {
                reason: reason.chars().take(500).collect(),
            },
            None => {
                return Err((StatusCode::BAD_REQUEST, "A rejection needs a reason."));
            }
        },
        _ => {
            return Err((StatusCode::BAD_REQUEST, "Unknown command."));
        }
    })
}
