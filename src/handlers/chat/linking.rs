//! Linking a chat user to a GitHub account: the signed, short-lived `state` of the sign-in
//! URL and what `/release link` answers.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::Asker;
use super::service::chat_surface;
use crate::chat::cards::Surface;
use crate::handlers::trains::TrainContext;
use crate::settings::Settings;

/// How long a link URL stays valid.
const LINK_STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// What a signed OAuth `state` binds: the chat surface, workspace and user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// `slack` or `discord`.
    pub surface: String,
    /// Team or guild id.
    pub workspace: String,
    /// Chat user id.
    pub user: String,
    /// Expiry (epoch ms).
    pub expires_at: i64,
}

fn state_mac(settings: &Settings) -> Option<hmac::Hmac<sha2::Sha256>> {
    let oauth = settings.github_oauth.as_ref()?;
    // A key of its own, derived from the client secret: the secret itself signs nothing else.
    let mut derive =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(oauth.client_secret.expose().as_bytes()).ok()?;
    derive.update(b"trainyard link state v1");
    let key = derive.finalize().into_bytes();
    hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).ok()
}

/// Signs a link state.
pub fn sign_link_state(settings: &Settings, state: &LinkState) -> Option<String> {
    let mut mac = state_mac(settings)?;
    let payload = serde_json::to_vec(state).ok()?;
    mac.update(&payload);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Some(format!(
        "{}.{}",
        engine.encode(&payload),
        engine.encode(mac.finalize().into_bytes())
    ))
}

/// Checks a link state's signature and expiry.
pub fn verify_link_state(settings: &Settings, text: &str, now: i64) -> Result<LinkState, String> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = text
        .split_once('.')
        .ok_or("the sign-in state is malformed")?;
    let payload = engine
        .decode(payload)
        .map_err(|_| "the sign-in state is malformed")?;
    let signature = engine
        .decode(signature)
        .map_err(|_| "the sign-in state is malformed")?;
    let mut mac = state_mac(settings).ok_or("linking is not configured")?;
    mac.update(&payload);
    mac.verify_slice(&signature)
        .map_err(|_| "the sign-in state was not made by this trainyard")?;
    let state: LinkState =
        serde_json::from_slice(&payload).map_err(|_| "the sign-in state is malformed")?;
    if state.expires_at < now {
        return Err("the link expired; ask for a new one with `/release link`".to_owned());
    }
    Ok(state)
}

pub(super) fn link_answer(ctx: &TrainContext, asker: &Asker, login: Option<&str>) -> String {
    let Some(surface) = chat_surface(asker.surface) else {
        return "GitHub comments need no link: you are your GitHub account.".to_owned();
    };
    let settings = &ctx.settings;
    let (Some(oauth), Some(public_url)) = (&settings.github_oauth, &settings.public_url) else {
        return "Linking is not set up on this trainyard (it needs TRAINYARD_GITHUB_CLIENT_ID, \
                TRAINYARD_GITHUB_CLIENT_SECRET and TRAINYARD_PUBLIC_URL)."
            .to_owned();
    };
    let state = LinkState {
        surface: surface.as_str().to_owned(),
        workspace: asker.workspace.clone(),
        user: asker.user.clone(),
        expires_at: ctx.now() + LINK_STATE_TTL_MS,
    };
    let Some(state) = sign_link_state(settings, &state) else {
        return "Linking is not set up on this trainyard.".to_owned();
    };
    let mut query = vec![
        ("client_id", oauth.client_id.clone()),
        ("redirect_uri", redirect_uri(public_url)),
        ("state", state),
        ("allow_signup", "false".to_owned()),
    ];
    if let Some(login) = login {
        query.push(("login", login.to_owned()));
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let url = format!("{}/login/oauth/authorize?{query}", settings.github_web_url);
    match asker.surface {
        Surface::Slack => format!(
            "<{url}|Sign in with GitHub> to link your account (the link works for 10 minutes)."
        ),
        _ => format!(
            "[Sign in with GitHub](<{url}>) to link your account (the link works for 10 minutes)."
        ),
    }
}

/// Where GitHub sends the user back.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/oauth/github/callback", public_url.trim_end_matches('/'))
}
