//! Chat-ops end to end: Slack slash commands and buttons, Discord interactions and GitHub
//! comments through the server's router, signed like the real services sign them, with
//! wiremock standing in for GitHub, Slack's Web API and `response_url`s, and Discord's REST
//! API. The real clients run; the tests assert what GitHub, Slack and Discord received.

mod harness;

use std::sync::Arc;

use axum::body::Body;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{KeyInit, Mac};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use trainyard::app::{AppState, router};
use trainyard::clock::{Clock, ManualClock};
use trainyard::domain::ids::RepoFullName;
use trainyard::domain::train::TrainState;
use trainyard::inbound::github::signature;
use trainyard::settings::{Secret, Settings, SettingsArgs};
use trainyard::store::chat::{self as chat_store, ChatSurface, Identity};
use trainyard::store::trains as train_store;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use harness::TestDb;
use harness::fake_chat::{DISCORD_APP, FakeDiscord, FakeSlack, GUILD_ID, Recorder};
use harness::fake_github::FakeGitHub;

const WEBHOOK_SECRET: &str = "chat-webhook-secret";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const REPO: &str = "Codertocat/Hello-World";

/// Whether a Discord message can ping no one: no parsed mentions, no listed users or roles.
fn pings_nobody(message: &Value) -> bool {
    let mentions = &message["allowed_mentions"];
    let empty = |key: &str| mentions[key].as_array().is_none_or(Vec::is_empty);
    mentions["parse"] == json!([]) && empty("users") && empty("roles")
}

/// An interaction as Discord sends it: the test gives what matters (type, ids, member, data);
/// the fields Discord always adds are filled in, so the payload has Discord's real shape.
fn discord_payload(given: &Value) -> Value {
    let mut payload = json!({
        "application_id": DISCORD_APP.to_string(), "version": 1, "locale": "en-US",
        "guild_locale": "en-US", "app_permissions": "2248473465835073", "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID}, "context": 0,
        "attachment_size_limit": 524_288_000,
    });
    for (key, value) in given.as_object().into_iter().flatten() {
        payload[key] = value.clone();
    }
    if let Some(user) = payload["member"]["user"].as_object_mut() {
        let id = user.get("id").cloned().unwrap_or(Value::Null);
        user.insert(
            "username".into(),
            json!(format!("user{}", id.as_str().unwrap_or(""))),
        );
        user.insert("discriminator".into(), json!("0"));
        user.insert("global_name".into(), Value::Null);
        user.insert("avatar".into(), Value::Null);
    }
    if let Some(member) = payload["member"].as_object_mut() {
        for (key, value) in [
            ("roles", json!([])),
            ("joined_at", json!("2026-01-05T10:00:00.000000+00:00")),
            ("deaf", json!(false)),
            ("mute", json!(false)),
            ("flags", json!(0)),
            ("permissions", json!("2248473465835073")),
        ] {
            member.entry(key).or_insert(value);
        }
    }
    match payload["type"].as_u64() {
        Some(2) => {
            payload["data"]["id"] = json!("1200000000000000001");
            payload["data"]["type"] = json!(1);
        }
        Some(3) => {
            payload["message"] = json!({
                "id": "7001", "channel_id": payload["channel_id"], "content": "",
                "author": {"id": DISCORD_APP.to_string(), "username": "trainyard",
                           "discriminator": "0", "avatar": null, "bot": true},
                "timestamp": "2026-11-27T09:00:00.000000+00:00", "edited_timestamp": null,
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0, "components": []
            });
        }
        _ => {}
    }
    payload
}

struct World {
    bot: AppState,
    github: FakeGitHub,
    slack: MockServer,
    discord_server: MockServer,
    clock: ManualClock,
    discord_key: SigningKey,
    /// Slack's chat.postMessage / chat.update.
    slack_posts: Recorder,
    slack_updates: Recorder,
    /// Posts to response_urls.
    responses: Recorder,
    /// Discord channel messages and @original edits.
    discord_messages: Recorder,
    discord_originals: Recorder,
    discord_followups: Recorder,
    /// Comments on commits (refused configurations).
    commit_comments: Recorder,
}

impl World {
    async fn new(test: &TestDb) -> World {
        let github = FakeGitHub::start().await;
        let fake_slack = FakeSlack::start().await;
        let fake_discord = FakeDiscord::start().await;
        let (slack, discord) = (&fake_slack.server, &fake_discord.server);
        // The repository's configuration routes it to Slack channel C1 and Discord 555.
        github.set_config("chat:\n  slack-channel: C1\n  discord-channel: '555'\n");

        let discord_key = SigningKey::from_bytes(&[7; 32]);
        let settings = Settings::resolve(SettingsArgs {
            github_app_id: Some(42),
            github_client_id: Some("Iv1.trainyard".into()),
            github_client_secret: Some(Secret::new("oauth-client-secret")),
            github_private_key_path: Some(
                format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR")).into(),
            ),
            github_webhook_secret: Some(WEBHOOK_SECRET.parse().expect("secret")),
            github_api_url: Some(github.uri()),
            github_web_url: Some(github.uri()),
            public_url: Some("https://trainyard.example".into()),
            slack_signing_secret: Some(Secret::new(SLACK_SECRET)),
            slack_bot_token: Some(Secret::new("xoxb-test-token")),
            slack_api_url: Some(slack.uri()),
            slack_workspaces: Some("T1".into()),
            slack_client_id: Some("slack-client".into()),
            slack_client_secret: Some(Secret::new("slack-client-secret")),
            discord_client_secret: Some(Secret::new("discord-client-secret")),
            discord_public_key: Some(hex::encode(discord_key.verifying_key().to_bytes())),
            discord_application_id: Some(DISCORD_APP),
            discord_bot_token: Some(Secret::new("discord-bot-token")),
            discord_api_url: Some(format!("{}/api/v10", discord.uri())),
            discord_guilds: Some(GUILD_ID.into()),
            ..SettingsArgs::default()
        })
        .expect("settings");
        let clock = ManualClock::starting_at("2026-11-27T09:00:00Z".parse().expect("time"));
        let bot = AppState::new(settings, test.db.clone(), Arc::new(clock.clone())).expect("state");
        let commit_comments =
            Recorder::new(|_| ResponseTemplate::new(201).set_body_json(json!({"id": 1})));
        Mock::given(method("POST"))
            .and(path_regex(format!(
                "^/repos/{REPO}/commits/[0-9a-f]+/comments$"
            )))
            .respond_with(commit_comments.clone())
            .mount(&github.server)
            .await;
        World {
            commit_comments,
            bot,
            github,
            slack_posts: fake_slack.posts,
            slack_updates: fake_slack.updates,
            responses: fake_slack.responses,
            slack: fake_slack.server,
            discord_messages: fake_discord.messages,
            discord_originals: fake_discord.originals,
            discord_followups: fake_discord.followups,
            discord_server: fake_discord.server,
            clock,
            discord_key,
        }
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().as_second()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let answer = harness::http::send(&self.bot, request).await;
        (answer.status, answer.body)
    }

