//! The application journey's pure checks: the evidence manifest, and eligibility per level
//! against the framework (`domain::framework`), each rule with its own code and a sentence a
//! person understands, the way the guidance's checklist reads.

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::framework::Framework;
use super::types::{Level, long_date};

/// Completed documents needed across a whole application, by level.
pub(crate) fn minimum_documents(level: Level) -> usize {
    match level {
        Level::Bronze => 4,
        Level::Silver => 8,
        Level::Gold => 12,
    }
}

/// A drop-in session must have been attended within this many days before applying.
pub(crate) const DROP_IN_WINDOW_DAYS: i64 = 56;

/// One document of evidence, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDocument {
    pub name: String,
    pub pages: u32,
    pub dated: NaiveDate,
    pub host_department: String,
    /// A filled-in document, not a blank template.
    pub completed: bool,
    pub anonymised: bool,
    /// Evidence of face-to-face work experience (not pre-employment or online learning).
    pub face_to_face: bool,
}

/// A reference from a commentary to a page of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub document: String,
    pub page: u32,
}

/// The supporting commentary of one criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commentary {
    pub criterion: String,
    pub text: String,
    #[serde(default)]
    pub references: Vec<Reference>,
}

/// What an application submits: its documents and a commentary for each criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub documents: Vec<EvidenceDocument>,
    pub commentaries: Vec<Commentary>,
}

/// One rule of the checklist, passed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    pub code: String,
    pub passed: bool,
    /// A warning is reported but refuses nothing.
    pub warning: bool,
    pub(crate) message: String,
}

/// The checklist at one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChecklist {
    pub(crate) level: Level,
    pub eligible: bool,
    pub rules: Vec<RuleCheck>,
}

/// Eligibility at every level, and the highest the evidence supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub levels: Vec<LevelChecklist>,
    pub highest: Option<Level>,
}

impl Eligibility {
    pub fn at(&self, level: Level) -> Option<&LevelChecklist> {
        self.levels.iter().find(|l| l.level == level)
    }
}

fn rule(code: &str, failures: Vec<String>, ok: String) -> RuleCheck {
    RuleCheck {
        code: code.to_owned(),
        passed: failures.is_empty(),
        warning: false,
        message: if failures.is_empty() {
            ok
        } else {
            failures.join("; ")
        },
    }
}

/// Checks a manifest against the framework at every level, as on the day it is submitted.
pub fn eligibility(
    framework: &Framework,
    manifest: &Manifest,
    submitted_on: NaiveDate,
) -> Eligibility {
    let levels: Vec<LevelChecklist> = Level::ALL
        .iter()
        .map(|&level| checklist(framework, manifest, submitted_on, level))
        .collect();
    let highest = levels.iter().filter(|l| l.eligible).map(|l| l.level).max();
    Eligibility { levels, highest }
}

fn checklist(
    framework: &Framework,
    manifest: &Manifest,
    submitted_on: NaiveDate,
    level: Level,
) -> LevelChecklist {
    let docs = &manifest.documents;
    let mut rules = vec![enough_documents(docs, level)];
    rules.extend(document_rules(docs, submitted_on));
    rules.push(commentary_on_every_criterion(framework, manifest, level));
    rules.push(references_valid(framework, manifest, level));
    let eligible = rules.iter().all(|r| r.passed);
    rules.push(variety_of_departments(docs));
    LevelChecklist {
        level,
        eligible,
        rules,
    }
}

/// The completed documents a level needs across the whole application.
fn enough_documents(docs: &[EvidenceDocument], level: Level) -> RuleCheck {
    let completed = docs.iter().filter(|d| d.completed).count();
    let needed = minimum_documents(level);
    rule(
        "documents_minimum",
        if completed >= needed {
            vec![]
        } else {
            vec![format!(
                "{} needs at least {needed} completed documents across the application; this one has {completed}",
                level.title()
            )]
        },
        format!("{completed} completed documents (at least {needed} needed)"),
    )
}

