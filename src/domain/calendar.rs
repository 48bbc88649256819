//! The programme's calendar as data: a file of cycles and programme changes that a new registry
//! loads as its first events. The operator can replace the file; the shipped one is the programme's
//! published calendar.

use chrono::NaiveDate;
use serde::Deserialize;

use super::decide::Command;
use super::events::Cycle;
use super::state::ProgrammePhase;
use super::types::Reason;

/// The calendar shipped with the registry.
pub const DEFAULT_CALENDAR: &str = include_str!("../../data/programme-calendar.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    #[serde(default)]
    pub about: Option<String>,
    #[serde(default)]
    pub cycles: Vec<Cycle>,
    #[serde(default)]
    pub changes: Vec<CalendarChange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarChange {
    pub phase: ProgrammePhase,
    pub effective_from: NaiveDate,
    pub reason: Reason,
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

    /// The commands that record this calendar, cycles first, then changes in date order.
    pub fn commands(&self) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .cycles
            .iter()
            .cloned()
            .map(Command::ScheduleCycle)
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
