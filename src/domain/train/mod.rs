//! Release trains as a state machine: which merged pull requests board a line's train, and
//! what a command does to a train in a given state — or why it is refused. Pure: the facts
//! it needs from GitHub (permissions, whether a commit lies in the frozen range, the line's
//! head) are passed in, and it answers with the new state and the effects to carry out.
//!
//! ```text
//!  open ──cut──► frozen ──approve(s)──► approved ──tag+publish──► released
//!    │             │   ▲
//!    │             └───┘ include/exclude (frozen range only), reject → open,
//!    │                   rc (a release candidate; include may move the frozen commit)
//!    └──abandon──► abandoned            (blocked: a step cannot finish; says why)
//! ```

#[cfg(test)]
mod tests;

use super::notes::render::RELEASE_BODY_LIMIT;
use super::permission::Permission;
/// What the approval rules ask for (read from `approvals` in the configuration).
pub use super::repo_config::ApprovalRules;
use super::repo_config::{Include, LineKeys};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a train is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainKind {
    /// A line's train: merged pull requests board it.
    Regular,
    /// A hotfix on an earlier release's branch.
    Hotfix,
}

impl TrainKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainKind::Regular => "regular",
            TrainKind::Hotfix => "hotfix",
        }
    }
}

/// A stored name that is not a known train state or kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a train state or kind this trainyard knows")]
pub struct UnknownName(pub String);

impl TryFrom<String> for TrainKind {
    type Error = UnknownName;
    fn try_from(name: String) -> Result<Self, UnknownName> {
        match name.as_str() {
            "regular" => Ok(TrainKind::Regular),
            "hotfix" => Ok(TrainKind::Hotfix),
            _ => Err(UnknownName(name)),
        }
    }
}

impl TryFrom<String> for TrainState {
    type Error = UnknownName;
    fn try_from(name: String) -> Result<Self, UnknownName> {
        TrainState::parse(&name).ok_or(UnknownName(name))
    }
}

/// Compared with its stored name (`state == "frozen"`).
impl PartialEq<&str> for TrainState {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl PartialEq<&str> for TrainKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// Where a train is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainState {
    /// Boarding: merged pull requests join it.
    Open,
    /// Cut: version and target commit fixed, waiting for approvals.
    Frozen,
    /// Approved: being tagged and published.
    Approved,
    /// Tagged and published.
    Released,
    /// Ended without a release.
    Abandoned,
    /// A release step cannot finish (e.g. the tag exists at another commit); says why.
    Blocked,
}

impl TrainState {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainState::Open => "open",
            TrainState::Frozen => "frozen",
            TrainState::Approved => "approved",
            TrainState::Released => "released",
            TrainState::Abandoned => "abandoned",
            TrainState::Blocked => "blocked",
        }
    }

    /// From its stored name.
    pub fn parse(name: &str) -> Option<TrainState> {
        Some(match name {
            "open" => TrainState::Open,
            "frozen" => TrainState::Frozen,
            "approved" => TrainState::Approved,
            "released" => TrainState::Released,
            "abandoned" => TrainState::Abandoned,
            "blocked" => TrainState::Blocked,
            _ => return None,
        })
    }

    /// Still collecting or waiting (has a live draft release).
    pub fn is_live(self) -> bool {
        matches!(self, TrainState::Open | TrainState::Frozen)
    }
}

impl fmt::Display for TrainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line's boarding rules, from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardingRules {
    /// The branch pull requests must be merged into.
    pub branch: String,
    /// The label that boards (with `include: label`).
    pub boarding_label: String,
    /// Label or everything.
    pub include: Include,
    /// The label that keeps a pull request off.
    pub skip_label: String,
    /// Monorepos: path prefixes or globs a pull request must touch.
    pub paths: Vec<String>,
}

/// The boarding label when none is configured.
pub const DEFAULT_BOARDING_LABEL: &str = "release";

/// The skip label when none is configured.
pub const DEFAULT_SKIP_LABEL: &str = "no-release";

impl BoardingRules {
    /// The rules of `line`, whose branch defaults to `default_branch`.
    pub fn of(line: &LineKeys, default_branch: &str) -> BoardingRules {
        BoardingRules {
            branch: line
                .branch
                .clone()
                .unwrap_or_else(|| default_branch.to_owned()),
            boarding_label: line
                .boarding_label
                .clone()
                .unwrap_or_else(|| DEFAULT_BOARDING_LABEL.to_owned()),
            include: line.include.unwrap_or_default(),
            skip_label: line
                .skip_label
                .clone()
                .unwrap_or_else(|| DEFAULT_SKIP_LABEL.to_owned()),
            paths: line.paths.clone().unwrap_or_default(),
        }
    }
}

