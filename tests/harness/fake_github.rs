//! A stateful fake GitHub behind wiremock: one repository with its commits, branches, pull
//! requests, refs and tag objects, releases, comments, reactions, collaborators and files.
//! Requests are applied to the model the way GitHub applies them (creating an existing ref
//! answers 422, publishing a release whose tag is missing tags the target), and webhooks are
//! generated from the same model, so both views agree. Faults are injected at the HTTP level
//! (`fail_next`): before the request is applied, or after it was (the answer is lost).
//! Requests no route knows are kept in `unexpected()`, for tests to fail on surprises.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::github_limits::Limits;
pub use super::github_limits::Primary;

/// The repository every story runs in.
pub const REPO: &str = "Codertocat/Hello-World";

/// When an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// The request fails and changes nothing.
    Before,
    /// The request is carried out, then its answer is lost (a 502).
    After,
}

#[derive(Debug, Clone)]
struct Fault {
    method: &'static str,
    path_contains: String,
    strike: Strike,
    times: usize,
}

#[derive(Debug, Clone)]
struct Pull {
    title: String,
    author: String,
    base: String,
    merged: bool,
    /// When it was merged: one second after the previous merge, from 08:00.
    merged_at: Option<String>,
    merge_sha: Option<String>,
    labels: Vec<String>,
    files: Vec<String>,
}

/// A merged pull request as a recorded history has it.
#[derive(Debug, Clone, Default)]
pub struct RecordedPull {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Author's login.
    pub author: String,
    /// Whether the author is a bot account.
    pub author_is_bot: bool,
    /// When it was merged (RFC 3339).
    pub merged_at: String,
    /// Labels, in order.
    pub labels: Vec<String>,
    /// Changed files.
    pub files: Vec<String>,
}

/// A comment as GitHub stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Id.
    pub id: u64,
    /// Issue or pull request number.
    pub issue: u64,
    /// Body.
    pub body: String,
    /// Who wrote it.
    pub author: String,
}

/// A deployment GitHub holds.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// GitHub's id.
    pub id: u64,
    /// The ref asked for.
    pub git_ref: String,
    /// Its commit.
    pub sha: String,
    /// Environment.
    pub environment: String,
    /// The request as sent.
    pub request: Value,
    /// Who created it.
    pub creator: String,
}

/// A check run GitHub holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRun {
    /// GitHub's id.
    pub id: u64,
    /// The commit it is on.
    pub head_sha: String,
    /// Its name.
    pub name: String,
    /// The App's own id for it.
    pub external_id: Option<String>,
    /// Its title as last written.
    pub title: String,
    /// Its summary as last written.
    pub summary: String,
    /// Its conclusion.
    pub conclusion: String,
    /// Its link.
    pub details_url: Option<String>,
    /// How often it was written (created, then updated).
    pub writes: u32,
}

/// The App's answer to a workflow run's job waiting on its protection rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectionReview {
    /// The run.
    pub run_id: u64,
    /// The environment.
    pub environment: String,
    /// `approved` or `rejected`.
    pub state: String,
    /// The comment shown on the run.
    pub comment: String,
}

#[derive(Default)]
struct State {
    /// The repository's `owner/name`.
    repo: String,
    /// Pages of the commit history GitHub's GraphQL `compare` answers with (a story that
    /// serves a recorded history: release-drafter's cases).
    history: Vec<Value>,
    /// Commit sha → parent sha.
    parents: HashMap<String, Option<String>>,
    branches: BTreeMap<String, String>,
    pulls: BTreeMap<u64, Pull>,
    /// `tags/v1.0.0` → sha (a commit, or a tag object).
    refs: BTreeMap<String, String>,
    /// Tag object sha → (tag, message, commit).
    tag_objects: HashMap<String, (String, String, String)>,
    releases: Vec<Value>,
    comments: Vec<Comment>,
    reactions: Vec<(u64, String)>,
    commit_comments: Vec<(String, String)>,
    collaborators: HashMap<String, (String, String)>,
    files: HashMap<String, String>,
    /// Files written on branches other than master: (branch, path) → text.
    branch_files: HashMap<(String, String), String>,
    /// Branches whose rules refuse direct commits.
    protected: Vec<String>,
    /// Files written through the contents API: (branch, path, commit message).
    content_writes: Vec<(String, String, String)>,
    /// Pull requests opened through the API: number → head branch.
    pull_heads: BTreeMap<u64, String>,
    /// GitHub user id → current login.
    users: HashMap<i64, String>,
    /// Who is signed in to GitHub in the browser (the sign-in page answers for them).
    signed_in: Option<(i64, String)>,
    /// Search queries received.
    searches: Vec<String>,
    /// `POST /releases/generate-notes` requests, as sent.
    generate_notes_calls: Vec<Value>,
    /// `POST /issues/{n}/labels` calls: (number, labels).
    label_calls: Vec<(u64, Vec<String>)>,
    /// Sign-in codes handed out, each good once.
    sign_in_codes: HashMap<String, (i64, String)>,
    /// Whose token was handed out last (`GET /user` answers for it).
    token_user: Option<(i64, String)>,
    /// Deployments, as created.
    deployments: Vec<Deployment>,
    /// How the next deployment requests are answered instead of creating them.
    deployment_answers: Vec<ResponseTemplate>,
    /// Check runs, as created and updated.
    check_runs: Vec<CheckRun>,
    /// Each write to a check run (its id), in order.
    check_writes: Vec<u64>,
    /// Workflow runs' jobs waiting for the App's protection rule: run id → environments.
    pending_protection: BTreeMap<u64, Vec<String>>,
    /// The App's answers to protection rule requests, as received.
    protection_reviews: Vec<ProtectionReview>,
    /// Environments with the App enabled as their protection rule (`None`: not visible).
    protected_environments: HashMap<String, bool>,
    faults: Vec<Fault>,
    /// GitHub's limits: content writes, the primary budget, secondary-limit answers.
    limits: Limits,
    /// Other repositories (`owner/name`) served as this one, for stories with several
    /// installations.
    aliases: Vec<String>,
    /// GitHub's clock, for comment times (RFC 3339).
    now: String,
    unexpected: Vec<String>,
    log: Vec<(String, String)>,
    next_id: u64,
    next_sha: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn sha(&mut self) -> String {
        use sha2::Digest as _;
        self.next_sha += 1;
        let digest = sha2::Sha256::digest(format!("commit {}", self.next_sha).as_bytes());
        hex::encode(digest)[..40].to_owned()
    }

    /// A branch, tag, `refs/…` name or sha, as a commit sha.
    fn resolve(&self, name: &str) -> Option<String> {
        let name = name.strip_prefix("refs/").unwrap_or(name);
        if let Some(sha) = self
            .branches
            .get(name.strip_prefix("heads/").unwrap_or(name))
        {
            return Some(sha.clone());
        }
        let tag = name.strip_prefix("tags/").unwrap_or(name);
        if let Some(sha) = self.refs.get(&format!("tags/{tag}")) {
            return Some(self.peel(sha));
        }
        self.parents.contains_key(name).then(|| name.to_owned())
    }

    fn peel(&self, sha: &str) -> String {
        match self.tag_objects.get(sha) {
            Some((_, _, commit)) => commit.clone(),
            None => sha.to_owned(),
        }
    }

    fn is_ancestor(&self, ancestor: &str, of: &str) -> bool {
        let mut at = Some(of.to_owned());
        while let Some(sha) = at {
            if sha == ancestor {
                return true;
            }
            at = self.parents.get(&sha).cloned().flatten();
        }
        false
    }

