//! The console's first page: the register at a glance (awards by level and status today,
//! those expiring within 90 days), the latest changes and who made them, failing webhook
//! subscriptions, and the age of the latest signed checkpoint.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::frame::{Frame, page};
use super::session::Staff;
use super::trail::TrailLine;
use crate::http::AppState;
use crate::http::extract::AdminOrReviewer;
use crate::service::dashboard::Tally;

#[derive(Debug)]
struct Count {
    level: &'static str,
    status: &'static str,
    status_words: &'static str,
    count: usize,
}

#[derive(Debug)]
struct WebhookRow {
    id: String,
    target: String,
    status: String,
    failures: u32,
    reason: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    frame: Frame,
    total: usize,
    counts: Vec<Count>,
    /// The awards expiring soon, shared with the snapshot they were read from (the list can
    /// be long: it is written out, never copied).
    expiring: Arc<Tally>,
    within_days: i64,
    recent: Vec<TrailLine>,
    webhooks: Vec<WebhookRow>,
    checkpoint: String,
    checkpoint_late: bool,
}

/// A checkpoint older than this is shown as late (the registry signs one within seconds of a
/// change).
const CHECKPOINT_LATE_MINUTES: i64 = 10;

pub(crate) async fn dashboard(
    staff: Staff<AdminOrReviewer>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let frame = Frame::new(&state, &staff, "dashboard");
    let read = match state.registry.dashboard().await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "the console's dashboard could not be read");
            return super::frame::message(
                StatusCode::SERVICE_UNAVAILABLE,
                &frame.base,
                "The console is unavailable just now",
                "The dashboard could not be read. Try again in a minute.",
            );
        }
    };
    let now = state.registry.now();
    let (checkpoint, checkpoint_late) = match read.checkpoint {
        None => (
            "No checkpoint has been signed yet.".to_owned(),
            read.log_size > 0,
        ),
        Some((size, signed)) => {
            let minutes = signed.map(|t| (now - t).num_minutes().max(0));
            let age = minutes.map_or_else(
                || "at an unknown time".to_owned(),
                |m| format!("{m} minute{} ago", if m == 1 { "" } else { "s" }),
            );
            let behind = read.log_size.saturating_sub(size);
            (
                format!(
                    "The latest checkpoint covers {size} of the log's {} entries and was signed {age}.",
                    read.log_size
                ),
                behind > 0 && minutes.is_none_or(|m| m >= CHECKPOINT_LATE_MINUTES),
            )
        }
    };
    page(
        StatusCode::OK,
        &DashboardPage {
            frame,
            total: read.tally.counts.iter().map(|c| c.2).sum(),
            counts: read
                .tally
                .counts
                .iter()
                .map(|(level, status, count)| Count {
                    level: level.title(),
                    status: status.as_str(),
                    status_words: crate::http::html::status_words(*status),
                    count: *count,
                })
                .collect(),
            expiring: read.tally.clone(),
            within_days: crate::service::dashboard::EXPIRING_WITHIN_DAYS,
            recent: read.recent.iter().map(TrailLine::of).collect(),
            webhooks: read
                .failing_webhooks
                .into_iter()
                .map(|w| WebhookRow {
                    id: w.id,
                    target: w.target,
                    status: w.status,
                    failures: w.consecutive_failures,
                    reason: w.disabled_reason.unwrap_or_default(),
                })
                .collect(),
            checkpoint,
            checkpoint_late,
        },
    )
}
