//! The programme's calendar as data: a file of cycles and programme changes that a new registry
//! loads as its first events. The operator can replace the file; the shipped one is the programme's
//! published calendar. A demo calendar may be written as of a day (`dates_as_of`): loaded on a
//! later day, every date moves by the days between, so its cycle is open whenever it is tried.

use chrono::NaiveDate;
use serde::Deserialize;

use super::command::{Command, ProgrammeCommand};
use super::events::Cycle;
use super::state::ProgrammePhase;
use super::types::Reason;

/// The calendar shipped with the registry.
pub const DEFAULT_CALENDAR: &str = include_str!("../../data/programme-calendar.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Words for the people who edit the file: accepted, never read by the registry.
    #[serde(default, rename = "about")]
    pub(crate) _about: Option<String>,
    /// The day the dates are written as of: loaded later, they all move by the days between
    /// (for demonstrations; the programme's real calendar has none).
    #[serde(default)]
    pub(crate) dates_as_of: Option<NaiveDate>,
    #[serde(default)]
    pub(crate) cycles: Vec<Cycle>,
    #[serde(default)]
    pub(crate) changes: Vec<CalendarChange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalendarChange {
    pub(crate) phase: ProgrammePhase,
    pub(crate) effective_from: NaiveDate,
    pub(crate) reason: Reason,
}

impl<'de> Deserialize<'de> for ProgrammePhase {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "paused" => Ok(ProgrammePhase::Paused),
            "running" | "resumed" => Ok(ProgrammePhase::Running),
            "sunset" => Ok(ProgrammePhase::Sunset),
            other => Err(serde::de::Error::custom(format!(
                "phase must be paused, resumed or sunset, not {other:?}"
            ))),
        }
    }
}

impl Calendar {
    pub fn parse(json: &str) -> Result<Calendar, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The commands that record this calendar on `today`: with `dates_as_of`, every date moved by
    /// the days from it to `today` (never backwards).
    pub fn commands_on(&self, today: NaiveDate) -> Vec<Command> {
        let shift = self.dates_as_of.map_or(chrono::Days::new(0), |as_of| {
            chrono::Days::new((today - as_of).num_days().max(0) as u64)
        });
        let moved = |d: NaiveDate| d.checked_add_days(shift).unwrap_or(d);
        let mut shifted = Calendar {
            _about: None,
            dates_as_of: None,
            cycles: self.cycles.clone(),
            changes: Vec::new(),
        };
        for c in &mut shifted.cycles {
            c.submissions_open_on = moved(c.submissions_open_on);
            c.submission_deadline = moved(c.submission_deadline);
            c.review_from = moved(c.review_from);
            c.review_until = moved(c.review_until);
            c.decisions_from = moved(c.decisions_from);
            c.decisions_until = moved(c.decisions_until);
        }
        shifted.changes = self
            .changes
            .iter()
            .map(|c| CalendarChange {
                phase: c.phase,
                effective_from: moved(c.effective_from),
                reason: c.reason.clone(),
            })
            .collect();
        shifted.commands()
    }

    /// The commands that record this calendar as written, cycles first, then changes in date
    /// order.
    pub fn commands(&self) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .cycles
            .iter()
            .cloned()
            .map(|cycle| Command::Programme(ProgrammeCommand::ScheduleCycle(cycle)))
            .collect();
        let mut changes: Vec<&CalendarChange> = self.changes.iter().collect();
        changes.sort_by_key(|c| c.effective_from);
        commands.extend(
            changes
                .into_iter()
                .map(|c| Command::change_programme(c.phase, c.effective_from, c.reason.clone())),
        );
        commands
    }
}