    fn commit_on(&mut self, branch: &str) -> String {
        let parent = self.branches.get(branch).cloned();
        let sha = self.sha();
        self.parents.insert(sha.clone(), parent);
        self.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    fn pull_json(&self, number: u64, pull: &Pull) -> Value {
        json!({
            "number": number, "title": pull.title, "merged": pull.merged,
            "merge_commit_sha": pull.merge_sha, "state": if pull.merged { "closed" } else { "open" },
            "merged_at": pull.merged_at,
            "base": {"ref": pull.base}, "user": {"login": pull.author, "type": "User"},
            "head": {"sha": head_sha(number)},
            "labels": pull.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        })
    }
}

/// The fake. Cheap to clone; every clone sees the same GitHub.
#[derive(Clone)]
pub struct FakeGitHub {
    /// The wiremock server it answers on.
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
}

impl FakeGitHub {
    /// A repository with one published release, v1.0.0, tagged at the first commit of
    /// `master`; maya maintains it, carol writes, rick reads.
    pub async fn start() -> FakeGitHub {
        FakeGitHub::start_as(REPO).await
    }

    /// [`FakeGitHub::start`] for the repository `repo` (`owner/name`).
    pub async fn start_as(repo: &str) -> FakeGitHub {
        let server = MockServer::start().await;
        let fake = FakeGitHub {
            server: Arc::new(server),
            state: Arc::default(),
        };
        {
            let mut s = fake.lock();
            s.repo = repo.to_owned();
            let root = s.commit_on("master");
            s.refs.insert("tags/v1.0.0".into(), root);
            s.releases.push(json!({
                "id": 1, "tag_name": "v1.0.0", "name": "v1.0.0", "draft": false,
                "prerelease": false, "created_at": "2026-10-01T00:00:00Z",
                "target_commitish": "master", "html_url": format!("https://github.com/{repo}/releases/1"),
                "body": "first"
            }));
            s.next_id = 100;
            s.now = "2026-11-27T09:00:00Z".into();
            for (login, permission, role) in [
                ("maya", "admin", "maintain"),
                ("dave", "admin", "maintain"),
                ("carol", "write", "write"),
                ("rick", "read", "read"),
            ] {
                s.collaborators
                    .insert(login.into(), (permission.into(), role.into()));
            }
        }
        // The lowest priority: a story may still mount a mock of its own for a route (GitHub's
        // web sign-in, an answer the model does not give).
        Mock::given(any())
            .respond_with(fake.clone())
            .with_priority(u8::MAX)
            .mount(&fake.server)
            .await;
        fake
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The repository's `owner/name`.
    pub fn repo(&self) -> String {
        self.lock().repo.clone()
    }

    /// The base URL to point the client at.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The deployments created, in order.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.lock().deployments.clone()
    }

    /// The next deployment request is answered with `status` and `body` (409 conflict, 422
    /// failing contexts, 202 merged) instead of creating a deployment.
    pub fn answer_next_deployment(&self, status: u16, body: Value) {
        self.lock()
            .deployment_answers
            .push(ResponseTemplate::new(status).set_body_json(body));
    }

    /// CI (`github-actions[bot]`) deploys `git_ref` to `environment` itself; returns the
    /// `deployment` webhook.
    pub fn deploy_by_ci(&self, git_ref: &str, environment: &str) -> Value {
        let mut s = self.lock();
        let sha = s.resolve(git_ref).unwrap_or_else(|| git_ref.to_owned());
        let id = s.id();
        let deployment = Deployment {
            id,
            git_ref: git_ref.into(),
            sha,
            environment: environment.into(),
            request: json!({"ref": git_ref, "environment": environment, "payload": {}}),
            creator: "github-actions[bot]".into(),
        };
        s.deployments.push(deployment.clone());
        let mut payload = fixture("deployment/with-installation.payload.json");
        payload["deployment"] = deployment_json(&deployment);
        payload
    }

    /// A workflow run (`run_id`, started by `sender` on `event`) reaches a job deploying
    /// `git_ref` to `environment`, which has the App as its protection rule: the job waits,
    /// and this is the `deployment_protection_rule` webhook GitHub sends.
    pub fn workflow_waits(
        &self,
        run_id: u64,
        git_ref: &str,
        environment: &str,
        sender: &str,
    ) -> Value {
        let mut s = self.lock();
        let sha = s.resolve(git_ref).unwrap_or_else(|| git_ref.to_owned());
        let id = s.id();
        let pending = s.pending_protection.entry(run_id).or_default();
        if !pending.iter().any(|e| e == environment) {
            pending.push(environment.to_owned());
        }
        let deployment = Deployment {
            id,
            git_ref: git_ref.into(),
            sha: sha.clone(),
            environment: environment.into(),
            request: json!({"ref": git_ref, "environment": environment, "payload": {}}),
            creator: "github-actions[bot]".into(),
        };
        let mut payload = fixture("deployment_protection_rule/requested.payload.json");
        payload["environment"] = environment.into();
        payload["ref"] = git_ref.into();
        payload["sha"] = sha.into();
        payload["deployment"] = deployment_json(&deployment);
        payload["deployment_callback_url"] = format!(
            "https://api.github.com/repos/{}/actions/runs/{run_id}/deployment_protection_rule",
            s.repo
        )
        .into();
        payload["sender"]["login"] = sender.into();
        payload["sender"]["type"] = if sender.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        }
        .into();
        payload
    }