    fn slack_request(&self, uri: &str, body: &str, timestamp: i64, secret: &str) -> Request<Body> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    /// `/release <text>` typed by Slack user `user` in channel C1 of workspace `team`.
    async fn slash(
        &self,
        team: &str,
        user: &str,
        text: &str,
        trigger: &str,
    ) -> (StatusCode, Value) {
        let body = serde_urlencoded::to_string([
            ("token", "ignored"),
            ("team_id", team),
            ("channel_id", "C1"),
            ("user_id", user),
            ("command", "/release"),
            ("text", text),
            (
                "response_url",
                &format!("{}/response/{trigger}", self.slack.uri()),
            ),
            ("trigger_id", trigger),
        ])
        .expect("form");
        let request = self.slack_request("/slack/commands", &body, self.now_secs(), SLACK_SECRET);
        let (status, text) = self.send(request).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Slack user `user` presses `action` on a message in C1.
    async fn press(&self, user: &str, action: &str, value: &str, trigger: &str) -> StatusCode {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": user},
            "team": {"id": "T1"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "channel_id": "C1"},
            "trigger_id": trigger,
            "response_url": format!("{}/response/{trigger}", self.slack.uri()),
            "actions": [{"type": "button", "action_id": action, "value": value,
                         "block_id": "b", "action_ts": "1700000000.1"}],
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let request =
            self.slack_request("/slack/interactions", &body, self.now_secs(), SLACK_SECRET);
        self.send(request).await.0
    }

    fn discord_request(&self, body: &Value, timestamp: i64, key: &SigningKey) -> Request<Body> {
        let bytes = serde_json::to_vec(body).expect("json");
        let mut message = timestamp.to_string().into_bytes();
        message.extend_from_slice(&bytes);
        let signature = hex::encode(key.sign(&message).to_bytes());
        Request::post("/discord/interactions")
            .header("content-type", "application/json")
            .header("x-signature-timestamp", timestamp.to_string())
            .header("x-signature-ed25519", signature)
            .body(Body::from(bytes))
            .expect("request")
    }

    async fn discord_send(&self, body: &Value) -> (StatusCode, Value) {
        let body = discord_payload(body);
        let request = self.discord_request(&body, self.now_secs(), &self.discord_key);
        let (status, text) = self.send(request).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Delivers a GitHub webhook, signed.
    async fn deliver(&self, event: &str, delivery: &str, body: &Value) -> StatusCode {
        let bytes = serde_json::to_vec(body).expect("json");
        let request = Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header(
                "x-hub-signature-256",
                signature::sign(&Secret::new(WEBHOOK_SECRET), &bytes),
            )
            .body(Body::from(bytes))
            .expect("request");
        self.send(request).await.0
    }

    async fn merge(&self, number: u64, title: &str) {
        let payload = self.github.merge_pr(number, title, &["release"], "master");
        let status = self
            .deliver("pull_request", &format!("merge-{number}"), &payload)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }

    /// Tags trainyard made (v1.0.0 was there before), as (tag, commit).
    fn new_tags(&self) -> Vec<(String, String)> {
        self.github
            .tags()
            .into_iter()
            .filter(|(tag, _, _)| tag != "v1.0.0")
            .map(|(tag, commit, _)| (tag, commit))
            .collect()
    }

    /// The bot's comments on issue `issue`, as GitHub shows them.
    fn replies_on(&self, issue: u64) -> Vec<String> {
        self.github.bot_comments_on(issue)
    }

    async fn run_jobs(&self) {
        let drained = self.bot.runner().run_pending().await.expect("jobs run");
        assert_eq!(drained.dead, 0, "no job died: {drained:?}");
        let waiting = self.bot.queue.jobs().await.expect("jobs");
        assert!(
            waiting.is_empty(),
            "every job finished: {:?}",
            waiting
                .iter()
                .map(|j| (j.kind.clone(), j.last_error.clone()))
                .collect::<Vec<_>>()
        );
    }

    async fn link(&self, surface: ChatSurface, workspace: &str, user: &str, login: &str, id: i64) {
        self.github.set_user(id, login);
        let mut conn = self.bot.db.pool().acquire().await.expect("connection");
        chat_store::link(
            &mut conn,
            surface,
            workspace,
            user,
            &Identity {
                github_id: id,
                github_login: login.into(),
            },
            0,
        )
        .await
        .expect("link");
    }

    async fn frozen(&self) -> Vec<train_store::TrainRow> {
        let repo = RepoFullName::parse(REPO).expect("repo");
        train_store::in_states(&self.bot.db, &repo, &[TrainState::Frozen])
            .await
            .expect("trains")
    }
}

fn texts(bodies: &[Value], field: &str) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn slack_status_is_answered_within_the_request(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;

    let started = std::time::Instant::now();
    let (status, body) = world.slash("T1", "U-rick", "status", "t-status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(body["response_type"], "in_channel");
    let text = body["text"].as_str().expect("text");
    assert!(text.contains("*Codertocat/Hello-World*"), "{text}");
    assert!(text.contains("Add the departure board"), "{text}");
    assert!(text.contains("Train main"), "{text}");
    assert!(body["blocks"].is_array(), "a Block Kit card: {body}");
    // Nothing was enqueued for it and nothing posted to the response URL.
    assert!(world.responses.bodies().is_empty());

    // A retried read is simply answered again.
    let (status, body) = world.slash("T1", "U-rick", "status", "t-status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["text"].as_str().expect("text").contains("Train main"));

    // A line that does not exist is named, with the closest one.
    let (_, body) = world.slash("T1", "U-rick", "status mian", "t-line").await;
    assert_eq!(
        body["text"],
        "`Codertocat/Hello-World` has no train line `mian` (did you mean `main`?); its lines: `main`"
    );
    assert_eq!(body["response_type"], "ephemeral");

    // notes: the generated notes of the line's train, from the store.
    let (_, body) = world.slash("T1", "U-rick", "notes", "t-notes").await;
    let text = body["text"].as_str().expect("notes");
    assert!(
        text.starts_with("*Notes of the Codertocat/Hello-World main train* (open):\n```"),
        "{text}"
    );
    assert!(
        text.contains("* Add the departure board (#1) @octocat"),
        "{text}"
    );

    // preview: the first part of the body a cut would publish now, the draft linked.
    let (_, body) = world.slash("T1", "U-rick", "preview", "t-preview").await;
    let text = body["text"].as_str().expect("preview");
    assert!(text.starts_with("*Preview of v1.0.1*"), "{text}");
    assert!(text.contains("The first preview here."), "{text}");
    assert!(
        text.contains("* Add the departure board (#1) @octocat"),
        "{text}"
    );
    assert!(text.contains("|the draft on GitHub>"), "{text}");
    let (_, again) = world.slash("T1", "U-rick", "preview", "t-preview-2").await;
    assert!(
        again["text"]
            .as_str()
            .is_some_and(|t| t.contains("Since the last preview here: no change.")),
        "{again}"
    );

    // Help is generated from the grammar; typos get a suggestion.
    let (_, body) = world.slash("T1", "U-rick", "help", "t-help").await;
    assert_eq!(body["response_type"], "ephemeral");
    assert!(
        body["text"]
            .as_str()
            .expect("help")
            .contains("/release cut [owner/repo] [line]")
    );
    let (_, body) = world.slash("T1", "U-rick", "aprove", "t-typo").await;
    assert_eq!(
        body["text"],
        "`aprove` is not a command (did you mean `approve`?); try `/release help`"
    );

    // Another workspace is refused; a bad signature or a stale timestamp is a 401.
    let (_, body) = world.slash("T-other", "U-rick", "status", "t-other").await;
    assert!(
        body["text"].as_str().expect("text").contains("not allowed"),
        "{body}"
    );
    let stale = world.slack_request(
        "/slack/commands",
        "team_id=T1&text=status",
        world.now_secs() - 301,
        SLACK_SECRET,
    );
    assert_eq!(world.send(stale).await.0, StatusCode::UNAUTHORIZED);
    let forged = world.slack_request(
        "/slack/commands",
        "team_id=T1&text=status",
        world.now_secs(),
        "not-the-secret",
    );
    assert_eq!(world.send(forged).await.0, StatusCode::UNAUTHORIZED);
    // Correctly signed, 2^63 seconds old: the age does not wrap around into the window.
    let ancient = world.now_secs().wrapping_sub(i64::MIN.wrapping_neg());
    let replayed = world.slack_request(
        "/slack/commands",
        "team_id=T1&text=status",
        ancient,
        SLACK_SECRET,
    );
    assert_eq!(world.send(replayed).await.0, StatusCode::UNAUTHORIZED);
}

async fn slack_cut_is_acknowledged_then_its_outcome_posted(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;

    // An unlinked user is told to link; nothing is cut.
    let (_, body) = world.slash("T1", "U-carol", "cut", "t-cut-0").await;
    assert!(
        body["text"]
            .as_str()
            .expect("text")
            .contains("/release link"),
        "{body}"
    );
    assert!(world.frozen().await.is_empty());

    // Linking, proven in one browser: Slack sign-in as U-carol, then GitHub as carol.
    let link = world.slack_link_url("U-carol", "t-link").await;
    let mut browser = Browser::new(&world);
    let page = browser
        .link(&link, SignIn::Slack("T1", "U-carol"), (7, "carol"))
        .await;
    assert_eq!(page.0, StatusCode::OK, "{}", page.1);
    assert!(page.1.contains("GitHub user carol"), "{}", page.1);
    assert_eq!(
        chat_store::identity(&world.bot.db, ChatSurface::Slack, "T1", "U-carol")
            .await
            .expect("identity"),
        Some(Identity {
            github_id: 7,
            github_login: "carol".into()
        })
    );
    world.run_jobs().await;

    let (status, body) = world.slash("T1", "U-carol", "cut", "t-cut-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["response_type"], "in_channel");
    assert_eq!(body["text"], "Cutting `Codertocat/Hello-World` train…");
    assert!(
        world.responses.bodies().is_empty(),
        "the outcome comes later"
    );
    // Slack retries the request: an empty 200, nothing enqueued twice.
    let (status, body) = world.slash("T1", "U-carol", "cut", "t-cut-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, Value::Null, "a retry gets an empty 200");
    world.run_jobs().await;
    let responses = world.responses.bodies();
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(world.responses.paths(), ["/response/t-cut-1"]);
    assert_eq!(
        responses[0]["text"],
        format!(
            "*Codertocat/Hello-World cut*: cut v1.0.1 at {} with 1 pull request; the next \
             train is open",
            &world.github.head("master")[..7]
        )
    );
    assert_eq!(world.frozen().await.len(), 1);

    // The channel's train thread: the card first, then each event as a reply; the cut
    // message carries the Approve / Reject buttons.
    // Besides the direct message that told carol of her link, everything is in C1.
    let (posts, direct): (Vec<Value>, Vec<Value>) = world
        .slack_posts
        .bodies()
        .into_iter()
        .partition(|p| p["channel"] == "C1");
    assert_eq!(direct.len(), 1, "{direct:?}");
    assert_eq!(direct[0]["channel"], "U-carol");
    let root_ts = "1700000000.000001";
    assert!(
        posts[0].get("thread_ts").is_none(),
        "the first post is the card"
    );
    assert!(
        posts[1..].iter().all(|p| p["thread_ts"] == root_ts),
        "{posts:?}"
    );
    let cut = posts
        .iter()
        .find(|p| p["text"].as_str().is_some_and(|t| t.contains("was cut as")))
        .expect("a cut message");
    let train_id = world.frozen().await[0].id;
    assert_eq!(
        cut["blocks"][1]["elements"][0]["value"],
        format!("{train_id}:v1.0.1")
    );
    assert!(
        !world.slack_updates.bodies().is_empty(),
        "the card is edited in place"
    );
}

async fn a_command_that_can_never_run_is_still_answered(test: TestDb) {
    use trainyard::handlers::chat::ReplyTo;
    use trainyard::handlers::kit::command::RunTrainCommand;
    use trainyard::jobs::Enqueued;
    let world = World::new(&test).await;
    // This replica lost its GitHub App settings: the command can never succeed here.
    let mut ctx = world.bot.train_context();
    ctx.github = None;
    let command = RunTrainCommand {
        repository: RepoFullName::parse(REPO).expect("repo"),
        installation: 1,
        line: None,
        actor: "carol".into(),
        command: trainyard::domain::train::TrainCommand::Cut,
        command_id: "slack:t-dead".into(),
        by_schedule: false,
        reply_to: Some(ReplyTo::Slack {
            response_url: format!("{}/response/t-dead", world.slack.uri()),
            channel: "C1".into(),
            issued_at: world.clock.now().as_millisecond(),
        }),
        train_id: None,
        expect_version: None,
        actor_id: None,
    };
    // Run through the queue, on a worker of this replica.
    let Enqueued::New(id) = world
        .bot
        .queue
        .enqueue_now(&command)
        .await
        .expect("enqueue")
    else {
        panic!("a new job");
    };
    let registry = trainyard::jobs::Registry::new()
        .register::<RunTrainCommand>(ctx)
        .register::<trainyard::handlers::commands::SendCommandReply>(world.bot.train_context());
    let drained = trainyard::jobs::Runner::new(world.bot.queue.clone(), registry)
        .run_pending()
        .await
        .expect("run");
    assert_eq!(drained.dead, 1, "buried: {drained:?}");
    // Kept for the operator, without the response URL (a credential).
    let payload = world
        .bot
        .queue
        .payload(id)
        .await
        .expect("payload")
        .expect("kept");
    assert!(!payload.contains("/response/t-dead"), "{payload}");
    assert!(payload.contains("\"channel\":\"C1\""), "{payload}");
    // The answer is a job of its own, sent once the refusal is recorded (in the same run).
    assert_eq!(drained.completed, 1, "{drained:?}");
    let responses = world.responses.bodies();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["response_type"], "ephemeral");
    assert!(
        responses[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("could not be carried out") && t.contains("not configured")),
        "{responses:?}"
    );
}

async fn unlink_forgets_and_a_spent_response_url_falls_back_to_the_channel(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    let (_, body) = world.slash("T1", "U-carol", "unlink", "t-unlink").await;
    assert_eq!(body["text"], "Your GitHub account is no longer linked.");
    assert_eq!(
        chat_store::identity(&world.bot.db, ChatSurface::Slack, "T1", "U-carol")
            .await
            .expect("identity"),
        None
    );
    let (_, body) = world.slash("T1", "U-carol", "cut", "t-cut-0").await;
    assert!(
        body["text"]
            .as_str()
            .expect("text")
            .contains("/release link")
    );
    assert!(world.frozen().await.is_empty());

    // Linked again; the cut is queued, but its job runs only after the response_url's 30
    // minutes: the outcome is posted to the channel with the bot token instead.
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world.slash("T1", "U-carol", "cut", "t-cut-1").await;
    world.clock.advance(jiff::SignedDuration::from_mins(31));
    world.run_jobs().await;
    assert!(
        world.responses.bodies().is_empty(),
        "the spent response_url is not used"
    );
    let posts = world.slack_posts.bodies();
    let outcome = posts
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .is_some_and(|t| t.contains("the next train is open"))
        })
        .expect("the outcome in the channel");
    assert_eq!(outcome["channel"], "C1");
    assert_eq!(world.frozen().await.len(), 1);
}

async fn approve_buttons_release_for_maintainers_only(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world
        .link(ChatSurface::Slack, "T1", "U-maya", "maya", 8)
        .await;
    world
        .link(ChatSurface::Slack, "T1", "U-rick", "rick", 9)
        .await;
    world.slash("T1", "U-carol", "cut", "t-cut").await;
    world.run_jobs().await;
    let train_id = world.frozen().await[0].id;
    let value = format!("{train_id}:v1.0.1");

    // Unlinked: told to link, nothing happens.
    assert_eq!(
        world.press("U-nobody", "approve", &value, "b-1").await,
        StatusCode::OK
    );
    world.run_jobs().await;
    // Linked but read-only: refused by GitHub's permission.
    assert_eq!(
        world.press("U-rick", "approve", &value, "b-2").await,
        StatusCode::OK
    );
    world.run_jobs().await;
    assert!(world.new_tags().is_empty(), "no tag yet");
    // A stale button (another version) approves nothing.
    world
        .press("U-maya", "approve", &format!("{train_id}:v0.9.0"), "b-3")
        .await;
    world.run_jobs().await;
    assert!(world.new_tags().is_empty(), "no tag yet");
    // A maintainer: released.
    world.press("U-maya", "approve", &value, "b-4").await;
    world.run_jobs().await;

    let by_trigger = |trigger: &str| -> Vec<String> {
        let paths = world.responses.paths();
        let bodies = world.responses.bodies();
        paths
            .iter()
            .zip(bodies.iter())
            .filter(|(p, _)| p.ends_with(trigger))
            .map(|(_, b)| b["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(by_trigger("b-1")[0].contains("Link your GitHub account first"));
    assert_eq!(
        by_trigger("b-2").last().map(String::as_str),
        Some(
            "*Codertocat/Hello-World approve* refused: `approve` needs maintain permission on \
             the repository; rick has read"
        )
    );
    assert_eq!(
        by_trigger("b-3").last().map(String::as_str),
        Some(
            "*Codertocat/Hello-World approve* refused: the `main` train waiting for approval \
             is v1.0.1, not v0.9.0"
        )
    );
    assert_eq!(
        by_trigger("b-4").last().map(String::as_str),
        Some("*Codertocat/Hello-World approve*: approved; releasing v1.0.1")
    );
    assert_eq!(
        world.new_tags(),
        [("v1.0.1".to_owned(), world.github.head("master"))]
    );
    let texts = texts(&world.slack_posts.bodies(), "text");
    assert!(
        texts.iter().any(|t| t.contains("released")),
        "the thread hears of the release: {texts:?}"
    );
    // Pressing again after the release: the button no longer applies.
    world.press("U-maya", "approve", &value, "b-5").await;
    world.run_jobs().await;
    assert!(
        by_trigger("b-5")[0].contains("no longer applies"),
        "{:?}",
        by_trigger("b-5")
    );
    assert_eq!(world.new_tags().len(), 1);
}

async fn discord_ping_signatures_and_a_deferred_cut(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;

    let (status, body) = world
        .discord_send(&json!({"type": 1, "id": "1", "token": "t"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], 1, "PONG");
    let other_key = SigningKey::from_bytes(&[8; 32]);
    let forged = world.discord_request(&json!({"type": 1}), world.now_secs(), &other_key);
    assert_eq!(world.send(forged).await.0, StatusCode::UNAUTHORIZED);
    let stale = world.discord_request(
        &json!({"type": 1}),
        world.now_secs() - 301,
        &world.discord_key,
    );
    assert_eq!(world.send(stale).await.0, StatusCode::UNAUTHORIZED);
    let ancient = world.now_secs().wrapping_sub(i64::MIN.wrapping_neg());
    let replayed = world.discord_request(&json!({"type": 1}), ancient, &world.discord_key);
    assert_eq!(world.send(replayed).await.0, StatusCode::UNAUTHORIZED);
    let unsigned = Request::post("/discord/interactions")
        .header("content-type", "application/json")
        .body(Body::from("{\"type\":1}"))
        .expect("request");
    assert_eq!(world.send(unsigned).await.0, StatusCode::UNAUTHORIZED);

    let interaction = |id: &str, user: &str, sub: &str| {
        json!({
            "type": 2, "id": id, "token": format!("token-{id}"), "application_id": "99",
            "guild_id": GUILD_ID, "channel_id": "555",
            "member": {"user": {"id": user}},
            "data": {"name": "release", "options": [{"name": sub, "type": 1, "options": []}]}
        })
    };
    // status: answered at once as type 4, with mentions off.
    let (_, body) = world
        .discord_send(&interaction("10", "922000000000000001", "status"))
        .await;
    assert_eq!(body["type"], 4);
    assert!(
        body["data"]["content"]
            .as_str()
            .expect("content")
            .contains("Add the departure board")
    );
    assert!(pings_nobody(&body["data"]), "{body}");

    // cut by an unlinked user: an ephemeral refusal.
    let (_, body) = world
        .discord_send(&interaction("11", "922000000000000002", "cut"))
        .await;
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["flags"], 64);

    // A linked read-only user: deferred, then refused in a message only they see.
    world
        .link(
            ChatSurface::Discord,
            GUILD_ID,
            "922000000000000001",
            "rick",
            9,
        )
        .await;
    let (_, body) = world
        .discord_send(&interaction("20", "922000000000000001", "cut"))
        .await;
    assert_eq!(body["type"], 5, "deferred");
    world.run_jobs().await;
    assert!(
        world.discord_originals.bodies().is_empty(),
        "not shown to the channel"
    );
    let private = world.discord_followups.bodies();
    assert_eq!(
        world.discord_followups.paths(),
        [format!("/api/v10/webhooks/{DISCORD_APP}/token-20")]
    );
    assert_eq!(private[0]["flags"], 64);
    assert!(
        private[0]["content"]
            .as_str()
            .is_some_and(|t| t.contains("needs write permission")),
        "{private:?}"
    );
    assert!(world.frozen().await.is_empty());

    world
        .link(
            ChatSurface::Discord,
            GUILD_ID,
            "922000000000000002",
            "carol",
            7,
        )
        .await;
    let (_, body) = world
        .discord_send(&interaction("12", "922000000000000002", "cut"))
        .await;
    assert_eq!(body["type"], 5, "deferred");
    world.run_jobs().await;
    let edits = world.discord_originals.bodies();
    assert_eq!(
        world.discord_originals.paths(),
        [format!(
            "/api/v10/webhooks/{DISCORD_APP}/token-12/messages/@original"
        )]
    );
    assert_eq!(
        edits[0]["content"],
        format!(
            "**Codertocat/Hello\\-World cut**: cut v1.0.1 at {} with 1 pull request; the next \
             train is open",
            &world.github.head("master")[..7]
        )
        .replace("\\-", "-")
    );
    assert!(pings_nobody(&edits[0]), "{edits:?}");
    assert_eq!(world.frozen().await.len(), 1);

    // The cut message in the channel carries Approve / Reject components.
    let messages = world.discord_messages.bodies();
    let train_id = world.frozen().await[0].id;
    let cut = messages
        .iter()
        .find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|t| t.contains("was cut as"))
        })
        .expect("a cut message");
    assert_eq!(
        cut["components"][0]["components"][0]["custom_id"],
        format!("approve:{train_id}:v1.0.1")
    );
    assert!(messages.iter().all(pings_nobody));

    // After 15 minutes the interaction token is spent: the outcome goes to the channel.
    world
        .link(
            ChatSurface::Discord,
            GUILD_ID,
            "922000000000000003",
            "maya",
            8,
        )
        .await;
    let (_, body) = world
        .discord_send(&json!({
            "type": 3, "id": "13", "token": "token-13", "guild_id": GUILD_ID, "channel_id": "555",
            "member": {"user": {"id": "922000000000000003"}},
            "data": {"custom_id": format!("approve:{train_id}:v1.0.1"), "component_type": 2}
        }))
        .await;
    assert_eq!(body["type"], 5, "deferred");
    world.clock.advance(jiff::SignedDuration::from_mins(16));
    world.run_jobs().await;
    assert_eq!(
        world.discord_originals.bodies().len(),
        1,
        "no edit of a spent token"
    );
    let last = world.discord_messages.bodies();
    assert!(
        last.iter().any(|m| m["content"]
            .as_str()
            .is_some_and(|t| t.contains("approved; releasing v1.0.1"))),
        "{last:?}"
    );
    assert_eq!(world.new_tags().len(), 1, "released");
}

async fn a_pr_comment_includes_a_pull_request_in_the_frozen_train(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    // #12 is merged before the cut (its merge commit is behind the frozen head) but never
    // labelled: GitHub has it, the train does not.
    world.github.merge_pr(12, "Fix the clock", &[], "master");
    world.run_jobs().await;
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world.slash("T1", "U-carol", "cut", "t-cut").await;
    world.run_jobs().await;
    let body = "Forgot this one:\n/release include #12\n\n```\n/release abandon\n```\n";
    let comment = world.github.comment("carol", 12, body);
    let comment_id = comment["comment"]["id"].as_u64().expect("id");
    assert_eq!(
        world.deliver("issue_comment", "comment-1", &comment).await,
        StatusCode::ACCEPTED
    );
    world.run_jobs().await;
    let passengers = train_store::passengers(&world.bot.db, world.frozen().await[0].id)
        .await
        .expect("passengers");
    assert_eq!(
        passengers.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 12]
    );
    assert_eq!(
        world.replies_on(12),
        ["**Codertocat/Hello-World include**: #12 is on the train"],
        "one reply; the fenced command is ignored"
    );
    // The same comment edited with nothing new: no second include, no second reply.
    let edited = world.github.edit_comment("carol", comment_id, body);
    world.deliver("issue_comment", "comment-2", &edited).await;
    world.run_jobs().await;
    assert_eq!(world.replies_on(12).len(), 1);
}

async fn mentions_in_user_text_are_escaped(test: TestDb) {
    let world = World::new(&test).await;
    world
        .merge(
            3,
            "<!channel> @everyone <@U999> deploy & <https://evil.example|click>",
        )
        .await;
    world.run_jobs().await;
    let posts = world.slack_posts.bodies();
    let boarded = posts
        .iter()
        .find(|p| p["text"].as_str().is_some_and(|t| t.contains("boarded")))
        .expect("a boarded message");
    let text = boarded["text"].as_str().expect("text");
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    assert!(
        !text.contains("<!channel>") && !text.contains("<@U999>"),
        "{text}"
    );
    assert!(!text.contains("<https://evil"), "{text}");
    let discord = world.discord_messages.bodies();
    let boarded = discord
        .iter()
        .find(|m| m["content"].as_str().is_some_and(|t| t.contains("boarded")))
        .expect("a boarded message");
    let content = boarded["content"].as_str().expect("content");
    assert!(
        !content.contains("@everyone") && !content.contains("<@U999>"),
        "{content}"
    );
    assert!(pings_nobody(boarded), "{boarded}");
    // A reject reason typed in chat is escaped in the outcome too.
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world
        .link(ChatSurface::Slack, "T1", "U-maya", "maya", 8)
        .await;
    world.slash("T1", "U-carol", "cut", "t-cut").await;
    world.run_jobs().await;
    world
        .slash("T1", "U-maya", "reject <!here> not yet", "t-reject")
        .await;
    world.run_jobs().await;
    let outcome = world.responses.bodies().last().cloned().expect("outcome");
    let text = outcome["text"].as_str().expect("text");
    assert!(
        text.contains("&lt;!here&gt;") && !text.contains("<!here>"),
        "{text}"
    );
}

/// Who a browser signs in as at the chat service.
#[derive(Clone, Copy)]
enum SignIn<'a> {
    /// Sign in with Slack: (team, user).
    Slack(&'a str, &'a str),
    /// Discord OAuth2: the user id.
    Discord(&'a str),
}

/// A browser: sends the link cookie it was given, follows redirects only when told.
struct Browser<'a> {
    world: &'a World,
    cookie: Option<String>,
    codes: u32,
}

/// What a browser got back: status, `Location`, body.
type Page = (StatusCode, String);

impl<'a> Browser<'a> {
    fn new(world: &'a World) -> Browser<'a> {
        Browser {
            world,
            cookie: None,
            codes: 0,
        }
    }

    /// GETs `uri` (a path, or a URL on the public address); returns status, `Location`, body.
    async fn get(&mut self, uri: &str) -> (StatusCode, Option<String>, String) {
        let path = uri.trim_start_matches("https://trainyard.example");
        let mut request = Request::get(path);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = router(self.world.bot.clone())
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("location").to_owned());
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().expect("cookie");
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"),
                "{set}"
            );
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            location,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    /// Opens `link`, signs in to the chat service as `chat` and to GitHub as `github` (id,
    /// login), as far as trainyard lets it; returns the last page.
    async fn link(&mut self, link: &str, chat: SignIn<'_>, github: (i64, &str)) -> Page {
        let (status, location, body) = self.get(link).await;
        if status != StatusCode::SEE_OTHER {
            return (status, body);
        }
        let location = location.expect("a redirect");
        let state = query_value(&location, "state");
        self.codes += 1;
        let code = format!("code-{}-{}", self.codes, state.get(..8).unwrap_or_default());
        let callback = match chat {
            SignIn::Slack(team, user) => {
                assert!(
                    location.starts_with("https://slack.com/openid/connect/authorize?"),
                    "{location}"
                );
                assert_eq!(query_value(&location, "client_id"), "slack-client");
                assert_eq!(query_value(&location, "scope"), "openid");
                assert_eq!(
                    query_value(&location, "redirect_uri"),
                    "https://trainyard.example/oauth/slack/callback"
                );
                self.world.slack_signs_in(&code, team, user).await;
                format!("/oauth/slack/callback?code={code}&state={state}")
            }
            SignIn::Discord(user) => {
                assert!(
                    location.starts_with("https://discord.com/oauth2/authorize?"),
                    "{location}"
                );
                assert_eq!(query_value(&location, "scope"), "identify");
                assert_eq!(query_value(&location, "client_id"), DISCORD_APP.to_string());
                self.world.discord_signs_in(&code, user).await;
                format!("/oauth/discord/callback?code={code}&state={state}")
            }
        };
        let (status, location, body) = self.get(&callback).await;
        if status != StatusCode::SEE_OTHER {
            return (status, body);
        }
        let location = location.expect("a redirect");
        assert!(
            location.starts_with(&format!(
                "{}/login/oauth/authorize?",
                self.world.github.uri()
            )),
            "{location}"
        );
        assert_eq!(query_value(&location, "client_id"), "Iv1.trainyard");
        let (id, login) = github;
        self.world.github_signs_in(&code, id, login).await;
        let (status, _, body) = self
            .get(&format!("/oauth/github/callback?code={code}&state={state}"))
            .await;
        (status, body)
    }
}

fn query_value(url: &str, key: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("query");
    pairs
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{key} in {url}"))
}

impl World {
    /// `user` asks for a link in Slack; returns the link's URL.
    async fn slack_link_url(&self, user: &str, trigger: &str) -> String {
        let (_, body) = self.slash("T1", user, "link", trigger).await;
        assert_eq!(body["response_type"], "ephemeral");
        let text = body["text"].as_str().expect("text");
        let url = text
            .split('<')
            .nth(1)
            .and_then(|s| s.split('|').next())
            .expect("a link")
            .to_owned();
        assert!(url.starts_with("https://trainyard.example/link/"), "{url}");
        url
    }

