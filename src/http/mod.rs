//! HTTP (actix-web): the boundary between the registry and its clients. Handlers are thin: their
//! extractors (`extract`) know the caller and read the request, they call the service, and shape
//! the answer. Each file of handlers declares its routes, which `routes` puts together; the
//! application and its middleware are `app`, the server `server`, the state `state`.

pub mod accept;
pub mod access;
pub mod admin;
pub mod app;
pub mod applications;
pub mod award_changes;
pub mod awards;
pub mod client;
pub mod conditional;
pub mod docs;
pub mod embed;
pub mod error;
pub mod exports;
pub mod extract;
pub mod feeds;
pub mod freshness;
pub mod guard;
pub mod html;
pub mod images;
pub mod lifecycle;
pub mod limiter;
pub mod log;
pub mod metrics;
pub mod pages;
pub mod prefix;
pub mod prepared;
pub mod programme;
pub mod public;
pub mod routes;
pub mod server;
pub mod site;
pub mod state;
pub mod transport;
pub mod views;
pub mod webhooks;
pub mod writes;

pub use crate::limits::MAX_BODY;
pub use conditional::{answers_version, award_max_age, client_holds, conditional, not_modified};
pub use extract::{find_award, parse_number};
pub use limiter::RateLimiter;
pub use routes::{allow_of, configure, routes};
pub use server::serve;
pub use state::{AppState, OPENAPI_YAML};
