//! The framework as data: its criteria by section and level (cumulative: a level answers its
//! own criteria and every lower level's), read from JSON; the registry ships a marked sample.

use serde::{Deserialize, Serialize};

use super::types::Level;

/// The framework shipped with the registry: a clearly marked sample.
pub const SAMPLE_FRAMEWORK: &str = include_str!("../../data/framework-sample.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    HealthcareOrganisation,
    PrePlacement,
    PlacementInduction,
    DuringPlacement,
    ReflectionAndReview,
    PostPlacement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub id: String,
    pub section: Section,
    pub level: Level,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Framework {
    pub(crate) version: String,
    #[serde(default)]
    pub(crate) sample: bool,
    #[serde(default)]
    pub(crate) about: String,
    pub criteria: Vec<Criterion>,
}

impl Framework {
    pub fn parse(json: &str) -> Result<Framework, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The criteria an application at `level` must answer: its own and every lower level's.
    pub fn criteria_for(&self, level: Level) -> impl Iterator<Item = &Criterion> {
        self.criteria.iter().filter(move |c| c.level <= level)
    }
}