    /// Slack answers `code` with a token for (team, user).
    async fn slack_signs_in(&self, code: &str, team: &str, user: &str) {
        use wiremock::matchers::{body_string_contains, header};
        Mock::given(method("POST"))
            .and(path("/openid.connect.token"))
            .and(body_string_contains(format!("code={code}")))
            .and(body_string_contains("client_secret=slack-client-secret"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"ok": true, "access_token": format!("xoxp-{code}"), "id_token": "ignored"}),
            ))
            .mount(&self.slack)
            .await;
        Mock::given(method("POST"))
            .and(path("/openid.connect.userInfo"))
            .and(header(
                "authorization",
                format!("Bearer xoxp-{code}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "sub": user,
                "https://slack.com/user_id": user, "https://slack.com/team_id": team,
            })))
            .mount(&self.slack)
            .await;
    }

    /// Discord answers `code` with a token for `user`.
    async fn discord_signs_in(&self, code: &str, user: &str) {
        use wiremock::matchers::{body_string_contains, header};
        Mock::given(method("POST"))
            .and(path("/api/v10/oauth2/token"))
            .and(body_string_contains(format!("code={code}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"access_token": format!("dc-{code}"), "token_type": "Bearer"}),
            ))
            .mount(&self.discord_server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v10/users/@me"))
            .and(header(
                "authorization",
                format!("Bearer dc-{code}").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"id": user, "username": user})),
            )
            .mount(&self.discord_server)
            .await;
    }

    /// GitHub answers `code` with a token for (id, login).
    async fn github_signs_in(&self, code: &str, id: i64, login: &str) {
        use wiremock::matchers::{body_string_contains, header};
        Mock::given(method("POST"))
            .and(path("/login/oauth/access_token"))
            .and(body_string_contains(code))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": format!("gho-{code}")})),
            )
            .mount(&self.github.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/user"))
            .and(header(
                "authorization",
                format!("Bearer gho-{code}").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "login": login})),
            )
            .mount(&self.github.server)
            .await;
        self.github.set_user(id, login);
    }
}