    /// The check runs, as GitHub holds them.
    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.lock().check_runs.clone()
    }

    /// The `trainyard` check run of pull request `number` (on its head commit).
    pub fn check_of(&self, number: u64) -> Option<CheckRun> {
        let head = head_sha(number);
        self.lock()
            .check_runs
            .iter()
            .find(|r| r.head_sha == head && r.name == "trainyard")
            .cloned()
    }

    /// How many check-run writes (creations and updates) GitHub has received.
    pub fn check_writes(&self) -> usize {
        self.lock().check_writes.len()
    }

    /// The App's answers to protection rule requests, in order.
    pub fn protection_reviews(&self) -> Vec<ProtectionReview> {
        self.lock().protection_reviews.clone()
    }

    /// Whether the App is an enabled protection rule of `environment`.
    pub fn set_protection_rule(&self, environment: &str, enabled: bool) {
        self.lock()
            .protected_environments
            .insert(environment.to_owned(), enabled);
    }

    /// The `deployment_status` webhook GitHub sends when deployment `id` reports `state`.
    pub fn deployment_status(&self, id: u64, state: &str, url: Option<&str>) -> Value {
        let mut s = self.lock();
        let Some(deployment) = s.deployments.iter().find(|d| d.id == id).cloned() else {
            panic!("no deployment {id}");
        };
        let status_id = s.id();
        let mut payload = fixture("deployment_status/with-installation.payload.json");
        payload["deployment"] = deployment_json(&deployment);
        payload["deployment_status"] = json!({
            "id": status_id, "state": state, "environment": deployment.environment,
            "description": format!("{state} on {}", deployment.environment),
            "environment_url": url.unwrap_or(""), "log_url": "", "target_url": "",
            "creator": {"login": "deploy-bot", "type": "Bot", "id": 5},
        });
        payload
    }

    /// The browser is signed in to GitHub as `login` (id `id`): GitHub's sign-in page sends it
    /// straight back to the App with a code for that account.
    pub fn sign_in_as(&self, id: i64, login: &str) {
        let mut state = self.lock();
        state.users.insert(id, login.into());
        state.signed_in = Some((id, login.into()));
    }

    /// The GitHub user with id `id` is now called `login` (`GET /user/{id}`).
    pub fn set_user(&self, id: i64, login: &str) {
        self.lock().users.insert(id, login.into());
    }

    /// `login` has `permission` (`admin`, `write`, `read`) and `role` on the repository.
    pub fn set_collaborator(&self, login: &str, permission: &str, role: &str) {
        self.lock()
            .collaborators
            .insert(login.into(), (permission.into(), role.into()));
    }

    /// The GitHub account with id `id` is deleted.
    pub fn delete_user(&self, id: i64) {
        self.lock().users.remove(&id);
    }

    /// Serves `text` as the repository's `.github/trainyard.yml`.
    pub fn set_config(&self, text: &str) {
        self.lock()
            .files
            .insert(".github/trainyard.yml".into(), text.into());
    }

    /// The next `times` requests whose method is `method` and path contains `path` fail.
    pub fn fail_next(&self, method: &'static str, path: &str, strike: Strike, times: usize) {
        self.lock().faults.push(Fault {
            method,
            path_contains: path.into(),
            strike,
            times,
        });
    }

    /// Merges a new pull request into `base` (a new commit on it); returns the
    /// `pull_request.closed` webhook GitHub sends.
    pub fn merge_pr(&self, number: u64, title: &str, labels: &[&str], base: &str) -> Value {
        self.merge_pr_by(number, title, labels, base, "octocat")
    }

    /// [`FakeGitHub::merge_pr`] for a pull request written by `author`.
    pub fn merge_pr_by(
        &self,
        number: u64,
        title: &str,
        labels: &[&str],
        base: &str,
        author: &str,
    ) -> Value {
        let mut s = self.lock();
        let sha = s.commit_on(base);
        let merges = s.pulls.values().filter(|p| p.merged).count();
        let pull = Pull {
            title: title.into(),
            author: author.into(),
            base: base.into(),
            merged: true,
            merged_at: Some(format!(
                "2026-11-27T{:02}:{:02}:{:02}Z",
                8 + merges / 3600,
                merges / 60 % 60,
                merges % 60
            )),
            merge_sha: Some(sha),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            files: Vec::new(),
        };
        let mut payload = fixture("pull_request/closed.payload.json");
        payload["pull_request"] = merge(&payload["pull_request"], &s.pull_json(number, &pull));
        payload["number"] = json!(number);
        s.pulls.insert(number, pull);
        payload
    }

    /// A pull request as a recorded history has it merged into `master`: its own merge
    /// time, author, body, labels and changed files; returns the webhook.
    pub fn merge_recorded(&self, pr: &RecordedPull) -> Value {
        let mut s = self.lock();
        let sha = s.commit_on("master");
        let pull = Pull {
            title: pr.title.clone(),
            author: pr.author.clone(),
            base: "master".into(),
            merged: true,
            merged_at: Some(pr.merged_at.clone()),
            merge_sha: Some(sha),
            labels: pr.labels.clone(),
            files: pr.files.clone(),
        };
        let mut payload = fixture("pull_request/closed.payload.json");
        payload["pull_request"] = merge(&payload["pull_request"], &s.pull_json(pr.number, &pull));
        payload["pull_request"]["body"] = json!(pr.body);
        payload["pull_request"]["user"]["type"] =
            json!(if pr.author_is_bot { "Bot" } else { "User" });
        payload["number"] = json!(pr.number);
        s.pulls.insert(pr.number, pull);
        payload
    }

    /// The repository's releases are `releases` (GitHub's objects, newest first).
    pub fn set_releases(&self, releases: Vec<Value>) {
        let mut s = self.lock();
        s.releases = releases;
        s.releases.reverse();
    }

    /// GraphQL `compare` answers with these pages of history (each a whole response).
    pub fn serve_history(&self, pages: Vec<Value>) {
        self.lock().history = pages;
    }

    /// A pull request opened (`action` `opened`, `synchronize`, `edited` or `reopened`) from
    /// branch `head` with `title` and `body`; returns the webhook. GitHub keeps its labels.
    pub fn open_pr(
        &self,
        number: u64,
        action: &str,
        head: &str,
        title: &str,
        body: Option<&str>,
    ) -> Value {
        let mut s = self.lock();
        let labels = s
            .pulls
            .get(&number)
            .map(|p| p.labels.clone())
            .unwrap_or_default();
        let files = s
            .pulls
            .get(&number)
            .map(|p| p.files.clone())
            .unwrap_or_default();
        let pull = Pull {
            title: title.into(),
            author: "octocat".into(),
            base: "master".into(),
            merged: false,
            merged_at: None,
            merge_sha: None,
            labels,
            files,
        };
        let mut payload = fixture("pull_request/opened.payload.json");
        payload["action"] = json!(action);
        payload["pull_request"] = merge(&payload["pull_request"], &s.pull_json(number, &pull));
        payload["pull_request"]["head"]["ref"] = json!(head);
        payload["pull_request"]["body"] = json!(body);
        payload["pull_request"]["merged_at"] = Value::Null;
        payload["number"] = json!(number);
        s.pulls.insert(number, pull);
        payload
    }

    /// Search queries GitHub received.
    pub fn searches(&self) -> Vec<String> {
        self.lock().searches.clone()
    }

    /// `generate-notes` requests GitHub received.
    pub fn generate_notes_calls(&self) -> Vec<Value> {
        self.lock().generate_notes_calls.clone()
    }

    /// Puts `text` at `path` on the default branch (`None` removes it).
    pub fn set_file(&self, path: &str, text: Option<&str>) {
        let mut s = self.lock();
        match text {
            Some(text) => {
                s.files.insert(path.into(), text.into());
            }
            None => {
                s.files.remove(path);
            }
        }
    }

    /// File `path` reads `text` at `reference` (a branch or a commit, as `?ref=` names it).
    pub fn set_file_at(&self, reference: &str, path: &str, text: &str) {
        self.lock()
            .branch_files
            .insert((reference.to_owned(), path.to_owned()), text.to_owned());
    }

    /// Rules on `branch` refuse direct commits from now on.
    pub fn protect(&self, branch: &str) {
        self.lock().protected.push(branch.to_owned());
    }

    /// A file's text on `branch` (master's files are the repository's files).
    pub fn file_on(&self, branch: &str, path: &str) -> Option<String> {
        let s = self.lock();
        if branch == "master" {
            return s.files.get(path).cloned();
        }
        s.branch_files
            .get(&(branch.to_owned(), path.to_owned()))
            .cloned()
    }

    /// Files written through the contents API: (branch, path, commit message).
    pub fn content_writes(&self) -> Vec<(String, String, String)> {
        self.lock().content_writes.clone()
    }

    /// Pull requests opened through the API: (number, head branch, base, title, labels).
    pub fn opened_pulls(&self) -> Vec<(u64, String, String, String, Vec<String>)> {
        let s = self.lock();
        s.pull_heads
            .iter()
            .filter_map(|(number, head)| {
                let pull = s.pulls.get(number)?;
                Some((
                    *number,
                    head.clone(),
                    pull.base.clone(),
                    pull.title.clone(),
                    pull.labels.clone(),
                ))
            })
            .collect()
    }

    /// Label calls GitHub received: (pull request, labels asked for).
    pub fn label_calls(&self) -> Vec<(u64, Vec<String>)> {
        self.lock().label_calls.clone()
    }

    /// The labels pull request `number` has now.
    pub fn labels_of(&self, number: u64) -> Vec<String> {
        self.lock()
            .pulls
            .get(&number)
            .map(|p| p.labels.clone())
            .unwrap_or_default()
    }

    /// The files a pull request changed (for path-scoped lines).
    pub fn set_files(&self, number: u64, files: &[&str]) {
        if let Some(pull) = self.lock().pulls.get_mut(&number) {
            pull.files = files.iter().map(|f| (*f).to_owned()).collect();
        }
    }

    /// A label put on (or, with `on: false`, taken off) pull request `number`; returns the
    /// `pull_request.labeled` / `unlabeled` webhook.
    pub fn label(&self, number: u64, label: &str, on: bool) -> Value {
        let mut s = self.lock();
        let Some(pull) = s.pulls.get_mut(&number) else {
            panic!("no pull request #{number}");
        };
        pull.labels.retain(|l| l != label);
        if on {
            pull.labels.push(label.to_owned());
        }
        let pull = pull.clone();
        let mut payload = fixture("pull_request/closed.payload.json");
        payload["action"] = json!(if on { "labeled" } else { "unlabeled" });
        payload["pull_request"] = merge(&payload["pull_request"], &s.pull_json(number, &pull));
        payload["number"] = json!(number);
        payload["label"] = json!({"name": label});
        payload
    }

    /// `login` edits release `id`'s body on GitHub; returns the `release.edited` webhook.
    pub fn edit_release(&self, login: &str, id: u64, body: &str) -> Value {
        let release = {
            let mut s = self.lock();
            let Some(release) = s.releases.iter_mut().find(|r| r["id"] == json!(id)) else {
                panic!("no release {id}");
            };
            release["body"] = json!(body);
            release.clone()
        };
        release_webhook("edited", &release, login)
    }

    /// `login` publishes draft `id` on GitHub (pointing it at `target` first, when given, as
    /// GitHub's form allows), which tags its target when the tag does not exist; returns the
    /// `release.published` webhook.
    pub fn publish_by_hand(&self, login: &str, id: u64, target: Option<&str>) -> Value {
        let release = {
            let mut s = self.lock();
            let Some(index) = s.releases.iter().position(|r| r["id"] == json!(id)) else {
                panic!("no release {id}");
            };
            s.releases[index]["draft"] = json!(false);
            if let Some(target) = target {
                s.releases[index]["target_commitish"] = json!(target);
            }
            let release = s.releases[index].clone();
            publish_tags(&mut s, &release);
            release
        };
        release_webhook("published", &release, login)
    }

    /// A tag made outside trainyard.
    pub fn add_tag(&self, tag: &str, commit: &str) {
        self.lock()
            .refs
            .insert(format!("tags/{tag}"), commit.to_owned());
    }

    /// The draft releases.
    pub fn drafts(&self) -> Vec<Value> {
        self.lock()
            .releases
            .iter()
            .filter(|r| r["draft"] == json!(true))
            .cloned()
            .collect()
    }

    /// A commit pushed to `branch` outside any pull request; returns its sha.
    pub fn push(&self, branch: &str) -> String {
        self.lock().commit_on(branch)
    }

    /// What GitHub's clock says (comments are stamped with it).
    pub fn set_now(&self, now: jiff::Timestamp) {
        self.lock().now = now.to_string();
    }

    /// `login` comments `body` on issue or pull request `issue`; returns the
    /// `issue_comment.created` webhook.
    pub fn comment(&self, login: &str, issue: u64, body: &str) -> Value {
        let mut s = self.lock();
        let id = s.id();
        s.comments.push(Comment {
            id,
            issue,
            body: body.into(),
            author: login.into(),
        });
        let mut payload = fixture("issue_comment/created.with-installation.payload.json");
        payload["comment"] = comment_json(&s, id, login, body);
        payload["issue"]["number"] = json!(issue);
        payload["sender"] = json!({"login": login, "type": "User", "id": 77});
        payload
    }

    /// `editor` edits comment `id` to `body`; returns the `issue_comment.edited` webhook (its
    /// `sender` is the editor, its comment's `user` still the author).
    pub fn edit_comment(&self, editor: &str, id: u64, body: &str) -> Value {
        let mut s = self.lock();
        let Some(index) = s.comments.iter().position(|c| c.id == id) else {
            panic!("no comment {id}");
        };
        let before = std::mem::replace(&mut s.comments[index].body, body.into());
        let (issue, author) = (s.comments[index].issue, s.comments[index].author.clone());
        let mut payload = fixture("issue_comment/created.with-installation.payload.json");
        payload["action"] = json!("edited");
        payload["changes"] = json!({"body": {"from": before}});
        payload["comment"] = comment_json(&s, id, &author, body);
        payload["issue"]["number"] = json!(issue);
        payload["sender"] = json!({"login": editor, "type": "User", "id": 78});
        payload
    }

    /// The commit a branch points to.
    pub fn head(&self, branch: &str) -> String {
        self.lock()
            .branches
            .get(branch)
            .cloned()
            .unwrap_or_default()
    }

    /// Every tag, as (name, the commit it names, whether it is an annotated tag object).
    pub fn tags(&self) -> Vec<(String, String, bool)> {
        let s = self.lock();
        s.refs
            .iter()
            .filter_map(|(name, sha)| {
                let tag = name.strip_prefix("tags/")?;
                Some((tag.to_owned(), s.peel(sha), s.tag_objects.contains_key(sha)))
            })
            .collect()
    }

    /// An annotated tag's message.
    pub fn tag_message(&self, tag: &str) -> Option<String> {
        let s = self.lock();
        let sha = s.refs.get(&format!("tags/{tag}"))?;
        s.tag_objects
            .get(sha)
            .map(|(_, message, _)| message.clone())
    }

    /// The releases, oldest first.
    pub fn releases(&self) -> Vec<Value> {
        self.lock().releases.clone()
    }

    /// Comments on commits, as (sha, body).
    pub fn commit_comments(&self) -> Vec<(String, String)> {
        self.lock().commit_comments.clone()
    }

    /// Comments written, oldest first (the test's own included).
    pub fn comments(&self) -> Vec<Comment> {
        self.lock().comments.clone()
    }

    /// Comments on `issue` written by the bot (bodies, hidden markers removed).
    pub fn bot_comments_on(&self, issue: u64) -> Vec<String> {
        let s = self.lock();
        s.comments
            .iter()
            .filter(|c| c.issue == issue && c.body.contains("<!-- trainyard:"))
            .map(|c| visible(&c.body))
            .collect()
    }

    /// Reactions, as (comment id, content).
    pub fn reactions(&self) -> Vec<(u64, String)> {
        self.lock().reactions.clone()
    }

    /// Requests no route of the fake knows.
    pub fn unexpected(&self) -> Vec<String> {
        self.lock().unexpected.clone()
    }

    /// Requests made, as (method, path), in order.
    pub fn log(&self) -> Vec<(String, String)> {
        self.lock().log.clone()
    }

    /// GitHub's minutes and hours pass with `clock` (the bot's): its content limits are
    /// counted by it.
    pub fn watch_clock(&self, clock: trainyard::clock::ManualClock) {
        self.lock().limits.watch(clock);
    }

    /// Also serves `repo` (`owner/name`, another account's: another installation) as this
    /// repository: same pulls, same releases, calls logged under its own path.
    pub fn also_serve(&self, repo: &str) {
        self.lock().aliases.push(repo.to_owned());
    }

    /// Reports `account`'s primary budget in every answer's headers.
    pub fn set_primary_budget(&self, account: &str, budget: Primary) {
        self.lock()
            .limits
            .primary
            .insert(account.to_owned(), budget);
    }

    /// The next content-creating write whose path contains `path` is answered with GitHub's
    /// secondary limit: `403` and `retry-after`.
    pub fn secondary_limit_next(&self, path: &str, retry_after_secs: u64) {
        self.lock().limits.refuse_next = Some((path.to_owned(), retry_after_secs));
    }

    /// Secondary-limit `403`s GitHub answered.
    pub fn secondary_limit_answers(&self) -> usize {
        self.lock().limits.secondary_answers
    }

    /// Content-creating writes carried out: (epoch ms by the watched clock, account,
    /// `METHOD path`).
    pub fn content_creating_writes(&self) -> Vec<(i64, String, String)> {
        self.lock().limits.writes.clone()
    }

    /// The most content-creating writes of `account` in any minute and any hour.
    pub fn busiest_content_writes(&self, account: &str) -> (usize, usize) {
        self.lock().limits.busiest(account)
    }

    fn answer(&self, method: &str, path: &str, query: &str, body: &Value) -> ResponseTemplate {
        let mut s = self.lock();
        s.log.push((method.to_owned(), path.to_owned()));
        if let Some(refused) = s.limits.before(method, path) {
            return refused;
        }
        let served = s.aliases.iter().find_map(|alias| {
            path.strip_prefix(&format!("/repos/{alias}"))
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| format!("/repos/{}{rest}", s.repo))
        });
        let answer = self.answer_as(
            &mut s,
            method,
            served.as_deref().unwrap_or(path),
            query,
            body,
        );
        s.limits.after(path, answer)
    }

    fn answer_as(
        &self,
        s: &mut State,
        method: &str,
        path: &str,
        query: &str,
        body: &Value,
    ) -> ResponseTemplate {
        let fault = s
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == method && path.contains(&f.path_contains))
            .map(|f| {
                f.times -= 1;
                f.strike
            });
        if fault == Some(Strike::Before) {
            return ResponseTemplate::new(502).set_body_string("Bad Gateway");
        }
        let answer = route(s, method, path, query, body);
        if fault == Some(Strike::After) {
            return ResponseTemplate::new(502).set_body_string("Bad Gateway");
        }
        answer
    }
}

