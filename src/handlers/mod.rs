//! Job handlers: load facts, let the domain decide, save, carry out effects.

pub mod autolabel;
pub mod changelog;
pub mod chat;
pub mod comments;
pub mod deployments;
pub mod drafting;
pub mod events;
pub mod installations;
pub mod kit;
pub mod notifications;
pub mod repo_config;
pub mod train_commands;
pub mod trains;

/// The job handlers of this build, each with the context it runs in.
pub fn registry(
    events: events::EventContext,
    configs: repo_config::ConfigContext,
    trains: kit::TrainContext,
) -> crate::jobs::Registry {
    use events::{HandleWebhook, Housekeeping};
    use repo_config::ReloadRepoConfig;
    use train_commands::{
        DeleteDraft, DraftPublishedByHand, PublishCandidate, ReleaseTrain, RunTrainCommand,
        ScheduledCuts, SendCommandReply,
    };
    use trains::{BoardPullRequest, RefreshDraft};
    crate::jobs::Registry::new()
        .register::<HandleWebhook>(events.clone())
        .register::<Housekeeping>(events)
        .register::<ReloadRepoConfig>(configs)
        .register::<BoardPullRequest>(trains.clone())
        .register::<RefreshDraft>(trains.clone())
        .register::<RunTrainCommand>(trains.clone())
        .register::<ReleaseTrain>(trains.clone())
        .register::<PublishCandidate>(trains.clone())
        .register::<crate::handlers::changelog::UpdateChangelog>(trains.clone())
        .register::<SendCommandReply>(trains.clone())
        .register::<DeleteDraft>(trains.clone())
        .register::<DraftPublishedByHand>(trains.clone())
        .register::<ScheduledCuts>(trains.clone())
        .register::<crate::handlers::kit::unit::DeliverTrainEvents>(trains.clone())
        .register::<crate::handlers::comments::CommentCommands>(trains.clone())
        .register::<crate::handlers::chat::TellLinked>(trains.clone())
        .register::<crate::handlers::deployments::CreateDeployment>(trains.clone())
        .register::<crate::handlers::deployments::SeeDeployment>(trains.clone())
        .register::<crate::handlers::deployments::SeeDeploymentStatus>(trains.clone())
        .register::<crate::handlers::deployments::CommentDeployed>(trains.clone())
        .register::<crate::handlers::autolabel::AutolabelPullRequest>(trains.clone())
        .register::<crate::handlers::chat::SendReply>(trains)
}