/// What is known of a pull request when deciding whether it boards.
#[derive(Debug, Clone, Copy)]
pub struct BoardingFacts<'a> {
    /// Merged (closed-unmerged pull requests never board).
    pub merged: bool,
    /// The branch it was merged into.
    pub base_ref: &'a str,
    /// Its labels now.
    pub labels: &'a [String],
    /// Files it changed (only looked at for path-scoped lines).
    pub changed_files: &'a [String],
}

/// Whether a pull request belongs on a line's train.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boarding {
    /// It belongs.
    Boards,
    /// It does not (any more); the reason says why.
    Stays(&'static str),
}

/// Decides whether a pull request belongs on the line's train.
pub fn boarding(rules: &BoardingRules, pr: &BoardingFacts<'_>) -> Boarding {
    if !pr.merged {
        return Boarding::Stays("not merged");
    }
    if pr.base_ref != rules.branch {
        return Boarding::Stays("merged into another branch");
    }
    let has = |label: &str| pr.labels.iter().any(|l| l == label);
    if has(&rules.skip_label) {
        return Boarding::Stays("carries the skip label");
    }
    if rules.include == Include::Label && !has(&rules.boarding_label) {
        return Boarding::Stays("does not carry the boarding label");
    }
    if !rules.paths.is_empty() && !pr.changed_files.iter().any(|f| touches(&rules.paths, f)) {
        return Boarding::Stays("touches none of the line's paths");
    }
    Boarding::Boards
}

/// Whether `file` is under one of `paths` (a prefix, a directory, or a `dir/**` glob).
fn touches(paths: &[String], file: &str) -> bool {
    paths.iter().any(|p| {
        let prefix = p
            .trim_end_matches("**")
            .trim_end_matches('*')
            .trim_end_matches('/');
        file == prefix
            || (file.len() > prefix.len()
                && file.starts_with(prefix)
                && file.as_bytes()[prefix.len()] == b'/')
            || prefix.is_empty()
    })
}

/// Which of a line's live trains (listed newest first, by state) a command acts on: `cut`
/// takes the open train; the others the oldest frozen train, else the open one. `None`
/// when there is none to act on (and for `hotfix`, which opens a line of its own).
pub fn select_train(command: &TrainCommand, live: &[TrainState]) -> Option<usize> {
    let open = live.iter().position(|s| *s == TrainState::Open);
    let oldest_frozen = live.iter().rposition(|s| *s == TrainState::Frozen);
    match command {
        TrainCommand::Cut => open,
        TrainCommand::Approve
        | TrainCommand::Candidate
        | TrainCommand::Reject { .. }
        | TrainCommand::Abandon
        | TrainCommand::Include { .. }
        | TrainCommand::Exclude { .. } => oldest_frozen.or(open),
        TrainCommand::Hotfix { .. } | TrainCommand::Deploy(_) => None,
    }
}

/// A recorded approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who (GitHub login).
    pub login: String,
}

/// A train as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainView<'a> {
    /// Its state.
    pub state: TrainState,
    /// Pull requests on board.
    pub boarded: &'a [u64],
    /// Who cut it, once cut.
    pub cut_by: Option<&'a str>,
    /// Approvals so far.
    pub approvals: &'a [Approval],
    /// Its release candidates, when it uses them (the line says so, or one was cut).
    pub candidates: Option<super::candidate::Candidates<'a>>,
}

/// A command on a train, by a GitHub login (chat users are linked to one first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum TrainCommand {
    /// Freeze: fix the version and the target commit.
    Cut,
    /// Approve the frozen train.
    Approve,
    /// Send the frozen train back to open.
    Reject {
        /// Why.
        reason: String,
    },
    /// Put a merged pull request on the train.
    Include {
        /// Its number.
        number: u64,
    },
    /// Take a pull request off the train.
    Exclude {
        /// Its number.
        number: u64,
    },
    /// End the train without a release.
    Abandon,
    /// Tag and publish the frozen commit as the next release candidate; the train stays
    /// frozen.
    Candidate,
    /// Open a hotfix train on `release/<major>.<minor>` for the next patch of `base`.
    Hotfix {
        /// The released version (or tag) to fix, e.g. `1.4.0` or `v1.4.0`.
        base: String,
    },
    /// A deployment command: carried out by the same command path (once, answered), decided
    /// by [`crate::domain::deploy::decide`], not by the train's state.
    Deploy(crate::domain::deploy::DeployCommand),
}