impl Respond for FakeGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let path = percent_decode_str(request.url.path())
            .decode_utf8_lossy()
            .into_owned();
        self.answer(
            request.method.as_str(),
            &path,
            request.url.query().unwrap_or(""),
            &body,
        )
    }
}

fn route(s: &mut State, method: &str, path: &str, query: &str, body: &Value) -> ResponseTemplate {
    if method == "POST" && path.starts_with("/app/installations/") {
        return ResponseTemplate::new(201)
            .set_body_json(json!({"token": "ghs_fake", "expires_at": "2099-01-01T00:00:00Z"}));
    }
    if method == "POST" && path == "/graphql" {
        return graphql(s, body);
    }
    if method == "GET" && path == "/login/oauth/authorize" {
        let query: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
        let Some((id, login)) = s.signed_in.clone() else {
            return ResponseTemplate::new(200).set_body_string("Sign in to GitHub");
        };
        let code = format!("code-{id}-{}", s.sign_in_codes.len() + 1);
        s.sign_in_codes.insert(code.clone(), (id, login));
        let to = format!(
            "{}?code={code}&state={}",
            query.get("redirect_uri").cloned().unwrap_or_default(),
            query.get("state").cloned().unwrap_or_default()
        );
        return ResponseTemplate::new(302).insert_header("location", to.as_str());
    }
    if method == "POST" && path == "/login/oauth/access_token" {
        let code = body["code"].as_str().unwrap_or_default();
        return match s.sign_in_codes.remove(code) {
            Some(user) => {
                s.token_user = Some(user);
                ResponseTemplate::new(200).set_body_json(
                    json!({"access_token": format!("gho_{code}"), "token_type": "bearer"}),
                )
            }
            None => {
                ResponseTemplate::new(200).set_body_json(json!({"error": "bad_verification_code"}))
            }
        };
    }
    if method == "GET" && path == "/user" {
        return match s.token_user.clone() {
            Some((id, login)) => {
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "login": login}))
            }
            None => ResponseTemplate::new(401),
        };
    }
    // The App's installations the signed-in person can reach with their own token, and
    // their repositories: installation 1 holds the repository, reachable by its collaborators.
    let reaches = s
        .token_user
        .as_ref()
        .is_some_and(|(_, login)| s.collaborators.contains_key(login.as_str()));
    if method == "GET" && path == "/user/installations" {
        let installations: Vec<Value> = if reaches {
            vec![
                json!({"id": 1, "account": {"login": s.repo.split('/').next().unwrap_or_default()}}),
            ]
        } else {
            Vec::new()
        };
        return ResponseTemplate::new(200).set_body_json(
            json!({"total_count": installations.len(), "installations": installations}),
        );
    }
    if method == "GET" && path == "/user/installations/1/repositories" {
        let repositories: Vec<Value> = if reaches {
            vec![json!({"full_name": s.repo})]
        } else {
            Vec::new()
        };
        return ResponseTemplate::new(200).set_body_json(
            json!({"total_count": repositories.len(), "repositories": repositories}),
        );
    }
    if let Some(id) = path.strip_prefix("/user/") {
        return match id.parse::<i64>().ok().and_then(|id| s.users.get(&id)) {
            Some(login) => ResponseTemplate::new(200).set_body_json(json!({"login": login})),
            None => not_found(),
        };
    }
    let repo = s.repo.clone();
    let Some(rest) = path.strip_prefix(&format!("/repos/{repo}")) else {
        s.unexpected.push(format!("{method} {path}"));
        return not_found();
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').splitn(3, '/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["installation"]) => ResponseTemplate::new(200).set_body_json(json!({"id": 1})),
        ("GET", ["collaborators", login, "permission"]) => match s.collaborators.get(*login) {
            Some((permission, role)) => ResponseTemplate::new(200)
                .set_body_json(json!({"permission": permission, "role_name": role})),
            None => not_found(),
        },
        ("PUT", ["contents", first, rest @ ..]) => {
            let file = std::iter::once(*first)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join("/");
            put_file(s, &file, body)
        }
        ("GET", ["contents", first, rest @ ..]) => {
            let file = std::iter::once(*first)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join("/");
            let pairs: HashMap<String, String> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            let on_branch = pairs
                .get("ref")
                .and_then(|branch| s.branch_files.get(&(branch.clone(), file.clone())));
            match on_branch.or_else(|| s.files.get(&file)) {
                Some(text) => {
                    use base64::Engine as _;
                    ResponseTemplate::new(200).set_body_json(json!({
                        "type": "file", "encoding": "base64", "sha": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
                        "content": base64::engine::general_purpose::STANDARD.encode(text),
                    }))
                }
                None => not_found(),
            }
        }
        (_, ["releases", ..]) => releases(s, method, &parts[1..], query, body),
        (_, ["actions", "runs", rest]) => protection_rule(s, method, rest, body),
        (_, ["check-runs"]) => check_runs(s, method, &[], query, body),
        (_, ["check-runs", id]) => check_runs(s, method, &[id], query, body),
        ("GET", ["commits", sha, "check-runs"]) => {
            let sha = *sha;
            let runs: Vec<Value> = s
                .check_runs
                .iter()
                .filter(|r| {
                    let pairs: Vec<(String, String)> =
                        serde_urlencoded::from_str(query).unwrap_or_default();
                    r.head_sha == sha
                        && pairs.iter().any(|(k, v)| k == "check_name" && *v == r.name)
                })
                .map(check_run_json)
                .collect();
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": runs.len(), "check_runs": runs}))
        }
        ("GET", ["environments", rest]) => {
            let Some(environment) = rest.strip_suffix("/deployment_protection_rules") else {
                s.unexpected.push(format!("{method} {path}"));
                return not_found();
            };
            match s.protected_environments.get(environment) {
                Some(enabled) => ResponseTemplate::new(200).set_body_json(json!({
                    "total_count": 1,
                    "custom_deployment_protection_rules": [
                        {"id": 3, "enabled": enabled, "app": {"id": 42, "slug": "trainyard"}}
                    ],
                })),
                None => not_found(),
            }
        }
        ("POST", ["deployments"]) => {
            if !s.deployment_answers.is_empty() {
                return s.deployment_answers.remove(0);
            }
            let git_ref = body["ref"].as_str().unwrap_or_default().to_owned();
            let Some(sha) = s.resolve(&git_ref) else {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": format!("No ref found for: {git_ref}")}));
            };
            let id = s.id();
            let deployment = Deployment {
                id,
                git_ref,
                sha,
                environment: body["environment"].as_str().unwrap_or("production").into(),
                request: body.clone(),
                creator: "trainyard[bot]".into(),
            };
            s.deployments.push(deployment.clone());
            ResponseTemplate::new(201).set_body_json(deployment_json(&deployment))
        }
        ("GET", ["deployments"]) => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            let wanted = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let (environment, sha) = (wanted("environment"), wanted("sha"));
            let found: Vec<Value> = s
                .deployments
                .iter()
                .rev()
                .filter(|d| environment.as_ref().is_none_or(|e| *e == d.environment))
                .filter(|d| sha.as_ref().is_none_or(|x| *x == d.sha))
                .map(deployment_json)
                .collect();
            ResponseTemplate::new(200).set_body_json(Value::Array(found))
        }
        ("GET", ["branches", rest @ ..]) => {
            let name = rest.join("/");
            match s.branches.get(&name) {
                Some(sha) => ResponseTemplate::new(200)
                    .set_body_json(json!({"name": name, "commit": {"sha": sha}})),
                None => not_found(),
            }
        }
        (_, ["git", ..]) => git(s, method, &parts[1..], body),
        ("GET", ["pulls"]) => {
            // `head=owner:branch`: the pull requests opened from that branch.
            let pairs: HashMap<String, String> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            let head = pairs
                .get("head")
                .and_then(|h| h.split_once(':'))
                .map(|(_, b)| b);
            let found: Vec<Value> = s
                .pull_heads
                .iter()
                .filter(|(_, branch)| Some(branch.as_str()) == head)
                .map(|(number, _)| {
                    json!({"number": number, "html_url": format!("https://github.com/{repo}/pull/{number}")})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(Value::Array(found))
        }
        ("POST", ["pulls"]) => {
            let number = 900 + s.pull_heads.len() as u64 + 1;
            let head = body["head"].as_str().unwrap_or_default().to_owned();
            let pull = Pull {
                title: body["title"].as_str().unwrap_or_default().into(),
                author: "trainyard[bot]".into(),
                base: body["base"].as_str().unwrap_or("master").into(),
                merged: false,
                merged_at: None,
                merge_sha: None,
                labels: Vec::new(),
                files: Vec::new(),
            };
            s.pulls.insert(number, pull);
            s.pull_heads.insert(number, head);
            ResponseTemplate::new(201).set_body_json(
                json!({"number": number, "html_url": format!("https://github.com/{repo}/pull/{number}")}),
            )
        }
        ("GET", ["pulls", rest @ ..]) => {
            let number: u64 = rest
                .first()
                .and_then(|n| n.split('/').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            match s.pulls.get(&number) {
                Some(pull) if rest.join("/").ends_with("/files") => {
                    if query.contains("page=") && !query.contains("page=1") {
                        return ResponseTemplate::new(200).set_body_json(json!([]));
                    }
                    let files: Vec<Value> =
                        pull.files.iter().map(|f| json!({"filename": f})).collect();
                    ResponseTemplate::new(200).set_body_json(Value::Array(files))
                }
                Some(pull) => ResponseTemplate::new(200).set_body_json(s.pull_json(number, pull)),
                None => not_found(),
            }
        }
        ("GET", ["compare", range]) => {
            let Some((base, head)) = range.split_once("...") else {
                return not_found();
            };
            match (s.resolve(base), s.resolve(head)) {
                (Some(base), Some(head)) => {
                    let status = if base == head {
                        "identical"
                    } else if s.is_ancestor(&base, &head) {
                        "ahead"
                    } else if s.is_ancestor(&head, &base) {
                        "behind"
                    } else {
                        "diverged"
                    };
                    ResponseTemplate::new(200).set_body_json(json!({"status": status}))
                }
                _ => not_found(),
            }
        }
        (_, ["issues", ..]) => issues(s, method, &parts[1..], query, body),
        ("GET", ["commits", sha, "comments"]) => {
            let listed: Vec<Value> = s
                .commit_comments
                .iter()
                .filter(|(on, _)| on == sha)
                .map(|(_, body)| json!({"body": body}))
                .collect();
            ResponseTemplate::new(200).set_body_json(listed)
        }
        ("POST", ["commits", sha, "comments"]) => {
            let sha = (*sha).to_owned();
            let text = body["body"].as_str().unwrap_or_default().to_owned();
            s.commit_comments.push((sha, text));
            ResponseTemplate::new(201).set_body_json(json!({"id": s.next_id}))
        }
        _ => {
            s.unexpected.push(format!("{method} {path}"));
            not_found()
        }
    }
}

/// GitHub's generated notes, in GitHub's format, for the merged pull requests the fake
/// knows: "What's Changed", then the full-changelog link on github.com.
/// `PUT /contents/{path}`: one commit on the branch, refused on a protected branch, and
/// refused when `sha` is not the file's current blob (or missing for an existing file).
fn put_file(s: &mut State, file: &str, body: &Value) -> ResponseTemplate {
    use base64::Engine as _;
    let branch = body["branch"].as_str().unwrap_or("master").to_owned();
    if s.protected.contains(&branch) {
        return ResponseTemplate::new(409).set_body_json(json!({
            "message": "Repository rule violations found\n\nChanges must be made through a pull request.\n\n"
        }));
    }
    let Some(text) = body["content"]
        .as_str()
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return ResponseTemplate::new(422)
            .set_body_json(json!({"message": "content is not valid Base64"}));
    };
    let key = (branch.clone(), file.to_owned());
    let current = s
        .branch_files
        .get(&key)
        .or_else(|| s.files.get(file))
        .cloned();
    let blob = |t: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()));
    match (&current, body["sha"].as_str()) {
        (Some(_), None) => {
            return ResponseTemplate::new(422)
                .set_body_json(json!({"message": "Invalid request.\n\n\"sha\" wasn't supplied."}));
        }
        (Some(t), Some(sha)) if blob(t) != sha => {
            return ResponseTemplate::new(409)
                .set_body_json(json!({"message": format!("{file} does not match {sha}")}));
        }
        _ => {}
    }
    if !s.branches.contains_key(&branch) {
        return ResponseTemplate::new(404)
            .set_body_json(json!({"message": format!("Branch {branch} not found")}));
    }
    if branch == "master" {
        s.files.insert(file.to_owned(), text.clone());
    } else {
        s.branch_files.insert(key, text.clone());
    }
    let sha = s.commit_on(&branch);
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    s.content_writes.push((branch, file.to_owned(), message));
    ResponseTemplate::new(if current.is_some() { 200 } else { 201 }).set_body_json(
        json!({"content": {"path": file, "sha": blob(&text)}, "commit": {"sha": sha}}),
    )
}