/// The rules every document meets: dated within the year before submission, completed,
/// face-to-face, anonymised.
fn document_rules(docs: &[EvidenceDocument], submitted_on: NaiveDate) -> Vec<RuleCheck> {
    let oldest_allowed = submitted_on
        .checked_sub_months(Months::new(12))
        .unwrap_or(submitted_on);
    let each = |failing: &dyn Fn(&EvidenceDocument) -> Option<String>| -> Vec<String> {
        docs.iter().filter_map(failing).collect()
    };
    vec![
        rule(
            "evidence_current",
            each(&|d| {
                (d.dated < oldest_allowed || d.dated > submitted_on).then(|| {
                    format!(
                        "{:?} is dated {}, not within the 12 months before submission ({} to {})",
                        d.name,
                        long_date(d.dated),
                        long_date(oldest_allowed),
                        long_date(submitted_on)
                    )
                })
            }),
            "every document is dated within the 12 months before submission".into(),
        ),
        rule(
            "no_blank_templates",
            each(&|d| {
                (!d.completed).then(|| {
                    format!(
                        "{:?} is a blank template; only completed documents count as evidence",
                        d.name
                    )
                })
            }),
            "no blank templates".into(),
        ),
        rule(
            "face_to_face_only",
            each(&|d| {
                (!d.face_to_face).then(|| format!("{:?} is not evidence of face-to-face work experience (pre-employment programmes and online learning do not count)", d.name))
            }),
            "all evidence is of face-to-face work experience".into(),
        ),
        rule(
            "anonymised",
            each(&|d| {
                (!d.anonymised).then(|| {
                    format!(
                        "{:?} is not anonymised: identifiable information must be redacted",
                        d.name
                    )
                })
            }),
            "every document is anonymised".into(),
        ),
    ]
}

/// Every criterion of the level (and those below it) has a commentary.
fn commentary_on_every_criterion(
    framework: &Framework,
    manifest: &Manifest,
    level: Level,
) -> RuleCheck {
    let missing: Vec<String> = framework
        .criteria_for(level)
        .filter(|c| {
            !manifest
                .commentaries
                .iter()
                .any(|m| m.criterion == c.id && !m.text.trim().is_empty())
        })
        .map(|c| format!("criterion {} has no supporting commentary", c.id))
        .collect();
    rule(
        "commentary_every_criterion",
        missing,
        "every criterion has a supporting commentary".into(),
    )
}

/// Every commentary references documents by name and a page within them.
fn references_valid(framework: &Framework, manifest: &Manifest, level: Level) -> RuleCheck {
    let docs = &manifest.documents;
    let mut bad_references = Vec::new();
    for c in framework.criteria_for(level) {
        let Some(m) = manifest.commentaries.iter().find(|m| m.criterion == c.id) else {
            continue;
        };
        if m.references.is_empty() && !m.text.trim().is_empty() {
            bad_references.push(format!(
                "the commentary on {} references no document by name and page",
                c.id
            ));
        }
        for r in &m.references {
            match docs.iter().find(|d| d.name == r.document) {
                None => bad_references.push(format!(
                    "the commentary on {} references {:?}, which is not among the documents",
                    c.id, r.document
                )),
                Some(d) if r.page == 0 || r.page > d.pages => bad_references.push(format!(
                    "the commentary on {} references page {} of {:?}, which has {} page{}",
                    c.id,
                    r.page,
                    d.name,
                    d.pages,
                    if d.pages == 1 { "" } else { "s" }
                )),
                Some(_) => {}
            }
        }
    }
    rule(
        "references_valid",
        bad_references,
        "every reference names a document and a page within it".into(),
    )
}

/// A warning, refusing nothing: the guidance asks for templates from several departments.
fn variety_of_departments(docs: &[EvidenceDocument]) -> RuleCheck {
    let departments: BTreeSet<&str> = docs
        .iter()
        .map(|d| d.host_department.trim())
        .filter(|d| !d.is_empty())
        .collect();
    RuleCheck {
        code: "variety_of_departments".into(),
        passed: departments.len() >= 3,
        warning: true,
        message: if departments.len() >= 3 {
            format!("documents come from {} host departments", departments.len())
        } else {
            format!(
                "documents come from {} host department{}: the guidance asks for templates used by a variety of departments",
                departments.len(),
                if departments.len() == 1 { "" } else { "s" }
            )
        },
    }
}
