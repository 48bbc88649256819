//! The programme team's console (`/console`): pages rendered on the server (askama, usable
//! without JavaScript) for everything the team does, each action the same command the API and
//! the CLI run, appended by the same writer under the signed-in person's name (`staff:ID`).
//!
//! Who may do what is in each handler's signature, as on the API: `Staff<AdminOnly>` or
//! `Staff<AdminOrReviewer>` (`session.rs`). A request's session is known from its head before
//! any body is read (`guard::admit` calls `session::admit`): a change (any method but GET and
//! HEAD) from another site, or without a session, is refused unread; its form's token is checked
//! once the body is read (`session::ConsoleForm`). Sign-in is `auth.rs`.
//!
//! The console's routes are not part of the API (`routes()` and the OpenAPI document): they are
//! `console::ROUTES`, added beside them.

mod applications;
mod audit;
mod auth;
mod awards;
mod cycles;
mod dashboard;
mod frame;
mod import;
mod integrations;
mod multipart;
mod organisations;
mod programme;
pub(crate) mod session;
mod staff;
mod trail;

use std::sync::Arc;

use super::route::Route;
use crate::service::sessions::SessionPolicy;
use crate::service::sign_in::SignIn;

/// Every console route, by the file that serves it.
pub(crate) const TABLES: &[&[Route]] = &[
    auth::ROUTES,
    awards::ROUTES,
    programme::ROUTES,
    cycles::ROUTES,
    import::ROUTES,
    staff::ROUTES,
    audit::ROUTES,
    organisations::ROUTES,
    integrations::ROUTES,
    applications::ROUTES,
];

/// The console's settings: the relying party, how long sessions last, and how often an
/// address may begin a sign-in.
#[derive(Debug)]
pub struct Console {
    pub(crate) sign_in: SignIn,
    pub(crate) policy: SessionPolicy,
    pub(crate) sign_ins: Arc<super::limiter::RateLimiter>,
}

impl Console {
    /// The console signing in with `sign_in`, its sessions lasting as `policy` says; each
    /// address may begin `sign_ins_per_minute` sign-ins a minute (a burst of as many).
    pub fn new(sign_in: SignIn, policy: SessionPolicy, sign_ins_per_minute: u32) -> Console {
        let per_minute =
            std::num::NonZeroU32::new(sign_ins_per_minute.max(1)).expect("at least 1 is not zero");
        Console {
            sign_in,
            policy,
            sign_ins: Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(
                per_minute,
            ))),
        }
    }
}