/// GitHub's GraphQL API, as far as trainyard asks it of a train's repository: aliased
/// searches `repo:R is:pr is:merged author:LOGIN merged:<TIME`, answered with how many merged
/// pull requests by that author GitHub has from before that time.
fn graphql(s: &mut State, body: &Value) -> ResponseTemplate {
    if body["query"]
        .as_str()
        .is_some_and(|q| q.contains("compare("))
    {
        return history_page(s, body);
    }
    let Some(variables) = body["variables"].as_object() else {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"message": "Problems parsing JSON"}));
    };
    let mut data = serde_json::Map::new();
    for (name, q) in variables {
        let (Some(index), Some(q)) = (name.strip_prefix("query"), q.as_str()) else {
            continue;
        };
        let word = |prefix: &str| {
            q.split_whitespace()
                .find_map(|w| w.strip_prefix(prefix))
                .unwrap_or_default()
                .to_owned()
        };
        let (author, before) = (word("author:"), word("merged:<"));
        let count = s
            .pulls
            .values()
            .filter(|p| p.merged && p.author.eq_ignore_ascii_case(&author))
            .filter(|p| before.is_empty() || p.merged_at.as_deref() < Some(before.as_str()))
            .count();
        s.searches.push(q.to_owned());
        data.insert(format!("author{index}"), json!({"issueCount": count}));
    }
    ResponseTemplate::new(200).set_body_json(json!({"data": data}))
}

