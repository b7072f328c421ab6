//! `GET /` and `GET /setup/callback`: registering the GitHub App from the browser with
//! GitHub's manifest flow. With no App configured, `/` offers a button that posts
//! `app-manifest.yml` (pointed at `TRAINYARD_PUBLIC_URL`) to GitHub; GitHub creates the App
//! and sends the browser back with a code, exchanged once for the App's credentials. They are
//! written to the settings file (mode 0600) — or, where it cannot be written, shown once for
//! the operator's secret store — and the server reloads its settings in place.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::github::manifest::manifest_for;
use crate::registration::{Refusal, SETUP_CODE_FILE, STATE_TTL, write_private};
use crate::settings::SetupPage;
use crate::state::AppState;
use crate::web::browser::SiteCookie;

/// The cookie binding a registration to the browser that started it.
const BROWSER_COOKIE: &str = "trainyard_setup";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page; `body` is trusted markup (every value in it escaped by the caller).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>trainyard — {title}</title><style>\
         body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2328}}\
         h1{{font-size:1.6rem}} button{{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #1f883d;\
         background:#1f883d;color:#fff;cursor:pointer}} input{{font:inherit;padding:.4rem}}\
         pre{{background:#f6f8fa;padding:1rem;overflow:auto}} .muted{{color:#59636e}}\
         </style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action https: http:",
        ),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// `?org=` fills in an organisation to register the App for.
#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    org: Option<String>,
}

/// Why the setup page is not offered, as a page; `None` when it is.
fn not_offered(state: &AppState) -> Option<Response> {
    let settings = &state.settings;
    if settings.github.is_some() {
        return Some(page(
            StatusCode::OK,
            "trainyard is running",
            "<p>The GitHub App is configured. Install it on the repositories whose releases \
             it should run (the App's page on GitHub → Install), and check the whole setup with \
             <code>trainyard doctor</code>.</p>",
        ));
    }
    if settings.setup == SetupPage::Off {
        return Some(page(
            StatusCode::OK,
            "Set up trainyard",
            "<p>Registering the GitHub App from this page is turned off \
             (<code>TRAINYARD_SETUP=off</code>). Set the App's id, private key and webhook \
             secret as settings, then restart.</p>",
        ));
    }
    if settings.public_url.is_none() {
        return Some(page(
            StatusCode::OK,
            "Set up trainyard",
            "<p>First set <code>TRAINYARD_PUBLIC_URL</code> to the address GitHub reaches this \
             server at (for example <code>https://trainyard.example.com</code>), then open this \
             page again.</p>",
        ));
    }
    if !state.setup.has_code() {
        return Some(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Set up trainyard",
            "<p>No setup code is waiting: this server did not make one when it started. \
             Restart it to get one.</p>",
        ));
    }
    None
}

/// The organisation given, if it is one GitHub could have; `Err` (the page saying so) for
/// one it could not.
fn organisation(given: Option<&str>) -> Result<Option<&str>, Box<Response>> {
    match given.map(str::trim).filter(|org| !org.is_empty()) {
        Some(org)
            if !(org.len() <= 39
                && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) =>
        {
            Err(Box::new(page(
                StatusCode::BAD_REQUEST,
                "Set up trainyard",
                "<p>That is not a GitHub organisation name.</p>",
            )))
        }
        org => Ok(org),
    }
}

/// The form asking for the setup code.
fn code_form(org: Option<&str>, wrong: bool) -> String {
    format!(
        "{}<p>To register trainyard's GitHub App, enter the setup code trainyard printed in its \
         log when it started (it is also in the file <code>{SETUP_CODE_FILE}</code> beside its \
         settings). Only whoever runs this server has it.</p>\
         <form method=\"post\" action=\"/setup\">\
         <p><label>Setup code <input name=\"code\" size=\"30\" autocomplete=\"off\" required \
         placeholder=\"XXXX-XXXX-XXXX-XXXX-XXXX\"></label></p>\
         <p class=\"muted\"><label>Organisation (leave empty for your own account) \
         <input name=\"org\" value=\"{}\"></label></p>\
         <button type=\"submit\">Continue</button></form>",
        if wrong {
            "<p><strong>That is not the setup code.</strong></p>"
        } else {
            ""
        },
        escape(org.unwrap_or_default()),
    )
}

/// `GET /`: asks for the setup code.
pub async fn home(State(state): State<AppState>, Query(query): Query<HomeQuery>) -> Response {
    if let Some(page) = not_offered(&state) {
        return page;
    }
    let org = match organisation(query.org.as_deref()) {
        Ok(org) => org,
        Err(page) => return *page,
    };
    page(StatusCode::OK, "Set up trainyard", &code_form(org, false))
}

/// The setup code, and the organisation to register the App for.
#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    org: Option<String>,
}

