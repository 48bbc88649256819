//! HTTP (actix-web): the boundary between the registry and its clients. Handlers are thin: their
//! extractors (`extract`) know the caller and read the request, they call the service, and shape
//! the answer. Each file of handlers declares its routes, which `routes` puts together; the
//! application and its middleware are `app`, the server `server`, the state `state`.

pub(crate) mod accept;
pub(crate) mod access;
pub(crate) mod admin;
pub(crate) mod admin_lists;
pub(crate) mod app;
pub(crate) mod applications;
pub(crate) mod award_changes;
pub(crate) mod awards;
pub mod client;
pub(crate) mod conditional;
pub mod console;
pub(crate) mod docs;
pub(crate) mod embed;
pub mod error;
pub(crate) mod exports;
pub(crate) mod extract;
pub(crate) mod feeds;
pub(crate) mod freshness;
pub(crate) mod guard;
pub(crate) mod html;
pub mod images;
pub(crate) mod lifecycle;
pub(crate) mod limiter;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod pages;
pub mod prefix;
pub(crate) mod prepared;
pub(crate) mod programme;
pub(crate) mod public;
pub(crate) mod route;
pub mod routes;
pub(crate) mod server;
pub(crate) mod site;
pub(crate) mod state;
pub mod transport;
pub(crate) mod views;
pub(crate) mod webhooks;
pub(crate) mod writes;

pub use crate::limits::MAX_BODY;
use conditional::cache_control;
pub(crate) use conditional::{answers_version, award_max_age, conditional, not_modified};
pub(crate) use extract::{find_award, parse_number};
pub use routes::{allow_of, configure, console_routes, routes};
pub use server::serve;
pub use state::{AppState, OPENAPI_YAML};
