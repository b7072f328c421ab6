//! Job handlers: load facts, let the domain decide, save, carry out effects. The kit
//! ([`kit`]) is what every feature stands on; each feature has its room.

pub mod autolabel;
pub mod changelog;
pub mod chat;
pub mod checks;
pub mod commands;
pub mod config_check;
pub mod config_reload;
pub mod deploys;
pub mod events;
pub mod installations;
pub mod kit;
pub mod notifications;
pub mod trains;

/// The job handlers of this build, each with the context it runs in.
pub fn registry(
    events: events::EventContext,
    configs: config_reload::ConfigContext,
    trains: kit::TrainContext,
) -> crate::jobs::Registry {
    use commands::SendCommandReply;
    use config_reload::ReloadRepoConfig;
    use deploys::{
        CheckBake, CommentDeployed, CreateDeployment, SeeDeployment, SeeDeploymentStatus,
    };
    use events::{HandleWebhook, Housekeeping};
    use kit::command::RunTrainCommand;
    use trains::{
        BoardPullRequest, DeleteDraft, DraftPublishedByHand, PublishCandidate, RefreshDraft,
        ReleaseTrain, ScheduledCuts,
    };
    crate::jobs::Registry::new()
        .register::<HandleWebhook>(events.clone())
        .register::<Housekeeping>(events)
        .register::<ReloadRepoConfig>(configs)
        .register::<BoardPullRequest>(trains.clone())
        .register::<RefreshDraft>(trains.clone())
        .register::<RunTrainCommand>(trains.clone())
        .register::<ReleaseTrain>(trains.clone())
        .register::<PublishCandidate>(trains.clone())
        .register::<changelog::UpdateChangelog>(trains.clone())
        .register::<SendCommandReply>(trains.clone())
        .register::<DeleteDraft>(trains.clone())
        .register::<DraftPublishedByHand>(trains.clone())
        .register::<ScheduledCuts>(trains.clone())
        .register::<kit::unit::DeliverTrainEvents>(trains.clone())
        .register::<chat::comments::CommentCommands>(trains.clone())
        .register::<chat::TellLinked>(trains.clone())
        .register::<CreateDeployment>(trains.clone())
        .register::<SeeDeployment>(trains.clone())
        .register::<SeeDeploymentStatus>(trains.clone())
        .register::<CheckBake>(trains.clone())
        .register::<CommentDeployed>(trains.clone())
        .register::<deploys::gate::ReviewGate>(trains.clone())
        .register::<kit::unit::ReviewWaitingGates>(trains.clone())
        .register::<kit::unit::SyncPullRequestChecks>(trains.clone())
        .register::<checks::RefreshPullRequestCheck>(trains.clone())
        .register::<autolabel::AutolabelPullRequest>(trains.clone())
        .register::<chat::SendReply>(trains)
}