/// `POST /setup`: with the setup code, the registration form posting the manifest to GitHub,
/// its state bound to this browser by a cookie and to the code.
pub async fn start(State(state): State<AppState>, Form(form): Form<SetupForm>) -> Response {
    if let Some(page) = not_offered(&state) {
        return page;
    }
    let settings = &state.settings;
    let Some(public_url) = &settings.public_url else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let org = match organisation(form.org.as_deref()) {
        Ok(org) => org,
        Err(page) => return *page,
    };
    let Some(code) = state.setup.is_code(&form.code) else {
        tracing::warn!("setup: a wrong setup code was given");
        return page(
            StatusCode::FORBIDDEN,
            "Set up trainyard",
            &code_form(org, true),
        );
    };
    let manifest = match manifest_for(public_url, None) {
        Ok(manifest) => manifest,
        Err(error) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Set up trainyard",
                &format!("<p>{}</p>", escape(&error.to_string())),
            );
        }
    };
    let browser = format!("{:032x}", rand::random::<u128>());
    let setup_state = state.setup.issue(&browser, code);
    let web = settings.github_web_url.trim_end_matches('/');
    let action = match org {
        Some(org) => format!("{web}/organizations/{org}/settings/apps/new?state={setup_state}"),
        None => format!("{web}/settings/apps/new?state={setup_state}"),
    };
    let owner = org.map_or_else(
        || "your account".to_owned(),
        |org| format!("the organisation <strong>{}</strong>", escape(org)),
    );
    let body = format!(
        "<p>Register trainyard's GitHub App for {owner}. GitHub shows what it asks for \
         (from <code>app-manifest.yml</code>) before creating it; its webhooks will go to \
         <code>{hook}</code>.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
         <button type=\"submit\">Register the GitHub App</button></form>",
        hook = escape(&format!(
            "{}/webhooks/github",
            public_url.trim_end_matches('/')
        )),
        action = escape(&action),
        manifest = escape(&manifest.to_string()),
    );
    let mut response = page(StatusCode::OK, "Set up trainyard", &body);
    let cookie = SiteCookie::new(Some(public_url), BROWSER_COOKIE);
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie.set(&browser, STATE_TTL.as_secs() as i64),
    );
    response
}

/// GitHub's answer to the manifest flow.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Conversion {
    id: u64,
    slug: Option<String>,
    html_url: Option<String>,
    client_id: String,
    client_secret: String,
    webhook_secret: Option<String>,
    pem: String,
}

/// `GET /setup/callback`.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let settings = &state.settings;
    if settings.github.is_some() {
        return page(
            StatusCode::CONFLICT,
            "Already set up",
            "<p>This trainyard already has a GitHub App; nothing was changed.</p>",
        );
    }
    let (Some(code), Some(setup_state)) = (query.code, query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not set up",
            "<p>GitHub's answer is incomplete; start again from <a href=\"/\">the setup page</a>.</p>",
        );
    };
    if settings.setup == SetupPage::Off {
        return page(
            StatusCode::NOT_FOUND,
            "Not set up",
            "<p>Registering the GitHub App from the browser is turned off.</p>",
        );
    }
    if code.is_empty()
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Not set up",
            "<p>Malformed code.</p>",
        );
    }
    let browser = SiteCookie::new(settings.public_url.as_deref(), BROWSER_COOKIE);
    let claim = match state.setup.claim(&setup_state, browser.read(&headers)) {
        Ok(claim) => claim,
        Err(refusal) => {
            let (status, text) = match refusal {
                Refusal::UnknownState => (
                    StatusCode::BAD_REQUEST,
                    "This registration was not started here, was used already, or is more \
                     than an hour old",
                ),
                Refusal::OtherBrowser => (
                    StatusCode::FORBIDDEN,
                    "This registration was started in another browser",
                ),
                Refusal::CodeSpent => (
                    StatusCode::FORBIDDEN,
                    "The setup code this registration was started with is no longer valid",
                ),
            };
            tracing::warn!(
                reason = text,
                "setup: a registration coming back was refused"
            );
            return page(
                status,
                "Not set up",
                &format!(
                    "<p>{text}; nothing was changed. Start again from <a href=\"/\">the setup page</a>.</p>"
                ),
            );
        }
    };
    let registered = register(&state, &code).await;
    state
        .setup
        .finish(claim, registered.status() == StatusCode::OK);
    registered
}