/// A page of the served history: the first without a cursor, else the one after the page
/// whose end cursor is asked for.
fn history_page(s: &mut State, body: &Value) -> ResponseTemplate {
    let cursor_of = |page: &Value| {
        page["data"]["repository"]["ref"]["compare"]["commits"]["pageInfo"]["endCursor"].clone()
    };
    let index = match &body["variables"]["after"] {
        Value::Null => Some(0),
        after => s
            .history
            .iter()
            .position(|page| cursor_of(page) == *after)
            .map(|i| i + 1),
    };
    match index.and_then(|i| s.history.get(i)) {
        Some(page) => ResponseTemplate::new(200).set_body_json(page.clone()),
        None => {
            s.unexpected.push(format!(
                "a history page after {}",
                body["variables"]["after"]
            ));
            not_found()
        }
    }
}

fn generated_notes(s: &State, ask: &Value) -> String {
    // GitHub's format: every merged pull request of the range (the fake's range is all of
    // them), then the Full Changelog line; that line alone when nothing was merged.
    let tag = ask["tag_name"].as_str().unwrap_or_default();
    let lines: Vec<String> = s
        .pulls
        .iter()
        .filter(|(_, p)| p.merged)
        .map(|(number, pull)| {
            format!(
                "* {} by @{} in https://github.com/{}/pull/{number}",
                pull.title, pull.author, s.repo
            )
        })
        .collect();
    let full_changelog = match ask["previous_tag_name"].as_str() {
        Some(previous) => {
            format!(
                "**Full Changelog**: https://github.com/{}/compare/{previous}...{tag}",
                s.repo
            )
        }
        None => format!(
            "**Full Changelog**: https://github.com/{}/commits/{tag}",
            s.repo
        ),
    };
    if lines.is_empty() {
        return full_changelog;
    }
    format!(
        "## What's Changed\n{}\n\n{full_changelog}",
        lines.join("\n")
    )
}

