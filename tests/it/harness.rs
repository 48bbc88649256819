//! The domain's test harness, given/when/then: given a history of events, when a command is
//! decided, then these events or this refusal. Nothing is stored: `decide` and `State::apply`
//! alone, as the service calls them.
//!
//! ```ignore
//! given(calendar_events()).when(command).then_expect_error("programme_paused");
//! ```

use chrono::NaiveDate;
use wexqs::domain::calendar::{Calendar, DEFAULT_CALENDAR};
use wexqs::domain::{
    AwardCommand, AwardSource, CertificateNumber, Command, Context, DomainError, Event, IssueAward,
    Level, Name, OdsCode, OrganisationCommand, OrganisationId, OrganisationKind, Region, State,
    Status, decide, status_as_of,
};

use crate::helpers::date;

/// The day commands are decided on unless a test says otherwise.
const TODAY: &str = "2026-11-24";

/// A history: the state its events fold into, the events themselves, and the day the next
/// command is decided on.
#[derive(Debug, Clone)]
pub(crate) struct Given {
    pub state: State,
    pub log: Vec<Event>,
    pub today: NaiveDate,
}

/// A history of `events`, applied in order.
pub(crate) fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let mut g = Given {
        state: State::default(),
        log: Vec::new(),
        today: date(TODAY),
    };
    for e in events {
        g.apply(e);
    }
    g
}

/// No history at all.
pub(crate) fn given_no_events() -> Given {
    given([])
}

/// The events the shipped calendar records in a new registry (the final cycle and the pause
/// from 2026-01-01), decided on the usual day.
pub(crate) fn calendar_events() -> Vec<Event> {
    given_no_events().with_calendar().log
}

/// What deciding a command gave: events, or a refusal. Nothing of it is applied.
#[derive(Debug)]
pub(crate) struct Then {
    decided: Result<Vec<Event>, DomainError>,
}

impl Given {
    /// Commands are decided on `today` from now on.
    pub(crate) fn on(mut self, today: &str) -> Given {
        self.today = date(today);
        self
    }

    /// The history goes on with what the shipped calendar records, decided on `today`.
    pub(crate) fn with_calendar(mut self) -> Given {
        for c in Calendar::parse(DEFAULT_CALENDAR)
            .expect("the calendar parses")
            .commands()
        {
            self.and(c);
        }
        self
    }

    /// Decides `command` on the history, changing nothing.
    pub(crate) fn when(&self, command: Command) -> Then {
        Then {
            decided: decide(&self.state, command, &Context { today: self.today }),
        }
    }

    /// The history goes on with `command`, which must record exactly `expected`.
    pub(crate) fn and_expect(&mut self, command: Command, expected: &[Event]) {
        let events = self.and(command);
        assert_eq!(events, expected);
    }

    /// The history goes on with what `command` records, which must be accepted: its events.
    pub(crate) fn and(&mut self, command: Command) -> Vec<Event> {
        let events = self.when(command).then_expect_accepted();
        for e in &events {
            self.apply(e.clone());
        }
        events
    }

    fn apply(&mut self, event: Event) {
        let position = self.state.size;
        self.state.apply(position, &event);
        self.log.push(event);
    }

    /// Organisation `n` (named for it, with the ODS code `R{n:02}`) registered in London.
    pub(crate) fn organisation(&mut self, n: u128) -> OrganisationId {
        self.and_expect(
            Command::Organisation(OrganisationCommand::Register {
                organisation_id: org_id(n),
                name: org_name(n),
                ods_code: Some(ods_code(n)),
                region: Region::London,
                kind: OrganisationKind::NhsTrust,
            }),
            &[Event::OrganisationRegistered {
                organisation_id: org_id(n),
                name: org_name(n),
                ods_code: Some(ods_code(n)),
                region: Region::London,
                kind: OrganisationKind::NhsTrust,
            }],
        );
        org_id(n)
    }

    /// A silver award numbered `n` given to `org` on `on`.
    pub(crate) fn award(&mut self, org: OrganisationId, n: u128, on: &str) -> CertificateNumber {
        self.and(issue(org, n, on));
        number(n)
    }

    /// The status of award `n` on the day `on`.
    pub(crate) fn status(&self, n: &CertificateNumber, on: &str) -> Status {
        status_as_of(&self.state.awards[n], &self.state.programme, date(on)).status
    }
}

impl Then {
    /// Accepted, recording exactly `expected`.
    pub(crate) fn then_expect_events(self, expected: &[Event]) {
        assert_eq!(self.then_expect_accepted(), expected);
    }

    /// Accepted: the events it records, for a closer look.
    pub(crate) fn then_expect_accepted(self) -> Vec<Event> {
        self.decided.unwrap_or_else(|e| {
            panic!(
                "expected the command to be accepted, but {e} ({})",
                e.code()
            )
        })
    }

    /// Refused with `code`: the refusal, for a look at its words.
    pub(crate) fn then_expect_error(self, code: &str) -> DomainError {
        match self.decided {
            Ok(events) => panic!("expected the refusal {code}, but the command records {events:?}"),
            Err(e) => {
                assert_eq!(e.code(), code, "{e}");
                e
            }
        }
    }
}

/// Organisation `n`'s id.
pub(crate) fn org_id(n: u128) -> OrganisationId {
    OrganisationId(uuid::Uuid::from_u128(n))
}

/// Organisation `n`'s name.
pub(crate) fn org_name(n: u128) -> Name {
    format!("Organisation {n} NHS Trust")
        .parse()
        .expect("a name")
}

/// Organisation `n`'s ODS code.
pub(crate) fn ods_code(n: u128) -> OdsCode {
    format!("R{n:02}").parse().expect("an ODS code")
}

/// Certificate number `n`.
pub(crate) fn number(n: u128) -> CertificateNumber {
    CertificateNumber::from_random(n)
}

/// Issue a silver award numbered `n` to `org` on `on`.
pub(crate) fn issue(org: OrganisationId, n: u128, on: &str) -> Command {
    Command::Award(AwardCommand::Issue(IssueAward {
        certificate_number: number(n),
        organisation_id: org,
        level: Level::Silver,
        awarded_on: date(on),
        issuer_name: None,
        framework_version: None,
        source: AwardSource::Issued,
    }))
}

/// The event that records the silver award numbered `n`, issued through the registry to
/// organisation `org` (as `organisation` registered it) on `on`, valid until `until`, and
/// naming `issuer`.
pub(crate) fn issued(org: u128, n: u128, on: &str, until: &str, issuer: &str) -> Event {
    Event::AwardIssued {
        certificate_number: number(n),
        organisation_id: org_id(org),
        organisation_name: org_name(org),
        ods_code: Some(ods_code(org)),
        region: Region::London,
        level: Level::Silver,
        awarded_on: date(on),
        valid_until: date(until),
        issuer_name: issuer.to_owned(),
        scheme: "NHS England Work Experience Quality Standard (WEx QS)".to_owned(),
        framework_version: None,
        source: AwardSource::Issued,
    }
}