impl TrainCommand {
    /// The command as typed.
    pub fn name(&self) -> &'static str {
        match self {
            TrainCommand::Cut => "cut",
            TrainCommand::Approve => "approve",
            TrainCommand::Reject { .. } => "reject",
            TrainCommand::Include { .. } => "include",
            TrainCommand::Exclude { .. } => "exclude",
            TrainCommand::Abandon => "abandon",
            TrainCommand::Candidate => "rc",
            TrainCommand::Hotfix { .. } => "hotfix",
            TrainCommand::Deploy(command) => command.name(),
        }
    }

    /// The role needed to give it at all: deciding a train's fate (approve, reject, abandon)
    /// takes the configured approval level; the rest `write`.
    pub fn required_permission(&self, rules: &ApprovalRules) -> Permission {
        match self {
            TrainCommand::Approve | TrainCommand::Reject { .. } | TrainCommand::Abandon => {
                rules.permission
            }
            TrainCommand::Cut
            | TrainCommand::Candidate
            | TrainCommand::Include { .. }
            | TrainCommand::Exclude { .. }
            | TrainCommand::Hotfix { .. }
            | TrainCommand::Deploy(_) => Permission::Write,
        }
    }
}

/// Facts about the command's subject that only GitHub knows, fetched before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommandFacts {
    /// The actor's permission on the repository (from GitHub, never from the request).
    pub permission: Option<Permission>,
    /// For include/exclude on a frozen train: the pull request's merge commit lies between
    /// the baseline and the frozen target.
    pub in_frozen_range: bool,
    /// For include: the pull request is merged into the line's branch.
    pub merged_into_line: bool,
    /// For include on a frozen train: the pull request's merge commit comes after the
    /// frozen commit (the frozen commit is one of its ancestors).
    pub after_frozen_range: bool,
}

/// What a permitted command changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Cut: freeze at the line's head; a new open train starts for the line.
    Freeze,
    /// An approval is recorded; `complete` when it was the last one needed.
    Approved {
        /// The train is now approved: release it.
        complete: bool,
    },
    /// Back to open (approvals dropped, version and target released).
    Reopen,
    /// A pull request boards (notes regenerated).
    Board(u64),
    /// A pull request merged after the frozen commit boards a train with candidates: the
    /// frozen commit moves to its merge commit (the next candidate tags it).
    BoardMovingTarget(u64),
    /// The frozen commit is tagged and published as the next release candidate.
    Candidate,
    /// A pull request leaves (notes regenerated).
    Leave(u64),
    /// The train ends.
    Abandon,
}

/// Why a command changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The actor's role is too low.
    #[error("`{command}` needs {needed} permission on the repository; {login} has {has}")]
    NotPermitted {
        /// The command.
        command: &'static str,
        /// Who.
        login: String,
        /// Needed.
        needed: Permission,
        /// Has.
        has: Permission,
    },
    /// Not possible in this state.
    #[error("`{command}` is not possible: the train is {state}{hint}")]
    WrongState {
        /// The command.
        command: &'static str,
        /// The state.
        state: TrainState,
        /// What to do instead, starting with "; ".
        hint: &'static str,
    },
    /// Cutting a train nobody boarded.
    #[error("the train is empty: nothing to cut")]
    Empty,
    /// A second approval by the same person.
    #[error("{0} has already approved this train")]
    AlreadyApproved(String),
    /// The person who cut the train approving it.
    #[error("{0} cut this train and may not approve it too (approvals.allow-self-approval)")]
    SelfApproval(String),
    /// Include/exclude of a pull request outside the frozen range.
    #[error("#{0} was not merged inside the frozen range; it rides the next train")]
    OutsideFrozenRange(u64),
    /// Include of a pull request not merged into the line.
    #[error("#{0} is not merged into this line's branch")]
    NotMergedIntoLine(u64),
    /// A release candidate rule: approval waits for one at the frozen commit, or the last
    /// one is already there.
    #[error("{0}")]
    Candidates(String),
    /// Include of a pull request already on board, or exclude of one that is not.
    #[error("#{number} is {}", if *.aboard { "already on this train" } else { "not on this train" })]
    Membership {
        /// The pull request.
        number: u64,
        /// Whether it is on board.
        aboard: bool,
    },
}

