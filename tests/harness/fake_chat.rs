//! Slack's Web API and `response_url`s, and Discord's REST API, faked at the HTTP level (as
//! `fake_github.rs` fakes GitHub) so the real clients run: what each service received is
//! recorded, and the channels each knows are set up as a workspace and a guild have them.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// The Discord application trainyard runs as.
pub const DISCORD_APP: u64 = 99;
/// The Discord guild trainyard serves, and one it does not (Discord ids are snowflakes).
pub const GUILD_ID: &str = "811000000000000001";
pub const OTHER_GUILD_ID: &str = "811000000000000002";

/// Records the JSON bodies (and paths) it receives, answering with `answer`.
#[derive(Clone)]
pub struct Recorder {
    /// Every request received: its path and JSON body.
    pub seen: Arc<Mutex<Vec<(String, Value)>>>,
    answer: Arc<dyn Fn(usize) -> ResponseTemplate + Send + Sync>,
}

impl Recorder {
    pub fn new(answer: impl Fn(usize) -> ResponseTemplate + Send + Sync + 'static) -> Recorder {
        Recorder {
            seen: Arc::default(),
            answer: Arc::new(answer),
        }
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }
}

impl Respond for Recorder {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut seen = self.seen.lock().expect("lock");
        seen.push((request.url.path().to_owned(), body));
        (self.answer)(seen.len())
    }
}

/// Slack: `chat.postMessage` and `chat.update` (each recorded), `response_url`s under
/// `/response/…` (recorded), and the channels of [`slack_channels`].
pub struct FakeSlack {
    /// The server (for its URI, or to mount more).
    pub server: MockServer,
    /// `chat.postMessage` calls.
    pub posts: Recorder,
    /// `chat.update` calls.
    pub updates: Recorder,
    /// Posts to response URLs.
    pub responses: Recorder,
}

impl FakeSlack {
    /// A Slack where C1 is the bot's channel in workspace T1 (see [`slack_channels`]).
    pub async fn start() -> FakeSlack {
        let slack = MockServer::start().await;
        let slack_posts = Recorder::new(|n| {
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "ts": format!("1700000000.{n:06}")}))
        });
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(slack_posts.clone())
            .mount(&slack)
            .await;
        let slack_updates =
            Recorder::new(|_| ResponseTemplate::new(200).set_body_json(json!({"ok": true})));
        Mock::given(method("POST"))
            .and(path("/chat.update"))
            .respond_with(slack_updates.clone())
            .mount(&slack)
            .await;
        let responses = Recorder::new(|_| ResponseTemplate::new(200).set_body_string("ok"));
        Mock::given(method("POST"))
            .and(path_regex("^/response/.+$"))
            .respond_with(responses.clone())
            .mount(&slack)
            .await;
        slack_channels(&slack).await;
        FakeSlack {
            server: slack,
            posts: slack_posts,
            updates: slack_updates,
            responses,
        }
    }

    /// Its base URL (the Web API and the response URLs).
    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

/// Discord: channel messages and their edits, an interaction's `@original` and follow-ups
/// (each recorded), and the channels of [`discord_channels`].
pub struct FakeDiscord {
    /// The server.
    pub server: MockServer,
    /// Channel messages.
    pub messages: Recorder,
    /// Edits of an interaction's `@original`.
    pub originals: Recorder,
    /// Follow-up messages.
    pub followups: Recorder,
}

impl FakeDiscord {
    /// A Discord where 555 is the bot's channel in [`GUILD_ID`].
    pub async fn start() -> FakeDiscord {
        let discord = MockServer::start().await;
        let discord_messages = Recorder::new(|n| {
            ResponseTemplate::new(200).set_body_json(json!({"id": format!("{}", 7000 + n)}))
        });
        Mock::given(method("POST"))
            .and(path_regex("^/api/v10/channels/[0-9]+/messages$"))
            .respond_with(discord_messages.clone())
            .mount(&discord)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex("^/api/v10/channels/[0-9]+/messages/[0-9]+$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
            .mount(&discord)
            .await;
        let discord_originals =
            Recorder::new(|_| ResponseTemplate::new(200).set_body_json(json!({"id": "1"})));
        Mock::given(method("PATCH"))
            .and(path_regex(format!(
                "^/api/v10/webhooks/{DISCORD_APP}/[^/]+/messages/@original$"
            )))
            .respond_with(discord_originals.clone())
            .mount(&discord)
            .await;

        Mock::given(method("DELETE"))
            .and(path_regex(format!(
                "^/api/v10/webhooks/{DISCORD_APP}/[^/]+/messages/@original$"
            )))
            .respond_with(ResponseTemplate::new(204))
            .mount(&discord)
            .await;
        let discord_followups =
            Recorder::new(|_| ResponseTemplate::new(200).set_body_json(json!({"id": "2"})));
        Mock::given(method("POST"))
            .and(path_regex(format!(
                "^/api/v10/webhooks/{DISCORD_APP}/[^/]+$"
            )))
            .respond_with(discord_followups.clone())
            .mount(&discord)
            .await;
        discord_channels(&discord).await;
        FakeDiscord {
            server: discord,
            messages: discord_messages,
            originals: discord_originals,
            followups: discord_followups,
        }
    }

    /// Its base URL.
    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

/// Slack's channels: C1 is the bot's own in workspace T1; C9 belongs to another workspace;
/// the bot is not in C8; anything else does not exist. The bot token belongs to T1.
async fn slack_channels(slack: &MockServer) {
    use wiremock::matchers::body_string_contains;
    let slack_channels = [
        (
            "C1",
            json!({"ok": true, "channel": {"id": "C1", "name": "releases", "is_member": true, "context_team_id": "T1"}}),
        ),
        (
            "C9",
            json!({"ok": true, "channel": {"id": "C9", "name": "elsewhere", "is_member": true, "context_team_id": "T2"}}),
        ),
        (
            "C8",
            json!({"ok": true, "channel": {"id": "C8", "name": "general", "is_member": false, "context_team_id": "T1"}}),
        ),
    ];
    for (id, answer) in slack_channels {
        Mock::given(method("POST"))
            .and(path("/conversations.info"))
            .and(body_string_contains(format!("channel={id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(slack)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/conversations.info"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
        )
        .with_priority(10)
        .mount(slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/auth.test"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "team_id": "T1"})),
        )
        .mount(slack)
        .await;
}

/// Discord's channels: 555 in [`GUILD_ID`], 666 in [`OTHER_GUILD_ID`]; 777 may not be seen.
async fn discord_channels(discord: &MockServer) {
    for (id, guild) in [("555", GUILD_ID), ("666", OTHER_GUILD_ID)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v10/channels/{id}")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"id": id, "type": 0, "guild_id": guild, "name": "releases"}),
                ),
            )
            .mount(discord)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v10/channels/777"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"code": 50001, "message": "Missing Access"})),
        )
        .mount(discord)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v10/channels/[0-9]+$"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": 10003, "message": "Unknown Channel"})),
        )
        .with_priority(10)
        .mount(discord)
        .await;
}
