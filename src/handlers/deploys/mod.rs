//! Deployments: `/release deploy` and `rollback` decided ([`command`]), requests recorded and
//! created on GitHub ([`requests`], [`jobs`]), GitHub's statuses seen and followed
//! ([`status`]), the automatic ones decided as a command would be ([`automatic`]), and
//! deployments others run held to the same rules by the release gate ([`gate`]), and each
//! success proven by a bake before what follows goes ([`verify`]).

pub mod automatic;
pub(crate) mod command;
pub(crate) mod facts;
pub mod gate;
pub mod jobs;
pub mod requests;
pub mod status;
pub mod verify;

pub(crate) use automatic::{Occasion, Standing, apply_automatic, decide_automatic};
pub use jobs::{AUTOMATIC, CommentDeployed, CreateDeployment};
pub use requests::deploys_text;
pub(crate) use requests::{DeploymentAsk, release_of, request_deployment_for};
pub use status::{SeeDeployment, SeeDeploymentStatus};
pub use verify::{CheckBake, enqueue_due_bakes};
