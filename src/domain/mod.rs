//! The domain, pure: value types, events, `decide` (command → events or the broken rule),
//! `State::apply` (evolve) and the verdict. Never imports actix, sqlx, a clock or a random source.

pub mod applications;
pub mod calendar;
pub mod certificate_number;
pub mod command;
pub mod decide;
pub mod error;
pub mod events;
mod evolve;
pub mod framework;
mod parse;
pub mod search;
pub mod state;
pub mod time;
pub mod types;
pub mod verdict;

pub use command::{
    AddressCommand, ApplicationCommand, AwardCommand, Command, DecideApplication, IssueAward,
    KeyCommand, OrganisationCommand, ProgrammeCommand, SubmitApplication, streams_read,
};
pub use decide::{Context, decide};
pub use error::{DomainError, ErrorKind};
pub use events::{AwardSource, Cycle, Event, SCHEMA_VERSION, Visibility};
pub use state::{Award, Organisation, Programme, ProgrammePhase, Standing, State};
pub use types::{
    CertificateNumber, Level, Name, OdsCode, OrganisationId, OrganisationKind, ParseError,
    PrivateNote, PublicUrl, Reason, Region,
};
pub use verdict::{Status, Verdict, status_as_of};
