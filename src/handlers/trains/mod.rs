//! Trains: pull requests boarding and leaving ([`boarding`]), each live train's draft
//! ([`draft`], through the notes engine in [`drafting`]), the writes of each command on a
//! train ([`apply`], with its facts from [`gather`]), hotfix trains ([`hotfix`]), the release
//! steps ([`release`]), release candidates ([`candidate`]) and scheduled cuts ([`schedule`]).

pub(crate) mod apply;
pub mod boarding;
pub mod candidate;
pub mod draft;
pub mod drafting;
pub(crate) mod gather;
pub(crate) mod hotfix;
pub mod release;
pub mod schedule;

pub use boarding::BoardPullRequest;
pub use candidate::PublishCandidate;
pub use draft::{
    CandidateNotes, RefreshDraft, candidate_draft, draft_for, passenger_pull_requests, releases_of,
    train_marker,
};
pub use release::{DeleteDraft, DraftPublishedByHand, ReleaseTrain};
pub use schedule::{SCHEDULE_ACTOR, ScheduledCuts};
