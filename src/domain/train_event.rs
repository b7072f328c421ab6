//! What happened to a train, told to the chat channels routed to its repository. Recorded in
//! the step that made the change (an outbox), delivered by the notification surfaces.

use serde::{Deserialize, Serialize};

/// One thing that happened to a train.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainEvent {
    /// A pull request boarded.
    Boarded {
        /// Its number.
        number: u64,
        /// Its title (user text: escape before showing).
        title: String,
    },
    /// A pull request left.
    Left {
        /// Its number.
        number: u64,
    },
    /// The train was cut; approval is requested from here on.
    Cut {
        /// The version.
        version: String,
        /// The tag it will get.
        tag: String,
        /// The frozen commit.
        target_sha: String,
        /// Who cut it (the schedule's actor for scheduled cuts).
        by: String,
        /// Pull requests on board.
        passengers: usize,
        /// Approvals needed.
        approvals_required: u32,
    },
    /// Someone approved.
    Approved {
        /// Who.
        by: String,
        /// Approvals so far.
        have: usize,
        /// Approvals needed.
        required: u32,
    },
    /// Rejected and sent back for a re-cut.
    Rejected {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// A release candidate was asked for: its tag and pre-release follow.
    Candidate {
        /// Its tag (`v2.0.0-rc.1`).
        tag: String,
        /// The commit it tags.
        target_sha: String,
        /// Who asked.
        by: String,
    },
    /// A release candidate is tagged and published as a GitHub pre-release.
    CandidatePublished {
        /// Its tag.
        tag: String,
        /// Its page.
        url: Option<String>,
    },
    /// A fix merged after the frozen commit boarded a train with candidates: the frozen
    /// commit moved to it.
    TargetMoved {
        /// The pull request.
        number: u64,
        /// The new frozen commit.
        target_sha: String,
    },
    /// The release's notes were proposed for the changelog in a pull request.
    ChangelogProposed {
        /// The pull request.
        number: u64,
        /// GitHub's reason when the branch refused the commit (the pull request is the
        /// fallback).
        refused: Option<String>,
    },
    /// Tagged and published.
    Released {
        /// The tag.
        tag: String,
        /// The release page, when known.
        url: Option<String>,
    },
    /// Stopped with a reason a person has to act on.
    Blocked {
        /// Why.
        reason: String,
    },
    /// A draft published by hand was put back to draft: publishing did not release the train.
    PublishUndone {
        /// Who published it.
        by: String,
        /// Why it does not count (or what is still missing).
        reason: String,
    },
    /// Ended without a release.
    Abandoned {
        /// Who.
        by: String,
    },
    /// The repository's configuration was changed to something unusable; the last good one
    /// stays in force.
    ConfigRefused {
        /// What is wrong (file, line, key).
        error: String,
    },
    /// A deployment moved: requested, refused (by GitHub, or because its tag moved), or a
    /// status GitHub reported.
    Deployment {
        /// Our deployment id: one chat message per deployment, edited as it moves.
        #[serde(default)]
        deployment: i64,
        /// A production environment (a failure there offers a Rollback button).
        #[serde(default)]
        production: bool,
        /// The environment.
        environment: String,
        /// What is deployed: the tag, or the ref of a deployment someone else made.
        reference: String,
        /// `requested`, `refused`, or GitHub's status (`queued`, `in_progress`, `success`, …).
        state: String,
        /// Who asked for it.
        by: String,
        /// Why (a refusal), or the status's description.
        detail: Option<String>,
        /// The environment's URL or the log.
        url: Option<String>,
        /// A rollback.
        #[serde(default)]
        rollback: bool,
    },
    /// A deployment trainyard would make by itself was not made: the rules held it.
    DeploymentHeld {
        /// The environment.
        environment: String,
        /// The tag it would have deployed.
        reference: String,
        /// Why, and which command starts it.
        reason: String,
    },
    /// Verification after a deployment: a bake started, verified, breached (and rolled
    /// back), skipped by an admin, or the breach's rollback restored the environment.
    Verification {
        /// The environment.
        environment: String,
        /// The release's tag (for `restored`, the tag restored).
        reference: String,
        /// `baking`, `verified`, `breached`, `skipped` or `restored`.
        state: String,
        /// What to say: the bake's length, the readings, the breach and what was done.
        detail: String,
    },
    /// trainyard's deployment protection rule answered a workflow run, or holds it.
    Gate {
        /// The environment the run's job deploys to.
        environment: String,
        /// What it deploys: the release's tag, or the commit.
        reference: String,
        /// The workflow run.
        run_id: u64,
        /// `waiting`, `approved` or `rejected`.
        state: String,
        /// Why.
        reason: String,
    },
    /// An environment was locked or unlocked.
    EnvironmentLock {
        /// The environment.
        environment: String,
        /// Who.
        by: String,
        /// Why it was locked; `None` when it was unlocked.
        reason: Option<String>,
    },
    /// A scheduled cut is coming.
    CutReminder {
        /// When the cut happens (epoch ms).
        cut_at: i64,
        /// Pull requests on board now.
        passengers: usize,
    },
}