/// Decides what `command` by `login` does to `train`.
pub fn decide(
    train: &TrainView<'_>,
    command: &TrainCommand,
    login: &str,
    facts: &CommandFacts,
    rules: &ApprovalRules,
) -> Result<Transition, Refusal> {
    let needed = command.required_permission(rules);
    let has = facts.permission.unwrap_or(Permission::None);
    if has < needed {
        return Err(Refusal::NotPermitted {
            command: command.name(),
            login: login.to_owned(),
            needed,
            has,
        });
    }
    let wrong = |hint: &'static str| Refusal::WrongState {
        command: command.name(),
        state: train.state,
        hint,
    };
    match (command, train.state) {
        (TrainCommand::Cut, TrainState::Open) => {
            if train.boarded.is_empty() {
                Err(Refusal::Empty)
            } else {
                Ok(Transition::Freeze)
            }
        }
        (TrainCommand::Cut, TrainState::Frozen) => Err(wrong("; it is already cut")),
        (TrainCommand::Cut, _) => Err(wrong("")),
        (TrainCommand::Approve, TrainState::Frozen) => approve(train, login, rules),
        (TrainCommand::Approve, TrainState::Open) => Err(wrong("; cut it first")),
        (TrainCommand::Approve, _) => Err(wrong("")),
        (TrainCommand::Reject { .. }, TrainState::Frozen) => Ok(Transition::Reopen),
        (TrainCommand::Reject { .. }, _) => Err(wrong("; only a cut train can be rejected")),
        (TrainCommand::Include { number }, TrainState::Open | TrainState::Frozen) => {
            include(train, *number, facts)
        }
        (TrainCommand::Exclude { number }, TrainState::Open | TrainState::Frozen) => {
            if !train.boarded.contains(number) {
                return Err(Refusal::Membership {
                    number: *number,
                    aboard: false,
                });
            }
            Ok(Transition::Leave(*number))
        }
        (TrainCommand::Include { .. } | TrainCommand::Exclude { .. }, _) => Err(wrong("")),
        (
            TrainCommand::Abandon,
            TrainState::Open | TrainState::Frozen | TrainState::Approved | TrainState::Blocked,
        ) => Ok(Transition::Abandon),
        (TrainCommand::Abandon, _) => Err(wrong("; it has ended")),
        (TrainCommand::Candidate, TrainState::Frozen) => {
            let refusal = train
                .candidates
                .as_ref()
                .and_then(super::candidate::candidate_refusal);
            match refusal {
                Some(reason) => Err(Refusal::Candidates(reason)),
                None => Ok(Transition::Candidate),
            }
        }
        (TrainCommand::Candidate, TrainState::Open) => Err(wrong("; cut it first")),
        (TrainCommand::Candidate, _) => Err(wrong("")),
        // A hotfix opens its own line; the caller handles it before choosing a train.
        (TrainCommand::Hotfix { .. }, _) => Err(wrong("; hotfix opens a new line")),
        (TrainCommand::Deploy(_), _) => Err(wrong("; deployments are decided on their own")),
    }
}

/// An approval of a frozen train: its candidates allow it, the approver has not approved
/// yet and (unless the rules allow it) did not cut it.
fn approve(
    train: &TrainView<'_>,
    login: &str,
    rules: &ApprovalRules,
) -> Result<Transition, Refusal> {
    if let Some(reason) = train
        .candidates
        .as_ref()
        .and_then(super::candidate::approval_refusal)
    {
        return Err(Refusal::Candidates(reason));
    }
    // GitHub logins are case-insensitive: `Maya` and `maya` are one person.
    if train
        .approvals
        .iter()
        .any(|a| a.login.eq_ignore_ascii_case(login))
    {
        return Err(Refusal::AlreadyApproved(login.to_owned()));
    }
    if !rules.allow_self_approval
        && train
            .cut_by
            .is_some_and(|cutter| cutter.eq_ignore_ascii_case(login))
    {
        return Err(Refusal::SelfApproval(login.to_owned()));
    }
    let count = train.approvals.len() as u32 + 1;
    Ok(Transition::Approved {
        complete: count >= rules.required.max(1),
    })
}