async fn linking_is_told_to_the_chat_user_and_each_link_works_once(test: TestDb) {
    let world = World::new(&test).await;
    let link = world.slack_link_url("U-carol", "t-link-1").await;
    let mut browser = Browser::new(&world);
    let (status, page) = browser
        .link(&link, SignIn::Slack("T1", "U-carol"), (7, "carol"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    // The chat user hears which GitHub account now acts for them, in a direct message.
    world.run_jobs().await;
    let told: Vec<Value> = world
        .slack_posts
        .bodies()
        .into_iter()
        .filter(|b| b["channel"] == "U-carol")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    let text = told[0]["text"].as_str().expect("text");
    assert!(text.contains("now linked to GitHub user *carol*"), "{text}");

    // The same link again, even in the same browser: spent.
    let token = link.rsplit('/').next().expect("token");
    let (status, _, page) = browser.get(&format!("/link/{token}")).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    let (status, _, page) = browser
        .get(&format!("/oauth/github/callback?code=again&state={token}"))
        .await;
    assert_eq!(status, StatusCode::GONE, "{page}");

    // A link left for more than ten minutes no longer opens.
    let late = world.slack_link_url("U-carol", "t-link-2").await;
    world.clock.advance(jiff::SignedDuration::from_mins(11));
    let (status, _, page) = Browser::new(&world).get(&late).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(page.contains("expired"), "{page}");
}

async fn a_link_sent_to_someone_else_links_nobody(test: TestDb) {
    let world = World::new(&test).await;
    // Mallory asks for a link and sends it to Maya, a maintainer, who opens it: Slack says
    // she is U-maya, not U-mallory.
    let link = world.slack_link_url("U-mallory", "t-mallory").await;
    let mut maya = Browser::new(&world);
    let (status, page) = maya
        .link(&link, SignIn::Slack("T1", "U-maya"), (11, "maya"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(
        page.contains("someone other than the person who asked"),
        "{page}"
    );
    // The link is spent: going on to GitHub links nobody.
    let token = link.rsplit('/').next().expect("token");
    world.github_signs_in("stolen", 11, "maya").await;
    let (status, _, page) = maya
        .get(&format!("/oauth/github/callback?code=stolen&state={token}"))
        .await;
    assert_eq!(status, StatusCode::GONE, "{page}");

    // Mallory's own browser cannot finish what another browser started, and a browser that
    // did not open the link cannot skip to GitHub.
    let link = world.slack_link_url("U-mallory", "t-mallory-2").await;
    let token = link.rsplit('/').next().expect("token").to_owned();
    let mut other = Browser::new(&world);
    let (status, _, _) = other.get(&link).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = Browser::new(&world).get(&link).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("another browser"), "{page}");
    let (status, _, page) = Browser::new(&world)
        .get(&format!("/oauth/github/callback?code=stolen&state={token}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // Nor skip the chat sign-in in its own browser.
    let (status, _, page) = other
        .get(&format!("/oauth/github/callback?code=stolen&state={token}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("Sign in to Slack first"), "{page}");

    for user in ["U-mallory", "U-maya"] {
        assert_eq!(
            chat_store::identity(&world.bot.db, ChatSurface::Slack, "T1", user)
                .await
                .expect("identity"),
            None
        );
    }
    world.run_jobs().await;
    assert!(
        world
            .slack_posts
            .bodies()
            .iter()
            .all(|b| b["channel"] == "C1"),
        "nobody was told of a link"
    );
}

async fn discord_linking_proves_the_discord_user(test: TestDb) {
    let world = World::new(&test).await;
    let direct = Recorder::new(|_| ResponseTemplate::new(200).set_body_json(json!({"id": "9001"})));
    Mock::given(method("POST"))
        .and(path("/api/v10/users/@me/channels"))
        .respond_with(direct.clone())
        .mount(&world.discord_server)
        .await;
    let link_of = |body: &Value| {
        let text = body["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        text.split("(<")
            .nth(1)
            .and_then(|s| s.split(">)").next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("a link in {body}"))
    };
    let ask = |id: &str, user: &str| {
        json!({
            "type": 2, "id": id, "token": format!("tok-{id}"), "guild_id": GUILD_ID,
            "channel_id": "555", "member": {"user": {"id": user}},
            "data": {"name": "release", "options": [{"name": "link", "type": 1, "options": []}]},
        })
    };
    let (_, answer) = world.discord_send(&ask("1001", "42")).await;
    let link = link_of(&answer);

    // Someone else's Discord account: refused.
    let (status, page) = Browser::new(&world)
        .link(&link, SignIn::Discord("43"), (7, "carol"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");

    let (_, answer) = world.discord_send(&ask("1002", "42")).await;
    let link = link_of(&answer);
    let (status, page) = Browser::new(&world)
        .link(&link, SignIn::Discord("42"), (7, "carol"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        chat_store::identity(&world.bot.db, ChatSurface::Discord, GUILD_ID, "42")
            .await
            .expect("identity"),
        Some(Identity {
            github_id: 7,
            github_login: "carol".into()
        })
    );
    assert_eq!(
        chat_store::identity(&world.bot.db, ChatSurface::Discord, GUILD_ID, "43")
            .await
            .expect("identity"),
        None
    );
    world.run_jobs().await;
    assert_eq!(direct.bodies(), [json!({"recipient_id": "42"})]);
    let told: Vec<String> = world
        .discord_messages
        .paths()
        .into_iter()
        .filter(|p| p == "/api/v10/channels/9001/messages")
        .collect();
    assert_eq!(told.len(), 1);
}

async fn a_linked_account_acts_under_its_current_login(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    // Carol renames her account; someone else registers "carol" and is made a maintainer
    // of nothing. The linked chat user acts as the account with id 7: carol-2.
    world.github.set_user(7, "carol-2");
    world.github.set_collaborator("carol-2", "write", "write");
    world.github.set_collaborator("carol", "none", "none");
    let (status, _) = world.slash("T1", "U-carol", "cut", "t-cut").await;
    assert_eq!(status, StatusCode::OK);
    world.run_jobs().await;
    let frozen = world.frozen().await;
    assert_eq!(frozen.len(), 1);
    assert_eq!(frozen[0].cut_by.as_deref(), Some("carol-2"));

    // An account that no longer exists acts for nobody.
    world.github.delete_user(7);
    let (_, _) = world.slash("T1", "U-carol", "abandon", "t-abandon").await;
    world.run_jobs().await;
    let answers = texts(&world.responses.bodies(), "text");
    assert!(
        answers
            .iter()
            .any(|t| t.contains("The GitHub account linked to you no longer exists")),
        "{answers:?}"
    );
    assert_eq!(world.frozen().await.len(), 1);
}

async fn deployment_statuses_edit_one_message_and_a_production_failure_offers_rollback(
    test: TestDb,
) {
    let world = World::new(&test).await;
    world.github.set_config(concat!(
        "chat:\n  slack-channel: C1\n",
        "deploy:\n  environments:\n",
        "    - name: staging\n      auto: true\n",
        "    - name: production\n",
    ));
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world
        .link(ChatSurface::Slack, "T1", "U-maya", "maya", 11)
        .await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    world.slash("T1", "U-carol", "cut", "t-cut").await;
    world.run_jobs().await;
    world.slash("T1", "U-maya", "approve", "t-approve").await;
    world.run_jobs().await;

    // Publishing asked for staging; GitHub reports its progress.
    let staging = world.github.deployments()[0].id;
    for (n, state) in ["queued", "in_progress", "success"].into_iter().enumerate() {
        let payload =
            world
                .github
                .deployment_status(staging, state, Some("https://staging.example/"));
        let status = world
            .deliver("deployment_status", &format!("status-{n}"), &payload)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        world.run_jobs().await;
    }
    let posts = world.slack_posts.bodies();
    let about_staging: Vec<usize> = posts
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p["text"]
                .as_str()
                .is_some_and(|t| t.contains("to *staging*"))
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        about_staging.len(),
        1,
        "one message per deployment: {posts:?}"
    );
    let ts = format!("1700000000.{:06}", about_staging[0] + 1);
    let edits: Vec<String> = world
        .slack_updates
        .bodies()
        .iter()
        .filter(|u| u["ts"] == ts.as_str())
        .map(|u| u["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(edits.len(), 3, "{edits:?}");
    assert!(edits[2].contains("succeeded"), "{edits:?}");
    assert!(
        edits[2].contains("<https://staging.example/|open>"),
        "{edits:?}"
    );

    // Production fails: its message offers a rollback.
    world
        .slash("T1", "U-maya", "deploy latest to production", "t-deploy")
        .await;
    world.run_jobs().await;
    let production = world.github.deployments()[1].id;
    let payload = world.github.deployment_status(production, "failure", None);
    world
        .deliver("deployment_status", "status-fail", &payload)
        .await;
    world.run_jobs().await;
    let failed = world
        .slack_updates
        .bodies()
        .into_iter()
        .rev()
        .find(|u| {
            u["text"]
                .as_str()
                .is_some_and(|t| t.contains("to *production* failed"))
        })
        .expect("the production message, edited");
    let button = &failed["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "rollback");
    let value = button["value"].as_str().expect("value").to_owned();

    // The button is the command: checked like it.
    world
        .press("U-carol", "rollback", &value, "t-rb-carol")
        .await;
    world.run_jobs().await;
    world.press("U-maya", "rollback", &value, "t-rb-maya").await;
    world.run_jobs().await;
    let answers = texts(&world.responses.bodies(), "text");
    assert!(
        answers
            .iter()
            .any(|t| t.contains("deploying to production needs the maintain role; carol has write")),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|t| t.contains("production has no earlier successful release to roll back to")),
        "{answers:?}"
    );
    assert_eq!(world.github.deployments().len(), 2);
}

/// A push to the default branch changes the configuration to `text`; returns the comments
/// trainyard wrote on the pushed commit.
async fn push_config(world: &World, text: &str, delivery: &str) -> Vec<String> {
    world.github.set_config(text);
    let before = world.commit_comments.bodies().len();
    let fixture = std::fs::read_to_string(format!(
        "{}/fixtures/github-webhooks/push/with-new-branch.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let mut push: Value = serde_json::from_str(&fixture).expect("json");
    push["commits"][0]["modified"] = json!([".github/trainyard.yml"]);
    push["head_commit"]["modified"] = json!([".github/trainyard.yml"]);
    let after = push["after"].as_str().expect("after").to_owned();
    assert_eq!(
        world.deliver("push", delivery, &push).await,
        StatusCode::ACCEPTED
    );
    world.run_jobs().await;
    let paths = world.commit_comments.paths();
    assert!(
        paths
            .iter()
            .all(|p| *p == format!("/repos/{REPO}/commits/{after}/comments")),
        "{paths:?}"
    );
    world.commit_comments.bodies()[before..]
        .iter()
        .map(|b| b["body"].as_str().expect("body").to_owned())
        .collect()
}

async fn a_refused_configuration_is_reported_on_the_commit_and_in_the_channels(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    // A push to the default branch breaks the configuration.
    let broken = "chat:\n  slack-channel: C1\n  discord-channel: '555'\ntrains:\n  lines:\n    - name: main\n      boarding-lable: ship\n";
    let comments = push_config(&world, broken, "push-1").await;

    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0];
    assert!(body.contains("the last good one stays in force"), "{body}");
    assert!(body.contains("trains.lines[0].boarding-lable"), "{body}");
    let posts = texts(&world.slack_posts.bodies(), "text");
    assert!(
        posts
            .iter()
            .any(|t| t.contains("refused") && t.contains("boarding-lable")),
        "{posts:?}"
    );
    // The last good configuration still routes the channel.
    let (_, status) = world.slash("T1", "U-rick", "status", "t-after").await;
    assert!(
        status["text"]
            .as_str()
            .expect("text")
            .contains("Train main")
    );
}

async fn channels_the_bot_does_not_serve_or_cannot_post_in_refuse_the_configuration(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let routes_before = chat_store::announce_channels(&world.bot.db, &repo)
        .await
        .expect("routes");
    assert_eq!(routes_before.len(), 2, "{routes_before:?}");

    // Another team's workspace and guild.
    let comments = push_config(
        &world,
        "chat:\n  slack-channel: C9\n  discord-channel: '666'\n",
        "push-elsewhere",
    )
    .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains(
            "chat.slack-channel: channel #elsewhere (C9) belongs to workspace T2, which this trainyard does not serve"
        ),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains(
            "chat.discord-channel: channel #releases (666) belongs to guild 811000000000000002, which this trainyard does not serve"
        ),
        "{}",
        comments[0]
    );

    // Channels of the right workspace and guild that the bot cannot post in.
    let comments = push_config(
        &world,
        "chat:\n  slack-channel: C8\n  discord-channel: '777'\n",
        "push-unreachable",
    )
    .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("the bot is not in channel #general (C8); invite it there"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("chat.discord-channel: the bot cannot see channel 777"),
        "{}",
        comments[0]
    );

    // Nothing was routed there and nothing posted; the team's own channels heard of both.
    assert_eq!(
        chat_store::announce_channels(&world.bot.db, &repo)
            .await
            .expect("routes"),
        routes_before
    );
    let slack_channels: Vec<String> = world
        .slack_posts
        .bodies()
        .iter()
        .map(|b| b["channel"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        slack_channels.iter().all(|c| c == "C1"),
        "{slack_channels:?}"
    );
    assert!(
        world
            .discord_messages
            .paths()
            .iter()
            .all(|p| p == "/api/v10/channels/555/messages"),
        "{:?}",
        world.discord_messages.paths()
    );
    let refusals = texts(&world.slack_posts.bodies(), "text")
        .into_iter()
        .filter(|t| t.contains("refused"))
        .count();
    assert_eq!(refusals, 2);
}

/// A comment `body` by `login` on issue `issue`, delivered as GitHub would.
async fn comment_as(world: &World, delivery: &str, login: &str, issue: u64, body: &str) {
    world.github.set_now(world.clock.now());
    let comment = world.github.comment(login, issue, body);
    assert_eq!(
        world.deliver("issue_comment", delivery, &comment).await,
        StatusCode::ACCEPTED
    );
}

async fn an_answer_that_fails_is_sent_again_and_the_command_is_not_repeated(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    world
        .link(ChatSurface::Slack, "T1", "U-carol", "carol", 7)
        .await;
    world
        .link(ChatSurface::Slack, "T1", "U-maya", "maya", 8)
        .await;
    world.slash("T1", "U-carol", "cut", "t-cut").await;
    world.run_jobs().await;
    // A frozen train, and an open one with #2 on board.
    world.merge(2, "Fix the clock").await;
    world.run_jobs().await;
    // Slack's response_url fails once while the answer to `abandon` is sent.
    Mock::given(method("POST"))
        .and(path("/response/t-abandon"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&world.slack)
        .await;
    world.slash("T1", "U-maya", "abandon", "t-abandon").await;
    let first = world.bot.runner().run_pending().await.expect("jobs run");
    assert_eq!(
        first.rescheduled, 1,
        "the answer waits for Slack: {first:?}"
    );
    world.clock.advance(jiff::SignedDuration::from_secs(10));
    world.run_jobs().await;

    let repo = RepoFullName::parse(REPO).expect("repo");
    let abandoned = train_store::in_states(&world.bot.db, &repo, &[TrainState::Abandoned])
        .await
        .expect("trains");
    let open = train_store::in_states(&world.bot.db, &repo, &[TrainState::Open])
        .await
        .expect("trains");
    assert_eq!(abandoned.len(), 1, "exactly one train was abandoned");
    assert_eq!(abandoned[0].tag_name.as_deref(), Some("v1.0.1"));
    assert_eq!(open.len(), 1, "the open train is untouched");
    let aboard = train_store::passengers(&world.bot.db, open[0].id)
        .await
        .expect("passengers");
    assert_eq!(aboard.iter().map(|p| p.number).collect::<Vec<_>>(), [2]);
    let answers: Vec<Value> = world
        .responses
        .seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|(p, _)| p == "/response/t-abandon")
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "answered once after the retry: {answers:?}"
    );
    assert!(
        answers[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("the train was abandoned")),
        "{answers:?}"
    );
    // Only the abandoned train's draft was deleted.
    let deletes = world
        .github
        .log()
        .into_iter()
        .filter(|(method, _)| method == "DELETE")
        .count();
    assert_eq!(deletes, 1);
    // The Slack user's command and the deletion are each audited once, the command under
    // maya's GitHub identity.
    let query = trainyard::store::audit::Query {
        repository: Some(REPO.into()),
        since: None,
        limit: 100,
    };
    let trail = trainyard::store::audit::recent(&world.bot.db, &query)
        .await
        .expect("audit");
    let abandon: Vec<_> = trail
        .iter()
        .filter(|r| r.action == "command.abandon")
        .collect();
    assert_eq!(abandon.len(), 1, "{trail:#?}");
    assert_eq!(
        (
            abandon[0].actor_login.as_str(),
            abandon[0].actor_id,
            abandon[0].surface.as_str(),
            abandon[0].outcome.as_str()
        ),
        ("maya", Some(8), "slack", "accepted")
    );
    assert_eq!(
        trail
            .iter()
            .filter(|r| r.action == "github.draft_deleted")
            .count(),
        1,
        "{trail:#?}"
    );
    let drafts = world.github.drafts();
    assert_eq!(drafts.len(), 1, "the open train's draft stays");
    assert!(
        drafts[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("(#2)"))
    );
}

async fn an_outsiders_include_of_a_missing_pull_request_blocks_nothing(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    // An outsider and a writer both ask for a pull request that does not exist.
    comment_as(
        &world,
        "c-outsider",
        "mallory",
        5,
        "/release include #999999",
    )
    .await;
    comment_as(&world, "c-writer", "carol", 6, "/release include #999999").await;
    // A labelled merge right behind them.
    world.merge(13, "Add the platform clock").await;
    world.run_jobs().await;

    let reply_on = |issue: u64| world.replies_on(issue);
    // An outsider gets no answer, only one 😕.
    assert!(reply_on(5).is_empty(), "{:?}", reply_on(5));
    assert!(
        world
            .github
            .reactions()
            .iter()
            .any(|(_, content)| content == "confused")
    );
    assert_eq!(
        reply_on(6),
        [
            "**Codertocat/Hello-World include** refused: Codertocat/Hello-World has no pull \
          request #999999"
        ]
    );
    // The outsider did not make us look the pull request up.
    let lookups = world
        .github
        .log()
        .into_iter()
        .filter(|(_, path)| path.ends_with("/pulls/999999"))
        .count();
    assert_eq!(lookups, 1, "only the writer's include looked it up");
    assert_eq!(
        world
            .github
            .log()
            .iter()
            .filter(|(m, p)| m == "POST" && p.ends_with("/issues/5/comments"))
            .count(),
        0,
        "nothing written in reply to the outsider"
    );
    let repo = RepoFullName::parse(REPO).expect("repo");
    let open = train_store::in_states(&world.bot.db, &repo, &[TrainState::Open])
        .await
        .expect("trains");
    let aboard = train_store::passengers(&world.bot.db, open[0].id)
        .await
        .expect("passengers");
    assert_eq!(aboard.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 13]);
    let drafts = world.github.drafts();
    assert!(
        drafts.len() == 1
            && drafts[0]["body"]
                .as_str()
                .is_some_and(|b| b.contains("#13")),
        "the draft shows #13: {drafts:?}"
    );
}

async fn one_channel_that_fails_does_not_hold_up_the_others(test: TestDb) {
    let world = World::new(&test).await;
    // Slack refuses the channel for good (the bot was removed from it).
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
        )
        .with_priority(1)
        .mount(&world.slack)
        .await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    let discord = texts(&world.discord_messages.bodies(), "content");
    assert!(
        discord
            .iter()
            .any(|t| t.contains("Add the departure board")),
        "Discord hears of the boarding: {discord:?}"
    );
    let repo = RepoFullName::parse(REPO).expect("repo");
    let undelivered = train_store::undelivered_events(&world.bot.db, &repo)
        .await
        .expect("events");
    assert!(
        undelivered.is_empty(),
        "done with the refused channel skipped"
    );

    // Slack down for a while (5xx): Discord is served at once, Slack catches up in order.
    world.slack.reset().await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&world.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(world.slack_posts.clone())
        .mount(&world.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .respond_with(world.slack_updates.clone())
        .mount(&world.slack)
        .await;
    world.merge(2, "Fix the clock").await;
    let drained = world.bot.runner().run_pending().await.expect("run");
    assert_eq!(drained.dead, 0);
    let discord = texts(&world.discord_messages.bodies(), "content");
    assert!(
        discord.iter().any(|t| t.contains("Fix the clock")),
        "{discord:?}"
    );
    assert!(
        !texts(&world.slack_posts.bodies(), "text")
            .iter()
            .any(|t| t.contains("Fix the clock")),
        "Slack is still down"
    );
    world.clock.advance(jiff::SignedDuration::from_mins(5));
    world.run_jobs().await;
    let slack = texts(&world.slack_posts.bodies(), "text");
    assert!(
        slack.iter().any(|t| t.contains("Fix the clock")),
        "{slack:?}"
    );
}

/// A channel routed by a repository of another installation (another customer) is not
/// taken over by a push naming it; the refusal does not say whose it is.
async fn a_channel_of_another_installation_is_refused(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    let repo = RepoFullName::parse(REPO).expect("repo");
    let routes_before = chat_store::announce_channels(&world.bot.db, &repo)
        .await
        .expect("routes");
    // globex's repository, installed separately, announces in Slack's C1 already.
    let globex = RepoFullName::parse("globex/rockets").expect("repo");
    trainyard::store::installations::upsert(&world.bot.db, 99, "globex", 1)
        .await
        .expect("installation");
    trainyard::store::installations::add_repositories(
        &world.bot.db,
        99,
        std::slice::from_ref(&globex),
        1,
    )
    .await
    .expect("repositories");
    chat_store::set_routes(
        &world.bot.db,
        &globex,
        &[chat_store::Route {
            surface: chat_store::ChatSurface::Slack,
            channel: "C1".into(),
            announce: true,
        }],
    )
    .await
    .expect("routes");

    let comments = push_config(
        &world,
        "chat:\n  slack-channel: C1\n  discord-channel: '555'\nnotes:\n  template: x\n",
        "push-taken",
    )
    .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains(
            "chat.slack-channel: channel C1 already announces the releases of a repository of \
             another installation"
        ),
        "{}",
        comments[0]
    );
    assert!(!comments[0].contains("globex"), "{}", comments[0]);
    assert_eq!(
        chat_store::announce_channels(&world.bot.db, &repo)
            .await
            .expect("routes"),
        routes_before,
        "the last good routes stay"
    );
}

/// Discord's train thread: the card is a plain channel message, every event after it a reply
/// to the card (`message_reference`), as Slack's are replies in the card's thread.
async fn discord_events_are_replies_under_the_trains_card(test: TestDb) {
    let world = World::new(&test).await;
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    let payload = world.github.comment("carol", 7, "/release cut");
    assert_eq!(
        world.deliver("issue_comment", "cut-1", &payload).await,
        StatusCode::ACCEPTED
    );
    world.run_jobs().await;
    let messages = world.discord_messages.bodies();
    let paths = world.discord_messages.paths();
    assert!(messages.len() >= 3, "card, boarding, cut: {messages:?}");
    assert!(
        paths.iter().all(|p| p == "/api/v10/channels/555/messages"),
        "{paths:?}"
    );
    assert!(
        messages[0].get("message_reference").is_none(),
        "the card stands alone: {}",
        messages[0]
    );
    // The card was answered with id 7001.
    for reply in &messages[1..] {
        assert_eq!(reply["message_reference"]["message_id"], "7001", "{reply}");
        assert_eq!(reply["message_reference"]["channel_id"], "555", "{reply}");
        assert_eq!(
            reply["message_reference"]["fail_if_not_exists"], false,
            "{reply}"
        );
    }
    assert!(
        messages[1..].iter().any(|m| m["content"]
            .as_str()
            .is_some_and(|c| c.contains("was cut as"))),
        "{messages:?}"
    );
}

/// A line's scheduled cut is announced ahead in every channel of the repository, in the
/// train's thread: Slack and Discord alike.
async fn the_cut_reminder_reaches_slack_and_discord(test: TestDb) {
    use trainyard::jobs::BackgroundJob as _;
    let world = World::new(&test).await;
    world.github.set_config(concat!(
        "chat:\n  slack-channel: C1\n  discord-channel: '555'\n",
        "trains:\n  lines:\n    - name: main\n      branch: master\n",
        "      schedule: '45 9 * * *'\n      reminder: 30m\n",
    ));
    world.merge(1, "Add the departure board").await;
    world.run_jobs().await;
    // 09:15: the 09:45 cut is within the half hour.
    world.clock.advance(jiff::SignedDuration::from_mins(15));
    trainyard::handlers::trains::ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    world.run_jobs().await;
    let said = "will be cut at 09:45 UTC with 1 pull request on board";
    let slack: Vec<Value> = world
        .slack_posts
        .bodies()
        .into_iter()
        .filter(|p| p["text"].as_str().is_some_and(|t| t.contains(said)))
        .collect();
    assert_eq!(slack.len(), 1, "{:?}", world.slack_posts.bodies());
    assert_eq!(slack[0]["channel"], "C1");
    assert_eq!(
        slack[0]["thread_ts"], "1700000000.000001",
        "in the train's thread"
    );
    let discord: Vec<Value> = world
        .discord_messages
        .bodies()
        .into_iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(said)))
        .collect();
    assert_eq!(discord.len(), 1, "{:?}", world.discord_messages.bodies());
    assert_eq!(discord[0]["message_reference"]["message_id"], "7001");
    // A second check in the same slot tells nobody again.
    world.clock.advance(jiff::SignedDuration::from_mins(1));
    trainyard::handlers::trains::ScheduledCuts
        .run(world.bot.train_context())
        .await
        .expect("check");
    world.run_jobs().await;
    let again = world
        .discord_messages
        .bodies()
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(said)))
        .count();
    assert_eq!(again, 1);
}

on_both_backends!(
    discord_events_are_replies_under_the_trains_card,
    the_cut_reminder_reaches_slack_and_discord,
    a_channel_of_another_installation_is_refused,
    one_channel_that_fails_does_not_hold_up_the_others,
    an_answer_that_fails_is_sent_again_and_the_command_is_not_repeated,
    an_outsiders_include_of_a_missing_pull_request_blocks_nothing,
    unlink_forgets_and_a_spent_response_url_falls_back_to_the_channel,
    a_command_that_can_never_run_is_still_answered,
    a_refused_configuration_is_reported_on_the_commit_and_in_the_channels,
    slack_status_is_answered_within_the_request,
    slack_cut_is_acknowledged_then_its_outcome_posted,
    approve_buttons_release_for_maintainers_only,
    discord_ping_signatures_and_a_deferred_cut,
    a_pr_comment_includes_a_pull_request_in_the_frozen_train,
    mentions_in_user_text_are_escaped,
    channels_the_bot_does_not_serve_or_cannot_post_in_refuse_the_configuration,
    linking_is_told_to_the_chat_user_and_each_link_works_once,
    a_link_sent_to_someone_else_links_nobody,
    discord_linking_proves_the_discord_user,
    a_linked_account_acts_under_its_current_login,
    deployment_statuses_edit_one_message_and_a_production_failure_offers_rollback,
);

#[tokio::test]
async fn discord_commands_are_registered_per_guild_or_globally() {
    let discord = MockServer::start().await;
    let registered =
        Recorder::new(|_| ResponseTemplate::new(200).set_body_json(json!([{"id": "1"}])));
    Mock::given(method("PUT"))
        .and(path_regex(format!(
            "^/api/v10/applications/{DISCORD_APP}(/guilds/{GUILD_ID})?/commands$"
        )))
        .and(wiremock::matchers::header(
            "authorization",
            "Bot discord-bot-token",
        ))
        .respond_with(registered.clone())
        .mount(&discord)
        .await;
    let client = trainyard::chat::discord::DiscordClient::new(
        &format!("{}/api/v10", discord.uri()),
        DISCORD_APP,
        &Secret::new("discord-bot-token"),
    )
    .expect("client");
    let command = trainyard::inbound::discord::release_command();
    client
        .register_commands(Some(GUILD_ID), &command)
        .await
        .expect("guild");
    client
        .register_commands(None, &command)
        .await
        .expect("global");
    assert_eq!(
        registered.paths(),
        [
            format!("/api/v10/applications/{DISCORD_APP}/guilds/{GUILD_ID}/commands"),
            format!("/api/v10/applications/{DISCORD_APP}/commands"),
        ]
    );
    let sent = &registered.bodies()[0];
    assert_eq!(sent[0]["name"], "release");
    let subs: Vec<&str> = sent[0]["options"]
        .as_array()
        .expect("sub-commands")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        subs,
        [
            "help", "status", "notes", "preview", "cut", "rc", "approve", "reject", "hotfix",
            "include", "exclude", "abandon", "deploy", "rollback", "lock", "unlock", "deploys",
            "verify", "audit", "stats", "link", "unlink"
        ]
    );
}

/// Discord's 429 is a wait, not a refusal: the delivery is retried after it, and nothing is
/// dropped. (Against discord.com serenity's per-route buckets wait before Discord has to say
/// so; a fake origin is a proxy to serenity, which leaves the limiting to it.)
#[tokio::test]
async fn a_rate_limited_discord_answer_is_a_wait() {
    let discord = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v10/channels/555/messages"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false}),
        ))
        .mount(&discord)
        .await;
    let client = trainyard::chat::discord::DiscordClient::new(
        &format!("{}/api/v10", discord.uri()),
        DISCORD_APP,
        &Secret::new("discord-bot-token"),
    )
    .expect("client");
    let error = client
        .create_message(
            "555",
            None,
            &trainyard::chat::discord::DiscordMessage::text("hello"),
        )
        .await
        .expect_err("rate limited");
    assert!(
        matches!(error, trainyard::chat::ChatError::RateLimited { .. }),
        "{error:?}"
    );
    let sent = discord.received_requests().await.expect("requests");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers.get("authorization").map(|v| v.as_bytes()),
        Some(&b"Bot discord-bot-token"[..])
    );
}