impl TrainEvent {
    /// Whether the event may let through a deployment the release gate holds: a release or
    /// candidate published, a train rejected or abandoned (its commit is then refused), an
    /// environment unlocked, a deployment succeeded (an environment others require).
    pub fn may_open_the_gate(&self) -> bool {
        match self {
            TrainEvent::Released { .. }
            | TrainEvent::CandidatePublished { .. }
            | TrainEvent::Rejected { .. }
            | TrainEvent::Abandoned { .. }
            | TrainEvent::PublishUndone { .. } => true,
            TrainEvent::EnvironmentLock { reason, .. } => reason.is_none(),
            TrainEvent::Deployment { state, .. } => state == "success",
            TrainEvent::Verification { state, .. } => {
                matches!(state.as_str(), "verified" | "skipped")
            }
            _ => false,
        }
    }

    /// Whether the event moves where a train's pull requests stand (their checks say it):
    /// cut, approved into a release or candidate, sent back, ended, or deployed.
    pub fn moves_passengers(&self) -> bool {
        match self {
            TrainEvent::Cut { .. }
            | TrainEvent::Rejected { .. }
            | TrainEvent::CandidatePublished { .. }
            | TrainEvent::Released { .. }
            | TrainEvent::PublishUndone { .. }
            | TrainEvent::Abandoned { .. }
            | TrainEvent::TargetMoved { .. } => true,
            TrainEvent::Deployment { state, .. } => {
                matches!(state.as_str(), "success" | "failure" | "error")
            }
            _ => false,
        }
    }

    /// The event's name, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            TrainEvent::Boarded { .. } => "boarded",
            TrainEvent::Left { .. } => "left",
            TrainEvent::Cut { .. } => "cut",
            TrainEvent::Approved { .. } => "approved",
            TrainEvent::Rejected { .. } => "rejected",
            TrainEvent::Released { .. } => "released",
            TrainEvent::Candidate { .. } => "candidate",
            TrainEvent::CandidatePublished { .. } => "candidate_published",
            TrainEvent::TargetMoved { .. } => "target_moved",
            TrainEvent::ChangelogProposed { .. } => "changelog_proposed",
            TrainEvent::Blocked { .. } => "blocked",
            TrainEvent::PublishUndone { .. } => "publish_undone",
            TrainEvent::Abandoned { .. } => "abandoned",
            TrainEvent::ConfigRefused { .. } => "config_refused",
            TrainEvent::CutReminder { .. } => "cut_reminder",
            TrainEvent::Deployment { .. } => "deployment",
            TrainEvent::DeploymentHeld { .. } => "deployment_held",
            TrainEvent::EnvironmentLock { .. } => "environment_lock",
            TrainEvent::Gate { .. } => "gate",
            TrainEvent::Verification { .. } => "verification",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_their_kind() {
        let event = TrainEvent::Cut {
            version: "1.2.0".into(),
            tag: "v1.2.0".into(),
            target_sha: "abc".into(),
            by: "octocat".into(),
            passengers: 3,
            approvals_required: 1,
        };
        let text = serde_json::to_string(&event).expect("serializes");
        assert!(text.contains("\"kind\":\"cut\""), "{text}");
        assert_eq!(
            serde_json::from_str::<TrainEvent>(&text).expect("parses"),
            event
        );
        assert_eq!(event.kind(), "cut");
    }
}