/// Exchanges GitHub's `code` for the new App's credentials and puts them to use.
async fn register(state: &AppState, code: &str) -> Response {
    let settings = &state.settings;
    // The code alone is the credential (valid one hour, once).
    crate::chat::install_tls_provider();
    let answer = crate::chat::http_client()
        .post(format!(
            "{}/app-manifests/{code}/conversions",
            settings.github_api_url.trim_end_matches('/')
        ))
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "trainyard")
        .send()
        .await;
    let conversion: Conversion = match answer {
        Ok(response) if response.status().is_success() => match response.json().await {
            Ok(conversion) => conversion,
            Err(_) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "Not set up",
                    "<p>GitHub answered something unexpected; start again.</p>",
                );
            }
        },
        Ok(response) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Not set up",
                &format!(
                    "<p>GitHub did not accept the code ({}); it works once, within an hour. \
                     <a href=\"/\">Start again</a>.</p>",
                    response.status()
                ),
            );
        }
        Err(_) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Not set up",
                "<p>GitHub could not be reached; start again in a moment.</p>",
            );
        }
    };
    let webhook_secret = conversion.webhook_secret.clone().unwrap_or_default();
    let values = [
        ("github_app_id", conversion.id.to_string()),
        ("github_client_id", conversion.client_id.clone()),
        ("github_client_secret", conversion.client_secret.clone()),
        ("github_webhook_secret", webhook_secret),
        ("github_private_key", conversion.pem.clone()),
    ];
    let name = conversion
        .slug
        .clone()
        .unwrap_or_else(|| "trainyard".into());
    let install = conversion
        .html_url
        .as_deref()
        .map(|url| format!("{}/installations/new", url.trim_end_matches('/')))
        .unwrap_or_else(|| format!("{}/apps/{name}/installations/new", settings.github_web_url));
    let next = format!(
        "<p>Next: <a href=\"{}\">install the App on your repositories</a>.</p>",
        escape(&install)
    );
    match &settings.settings_file {
        Some(file) => match write_settings(file, &values) {
            Ok(()) => {
                tracing::info!(app = %name, file = %file.display(), "GitHub App registered; reloading");
                // The response goes out first; the reload lets running requests finish.
                if let Some(reload) = state
                    .reload
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                {
                    let reload = reload.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        reload.cancel();
                    });
                }
                page(
                    StatusCode::OK,
                    "GitHub App registered",
                    &format!(
                        "<p>The App <strong>{}</strong> was created, and its credentials were \
                         written to <code>{}</code> (readable by this user only); trainyard \
                         is using them now.</p>{next}",
                        escape(&name),
                        escape(&file.display().to_string())
                    ),
                )
            }
            Err(error) => shown_once(&name, &values, &error.to_string(), &next),
        },
        None => shown_once(&name, &values, "no settings file is in use", &next),
    }
}

/// The credentials, shown this once, for an operator who keeps settings elsewhere.
fn shown_once(name: &str, values: &[(&str, String)], why: &str, next: &str) -> Response {
    let lines: String = values
        .iter()
        .map(|(key, value)| {
            format!(
                "TRAINYARD_{}={}\n",
                key.to_ascii_uppercase(),
                escape(&value.replace('\n', "\\n"))
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "GitHub App registered",
        &format!(
            "<p>The App <strong>{}</strong> was created, but its credentials could not be \
             written ({}). Put these into your secret store now — they are not shown again — \
             and restart (or send SIGHUP to) trainyard:</p><pre>{lines}</pre>{next}",
            escape(name),
            escape(why)
        ),
    )
}

/// Adds `values` to the TOML settings file (created with mode 0600; other keys kept).
fn write_settings(file: &std::path::Path, values: &[(&str, String)]) -> std::io::Result<()> {
    let mut table: toml::Table = match std::fs::read_to_string(file) {
        Ok(text) => text
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(error) => return Err(error),
    };
    for (key, value) in values {
        // The App id is a number in the settings; everything else is text.
        let value = match (*key, value.parse::<i64>()) {
            ("github_app_id", Ok(id)) => toml::Value::Integer(id),
            _ => toml::Value::String(value.clone()),
        };
        table.insert((*key).to_owned(), value);
    }
    let text = toml::to_string(&table)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let temporary = file.with_extension("toml.new");
    write_private(&temporary, &text)?;
    std::fs::rename(&temporary, file)
}