fn releases(
    s: &mut State,
    method: &str,
    rest: &[&str],
    query: &str,
    body: &Value,
) -> ResponseTemplate {
    if method == "POST" && rest.first() == Some(&"generate-notes") {
        s.generate_notes_calls.push(body.clone());
        return ResponseTemplate::new(200).set_body_json(json!({
            "name": body["tag_name"],
            "body": generated_notes(s, body),
        }));
    }
    // GitHub refuses a release body over 125,000 characters on every write (create or
    // update), as every story's writes are checked to respect.
    let too_long = body["body"]
        .as_str()
        .is_some_and(|text| text.chars().count() > 125_000);
    if too_long && matches!(method, "POST" | "PATCH") {
        s.unexpected.push(format!(
            "{method} a release body of {} characters",
            body["body"].as_str().map_or(0, |t| t.chars().count())
        ));
        return ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Release", "code": "custom", "field": "body",
                        "message": "body is too long (maximum is 125000 characters)"}],
        }));
    }
    let id: Option<u64> = rest.first().and_then(|r| r.split('/').next()?.parse().ok());
    match (method, id) {
        ("GET", None) => {
            // Newest first, one page.
            if query.contains("page=") && !query.contains("page=1") {
                return ResponseTemplate::new(200).set_body_json(json!([]));
            }
            let mut all = s.releases.clone();
            all.reverse();
            ResponseTemplate::new(200).set_body_json(Value::Array(all))
        }
        ("POST", None) => {
            let id = s.id();
            let mut release = body.clone();
            release["id"] = json!(id);
            release["created_at"] = json!("2026-11-27T09:00:00Z");
            release["html_url"] = json!(format!("https://github.com/{}/releases/{id}", s.repo));
            publish_tags(s, &release);
            s.releases.push(release.clone());
            ResponseTemplate::new(201).set_body_json(release)
        }
        ("PATCH", Some(id)) => {
            let Some(index) = s.releases.iter().position(|r| r["id"] == json!(id)) else {
                return not_found();
            };
            if let (Some(r), Some(u)) = (s.releases[index].as_object_mut(), body.as_object()) {
                r.extend(u.clone());
            }
            let release = s.releases[index].clone();
            publish_tags(s, &release);
            ResponseTemplate::new(200).set_body_json(release)
        }
        ("DELETE", Some(id)) => {
            let before = s.releases.len();
            s.releases.retain(|r| r["id"] != json!(id));
            if s.releases.len() == before {
                not_found()
            } else {
                ResponseTemplate::new(204)
            }
        }
        _ => not_found(),
    }
}

/// Publishing a release whose tag does not exist makes GitHub tag its target.
fn publish_tags(s: &mut State, release: &Value) {
    if release["draft"] == json!(true) {
        return;
    }
    let Some(tag) = release["tag_name"].as_str() else {
        return;
    };
    let name = format!("tags/{tag}");
    if s.refs.contains_key(&name) {
        return;
    }
    let target = release["target_commitish"].as_str().unwrap_or("master");
    if let Some(sha) = s.resolve(target) {
        s.refs.insert(name, sha);
    }
}