/// Putting a pull request on an open or frozen train: merged into the line, and for a frozen
/// train within its frozen range (or just after it, for a train with candidates).
fn include(
    train: &TrainView<'_>,
    number: u64,
    facts: &CommandFacts,
) -> Result<Transition, Refusal> {
    if train.boarded.contains(&number) {
        return Err(Refusal::Membership {
            number,
            aboard: true,
        });
    }
    if !facts.merged_into_line {
        return Err(Refusal::NotMergedIntoLine(number));
    }
    if train.state == TrainState::Frozen && !facts.in_frozen_range {
        // A train with candidates takes a fix merged after its frozen commit; the
        // next candidate tags it.
        if train.candidates.is_some() && facts.after_frozen_range {
            return Ok(Transition::BoardMovingTarget(number));
        }
        return Err(Refusal::OutsideFrozenRange(number));
    }
    Ok(Transition::Board(number))
}

/// The state a transition leads to.
pub fn next_state(current: TrainState, transition: &Transition) -> TrainState {
    match transition {
        Transition::Freeze => TrainState::Frozen,
        Transition::Approved { complete: true } => TrainState::Approved,
        Transition::Approved { complete: false } => current,
        Transition::Reopen => TrainState::Open,
        Transition::Board(_)
        | Transition::BoardMovingTarget(_)
        | Transition::Leave(_)
        | Transition::Candidate => current,
        Transition::Abandon => TrainState::Abandoned,
    }
}

/// The line and branch of a hotfix for `base` (`1.4.2` → `release/1.4`).
pub fn hotfix_branch(base: &crate::domain::version::Version) -> String {
    format!("release/{}.{}", base.major(), base.minor())
}

/// The name of a hotfix line, as commands name it (`/release cut hotfix-1.4`): its branch's
/// `release/1.4` would read as a repository.
pub fn hotfix_line(base: &crate::domain::version::Version) -> String {
    format!("hotfix-{}.{}", base.major(), base.minor())
}

/// The tag a train's release takes: the tag template's, else `v` and the version.
pub fn release_tag(template_tag: &str, version: &str) -> String {
    if template_tag.is_empty() {
        format!("v{version}")
    } else {
        template_tag.to_owned()
    }
}

/// The name a train's release takes: the name template's, else its tag (never untitled).
pub fn release_name(template_name: &str, tag: &str) -> String {
    if template_name.is_empty() {
        tag.to_owned()
    } else {
        template_name.to_owned()
    }
}

/// The label that boards a hotfix train.
pub const HOTFIX_LABEL: &str = "hotfix";

/// The marker in a draft release above which maintainers write their own highlights;
/// trainyard rewrites only what follows it.
pub const GENERATED_MARKER: &str = "<!-- trainyard: generated notes below -->";

/// A draft's body: the maintainers' text above [`GENERATED_MARKER`] kept, then the generated
/// `notes`, then `trailer` (the train's hidden marker). GitHub refuses bodies over
/// [`RELEASE_BODY_LIMIT`] characters, so the whole is fitted to it: the notes are shortened
/// first, and only text that leaves no room even for a line of notes is cut from above.
pub fn merge_draft_body(existing: Option<&str>, notes: &str, trailer: &str) -> String {
    let kept = existing
        .and_then(|body| body.find(GENERATED_MARKER).map(|at| &body[..at]))
        .unwrap_or("");
    let head = format!("{GENERATED_MARKER}\n");
    let fixed = head.chars().count() + trailer.chars().count();
    let kept_chars = kept.chars().count();
    if fixed + kept_chars + notes.chars().count() <= RELEASE_BODY_LIMIT {
        return format!("{kept}{head}{notes}{trailer}");
    }
    let shortened = format!(
        "\n\n… (shortened to fit GitHub's {RELEASE_BODY_LIMIT}-character limit for a release)"
    );
    let marker_room = fixed + shortened.chars().count();
    // At most this much of the maintainers' text stays, leaving room for a line of notes.
    let kept_room = RELEASE_BODY_LIMIT.saturating_sub(marker_room + MIN_NOTES_ROOM);
    let kept: String = kept.chars().take(kept_room).collect();
    let notes_room = RELEASE_BODY_LIMIT.saturating_sub(marker_room + kept.chars().count());
    let notes: String = notes.chars().take(notes_room).collect();
    format!("{kept}{head}{notes}{shortened}{trailer}")
}

/// Room always left for notes when the maintainers' own text alone is over the limit.
const MIN_NOTES_ROOM: usize = 1_000;
