//! The domain, pure: value types, events, `decide` (command → events or the broken rule),
//! `State::apply` (evolve) and the verdict. Never imports actix, sqlx, a clock or a random source.

pub mod applications;
pub mod calendar;
pub(crate) mod certificate_number;
pub(crate) mod command;
pub mod decide;
pub(crate) mod error;
pub(crate) mod events;
mod evolve;
pub mod framework;
mod parse;
pub mod search;
pub mod staff;
pub(crate) mod state;
pub(crate) mod time;
pub mod types;
pub(crate) mod verdict;

pub use command::AddressCommand;
pub use command::ApplicationCommand;
pub use command::AwardCommand;
pub use command::Command;
pub use command::DecideApplication;
pub use command::IssueAward;
pub use command::KeyCommand;
pub use command::OrganisationCommand;
pub use command::ProgrammeCommand;
pub use command::StaffCommand;
pub use command::SubmitApplication;
pub(crate) use command::streams_read;
pub use decide::{Context, decide};
pub use error::DomainError;
pub use events::{AwardSource, Cycle, Event, SCHEMA_VERSION, SignedJson, Visibility};
pub use state::{Award, Organisation, Programme, ProgrammePhase, Standing, State};
pub use types::CertificateNumber;
pub use types::Level;
pub use types::Name;
pub use types::OdsCode;
pub use types::OrganisationId;
pub use types::OrganisationKind;
pub(crate) use types::ParseError;
pub use types::PrivateNote;
pub use types::PublicUrl;
pub use types::Reason;
pub use types::Region;
pub use verdict::{Status, Verdict, status_as_of};