fn git(s: &mut State, method: &str, rest: &[&str], body: &Value) -> ResponseTemplate {
    match (method, rest) {
        ("POST", ["refs"]) => {
            let name = body["ref"].as_str().unwrap_or_default();
            let sha = body["sha"].as_str().unwrap_or_default().to_owned();
            let Some(name) = name.strip_prefix("refs/") else {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": "Reference name is not valid"}));
            };
            if let Some(branch) = name.strip_prefix("heads/") {
                if s.branches.contains_key(branch) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Reference already exists"}));
                }
                s.branches.insert(branch.to_owned(), sha.clone());
            } else {
                if s.refs.contains_key(name) {
                    return ResponseTemplate::new(422)
                        .set_body_json(json!({"message": "Reference already exists"}));
                }
                s.refs.insert(name.to_owned(), sha.clone());
            }
            ResponseTemplate::new(201).set_body_json(
                json!({"ref": format!("refs/{name}"), "object": {"sha": sha, "type": "commit"}}),
            )
        }
        ("GET", ["ref", rest]) => {
            let name = *rest;
            let sha = match name.strip_prefix("heads/") {
                Some(branch) => s.branches.get(branch).cloned(),
                None => s.refs.get(name).cloned(),
            };
            match sha {
                Some(sha) => {
                    let kind = if s.tag_objects.contains_key(&sha) {
                        "tag"
                    } else {
                        "commit"
                    };
                    ResponseTemplate::new(200).set_body_json(
                        json!({"ref": format!("refs/{name}"), "object": {"sha": sha, "type": kind}}),
                    )
                }
                None => not_found(),
            }
        }
        ("POST", ["tags"]) => {
            let sha = s.sha();
            let tag = body["tag"].as_str().unwrap_or_default().to_owned();
            let message = body["message"].as_str().unwrap_or_default().to_owned();
            let object = body["object"].as_str().unwrap_or_default().to_owned();
            s.tag_objects
                .insert(sha.clone(), (tag.clone(), message, object.clone()));
            ResponseTemplate::new(201).set_body_json(
                json!({"sha": sha, "tag": tag, "object": {"sha": object, "type": "commit"}}),
            )
        }
        ("GET", ["tags", sha]) => match s.tag_objects.get(*sha) {
            Some((tag, message, object)) => ResponseTemplate::new(200).set_body_json(json!({
                "sha": sha, "tag": tag, "message": message,
                "object": {"sha": object, "type": "commit"},
            })),
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn issues(
    s: &mut State,
    method: &str,
    rest: &[&str],
    query: &str,
    body: &Value,
) -> ResponseTemplate {
    let joined = rest.join("/");
    if method == "POST" && joined.starts_with("comments/") && joined.ends_with("/reactions") {
        let id: u64 = rest
            .get(1)
            .and_then(|r| r.split('/').next()?.parse().ok())
            .unwrap_or(0);
        let content = body["content"].as_str().unwrap_or_default().to_owned();
        // GitHub keeps one reaction of a kind per user.
        let exists = s.reactions.contains(&(id, content.clone()));
        if !exists {
            s.reactions.push((id, content));
        }
        return ResponseTemplate::new(if exists { 200 } else { 201 })
            .set_body_json(json!({"id": 1}));
    }
    let Some(number) = rest.first().and_then(|n| n.parse::<u64>().ok()) else {
        return not_found();
    };
    if method == "POST" && joined.ends_with("/labels") {
        let asked: Vec<String> = body["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        s.label_calls.push((number, asked.clone()));
        let Some(pull) = s.pulls.get_mut(&number) else {
            return not_found();
        };
        for label in asked {
            if !pull.labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
                pull.labels.push(label);
            }
        }
        let labels: Vec<Value> = pull.labels.iter().map(|l| json!({"name": l})).collect();
        return ResponseTemplate::new(200).set_body_json(Value::Array(labels));
    }
    if !joined.ends_with("comments") {
        return not_found();
    }
    match method {
        "POST" => {
            let id = s.id();
            let text = body["body"].as_str().unwrap_or_default().to_owned();
            s.comments.push(Comment {
                id,
                issue: number,
                body: text,
                author: "trainyard[bot]".into(),
            });
            ResponseTemplate::new(201).set_body_json(json!({"id": id}))
        }
        "GET" => {
            if query.contains("page=") && !query.contains("page=1&") && !query.ends_with("page=1") {
                return ResponseTemplate::new(200).set_body_json(json!([]));
            }
            let on: Vec<Value> = s
                .comments
                .iter()
                .filter(|c| c.issue == number)
                .map(|c| json!({"id": c.id, "body": c.body}))
                .collect();
            ResponseTemplate::new(200).set_body_json(Value::Array(on))
        }
        _ => not_found(),
    }
}

/// A comment body as GitHub shows it: hidden `<!-- … -->` markers removed.
pub fn visible(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("-->")
            .map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out.trim_end().to_owned()
}

/// A comment as webhooks carry it, stamped with GitHub's clock; the author's association
/// follows their role on the repository.
fn comment_json(s: &State, id: u64, login: &str, body: &str) -> Value {
    let association = match s.collaborators.get(login) {
        Some((p, _)) if p == "admin" => "MEMBER",
        Some(_) => "COLLABORATOR",
        None => "NONE",
    };
    json!({
        "id": id, "body": body, "author_association": association,
        "user": {"login": login, "type": "User", "id": 1000 + id},
        "created_at": s.now, "updated_at": s.now,
    })
}

fn release_webhook(action: &str, release: &Value, login: &str) -> Value {
    let mut payload = fixture("release/published.payload.json");
    payload["action"] = json!(action);
    for key in [
        "id",
        "tag_name",
        "draft",
        "html_url",
        "body",
        "target_commitish",
    ] {
        payload["release"][key] = release[key].clone();
    }
    payload["sender"] = json!({"login": login, "type": "User", "id": 4242});
    payload["installation"] = json!({"id": 1});
    payload
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/github-webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

/// `base` with `over`'s fields laid over it.
fn merge(base: &Value, over: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(v)) = (out.as_object_mut(), over.as_object()) {
        for (k, val) in v {
            if (k == "base" || k == "user" || k == "head")
                && let (Some(inner), Some(new)) =
                    (o.get_mut(k).and_then(Value::as_object_mut), val.as_object())
            {
                inner.extend(new.clone());
                continue;
            }
            o.insert(k.clone(), val.clone());
        }
    }
    out
}

/// A workflow run's protection rule: the App's answer, and the environments still waiting.
fn protection_rule(s: &mut State, method: &str, rest: &str, body: &Value) -> ResponseTemplate {
    let (run, what) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(run_id) = run.parse::<u64>() else {
        return not_found();
    };
    match (method, what) {
        ("POST", "deployment_protection_rule") => {
            let environment = body["environment_name"].as_str().unwrap_or_default();
            let state = body["state"].as_str().unwrap_or_default();
            let pending = s.pending_protection.entry(run_id).or_default();
            let Some(at) = pending.iter().position(|e| e == environment) else {
                return ResponseTemplate::new(422).set_body_json(
                    json!({"message": "No pending deployment requests to approve or reject"}),
                );
            };
            if !matches!(state, "approved" | "rejected") {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": "Invalid state"}));
            }
            pending.remove(at);
            s.protection_reviews.push(ProtectionReview {
                run_id,
                environment: environment.to_owned(),
                state: state.to_owned(),
                comment: body["comment"].as_str().unwrap_or_default().to_owned(),
            });
            ResponseTemplate::new(204)
        }
        ("GET", "pending_deployments") => {
            let pending: Vec<Value> = s
                .pending_protection
                .get(&run_id)
                .into_iter()
                .flatten()
                .map(|e| json!({"environment": {"id": 1, "name": e}, "wait_timer": 0, "current_user_can_approve": false, "reviewers": []}))
                .collect();
            ResponseTemplate::new(200).set_body_json(Value::Array(pending))
        }
        _ => {
            s.unexpected.push(format!("{method} actions/runs/{rest}"));
            not_found()
        }
    }
}

/// The head commit of pull request `number` (its branch's last commit, never on `master`).
pub fn head_sha(number: u64) -> String {
    format!("{:040x}", 0xbe_ef00_0000_u64 + number)
}

/// Check runs: created, updated, listed on a commit.
fn check_runs(
    s: &mut State,
    method: &str,
    rest: &[&str],
    query: &str,
    body: &Value,
) -> ResponseTemplate {
    match (method, rest) {
        ("POST", []) => {
            // Ids of their own, so a story's release and comment ids do not depend on how
            // many checks were written before them.
            let id = 5_000 + s.check_runs.len() as u64 + 1;
            let run = CheckRun {
                id,
                head_sha: body["head_sha"].as_str().unwrap_or_default().to_owned(),
                name: body["name"].as_str().unwrap_or_default().to_owned(),
                external_id: body["external_id"].as_str().map(str::to_owned),
                title: body["output"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                summary: body["output"]["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                conclusion: body["conclusion"].as_str().unwrap_or_default().to_owned(),
                details_url: body["details_url"].as_str().map(str::to_owned),
                writes: 1,
            };
            let answer = check_run_json(&run);
            s.check_runs.push(run);
            s.check_writes.push(id);
            ResponseTemplate::new(201).set_body_json(answer)
        }
        ("PATCH", [id]) => {
            let id: u64 = id.parse().unwrap_or_default();
            let Some(run) = s.check_runs.iter_mut().find(|r| r.id == id) else {
                return not_found();
            };
            if let Some(title) = body["output"]["title"].as_str() {
                run.title = title.to_owned();
            }
            if let Some(summary) = body["output"]["summary"].as_str() {
                run.summary = summary.to_owned();
            }
            if let Some(conclusion) = body["conclusion"].as_str() {
                run.conclusion = conclusion.to_owned();
            }
            if let Some(url) = body["details_url"].as_str() {
                run.details_url = Some(url.to_owned());
            }
            run.writes += 1;
            let answer = check_run_json(run);
            s.check_writes.push(id);
            ResponseTemplate::new(200).set_body_json(answer)
        }
        _ => {
            let _ = query;
            s.unexpected
                .push(format!("{method} check-runs/{}", rest.join("/")));
            not_found()
        }
    }
}

fn check_run_json(run: &CheckRun) -> Value {
    json!({
        "id": run.id, "head_sha": run.head_sha, "name": run.name, "external_id": run.external_id,
        "status": "completed", "conclusion": run.conclusion, "details_url": run.details_url,
        "output": {"title": run.title, "summary": run.summary},
    })
}

fn deployment_json(d: &Deployment) -> Value {
    json!({
        "id": d.id, "sha": d.sha, "ref": d.git_ref, "task": "deploy",
        "environment": d.environment, "original_environment": d.environment,
        "payload": d.request.get("payload").cloned().unwrap_or(json!({})),
        "description": d.request.get("description").cloned().unwrap_or(Value::Null),
        "creator": {"login": d.creator, "type": "Bot", "id": 9},
        "production_environment": d.request.get("production_environment").cloned().unwrap_or(json!(false)),
        "transient_environment": d.request.get("transient_environment").cloned().unwrap_or(json!(false)),
    })
}
