//! The dashboard's *Verification* section: each environment's latest bake after a
//! deployment, where it stands, and a chart of its readings against the ceiling.

use maud::{Markup, html};

use crate::domain::ids::RepoFullName;
use crate::state::AppState;
use crate::store::deployments::DeploymentRow;

/// Each environment's latest bake with its last 60 readings and its ceiling as configured.
pub(super) async fn latest_bakes(
    state: &AppState,
    repo: &RepoFullName,
    environments: &[(String, Option<DeploymentRow>)],
) -> Result<Vec<ShownBake>, crate::store::StoreError> {
    let config = state.configs.stored(&state.db, repo).await?;
    let mut shown = Vec::new();
    for (environment, _) in environments {
        let Some(bake) = crate::store::bakes::latest(&state.db, repo.as_ref(), environment).await?
        else {
            continue;
        };
        let readings = crate::store::bakes::readings(&state.db, bake.id, 60).await?;
        let ceiling = config
            .environment(environment)
            .and_then(|e| e.verify.clone())
            .and_then(|v| v.prometheus)
            .map(|p| p.max);
        shown.push(ShownBake {
            bake,
            readings,
            ceiling,
        });
    }
    Ok(shown)
}

/// An environment's latest bake, with its rounds' readings and the ceiling they are held to.
pub(super) struct ShownBake {
    pub(super) bake: crate::store::bakes::BakeRow,
    pub(super) readings: Vec<crate::store::bakes::Reading>,
    pub(super) ceiling: Option<f64>,
}

/// Verification after deploying: each environment's latest bake, where it stands, and a chart
/// of its Prometheus readings against the ceiling.
pub(super) fn bakes_section(bakes: &[ShownBake], now: i64) -> Markup {
    use crate::handlers::deploys::verify::human;
    html! {
    @if !bakes.is_empty() {
        h2 id="verification" { "Verification" }
        div.grid {
            @for shown in bakes {
                @let b = &shown.bake;
                div.box class=(format!("bake {}", b.state)) {
                    strong { (b.environment) ": " code { (b.tag) } " " }
                    @match b.state.as_str() {
    "baking" => span { strong { "baking" } ", " (human((now - b.started_at).max(0))) " of "
                            (human(b.ends_at - b.started_at)) " (round " (b.rounds + 1) " next in "
                            (human((b.next_check_at - now).max(0))) ")" },
                        "breached" => span { strong.failed { "failed" } ": " (b.reason.as_deref().unwrap_or_default())
                            @if let Some((restored, breached)) = b.restored_at.zip(b.finished_at) {
                                " — restored in " (human(restored - breached))
                            } },
                        "skipped" => span { strong { "skipped" } " by " (b.decided_by.as_deref().unwrap_or_default())
                            ": " (b.reason.as_deref().unwrap_or_default()) },
                        "expired" | "superseded" => span { strong { (b.state) } ": " (b.reason.as_deref().unwrap_or_default()) },
                        _ => span { strong.verified { "verified" } },
                    }
                    @if !shown.readings.is_empty() {
                        (bake_chart(&shown.readings, shown.ceiling))
                    }
                }
            }
        }
    }
    }
}

/// A bake's rounds as bars (red where a check was not healthy) under a dashed ceiling line.
fn bake_chart(readings: &[crate::store::bakes::Reading], ceiling: Option<f64>) -> Markup {
    let (width, height) = (240.0_f64, 64.0_f64);
    let top = readings
        .iter()
        .filter_map(|r| r.value)
        .chain(ceiling)
        .fold(0.0_f64, f64::max)
        * 1.25;
    let slot = width / readings.len().max(1) as f64;
    let y = |v: f64| {
        if top > 0.0 {
            height - v / top * (height - 4.0)
        } else {
            height
        }
    };
    let label = readings
        .iter()
        .map(|r| r.value.map_or("no data".to_owned(), |v| format!("{v}")))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg.bake-chart width=(width) height=(height + 14.0) viewBox=(format!("0 0 {width} {}", height + 14.0))
            role="img" aria-label=(format!("readings by round: {label}")) {
            line x1="0" y1=(height) x2=(width) y2=(height) stroke="#d0d7de" {}
            @for (i, r) in readings.iter().enumerate() {
                @let v = r.value.unwrap_or(0.0);
                @let h = (height - y(v)).max(1.0);
                rect x=(format!("{:.1}", i as f64 * slot + 1.0)) y=(format!("{:.1}", height - h))
                    width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{h:.1}"))
                    fill=(if r.healthy == 1 { "#1a7f37" } else { "#cf222e" }) {
                    title { (format!("round {}: {}", r.round, r.value.map_or("no data".to_owned(), |v| v.to_string()))) } }
            }
            @if let Some(max) = ceiling {
                line x1="0" y1=(format!("{:.1}", y(max))) x2=(width) y2=(format!("{:.1}", y(max)))
                    stroke="#cf222e" stroke-dasharray="4 3" {}
                text x="2" y=(format!("{:.1}", (y(max) - 3.0).max(10.0))) font-size="10" fill="#82071e" { "max " (max) }
            }
            text x="0" y=(height + 12.0) font-size="10" fill="#59636e" { "round 1" }
            text x=(width) y=(height + 12.0) font-size="10" fill="#59636e" text-anchor="end" { "round " (readings.last().map_or(0, |r| r.round)) }
        }
    }
}
