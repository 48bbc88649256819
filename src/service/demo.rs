//! The demo register: 42 fictional organisations across England's seven NHS regions with awards
//! at all three levels, some expired, one suspended, one revoked, one superseded. Its ids and
//! certificate numbers come from a fixed seed, so the README can name them. None of these
//! organisations or ODS codes is real.

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};

use super::{Actor, Outcome, Registry, ServiceError};
use crate::domain::{
    AwardCommand, AwardSource, CertificateNumber, Command, IssueAward, Level, OdsCode,
    OrganisationCommand, OrganisationId, OrganisationKind, Region,
};

const SEED: u64 = 20_251_205;

use OrganisationKind::{
    AmbulanceService as Amb, Hospice as Hos, IntegratedCareBoard as Icb, NhsTrust as Trust,
    PrimaryCare as Pc,
};

/// (name, region, kind, has an ODS code)
const ORGANISATIONS: &[(&str, Region, OrganisationKind, bool)] = &[
    (
        "Fenmarsh Hospitals NHS Foundation Trust",
        Region::EastOfEngland,
        Trust,
        true,
    ),
    (
        "East Anglian Coast Ambulance Service NHS Trust",
        Region::EastOfEngland,
        Amb,
        true,
    ),
    (
        "Cambourne Valley Community Health NHS Trust",
        Region::EastOfEngland,
        Trust,
        true,
    ),
    ("St Edmund's Hospice", Region::EastOfEngland, Hos, false),
    (
        "Harlow Fields Primary Care Network",
        Region::EastOfEngland,
        Pc,
        true,
    ),
    (
        "Norbridge and Wensum University Hospitals NHS Foundation Trust",
        Region::EastOfEngland,
        Trust,
        true,
    ),
    (
        "Thameside Teaching Hospitals NHS Foundation Trust",
        Region::London,
        Trust,
        true,
    ),
    (
        "North Kingsway Mental Health NHS Trust",
        Region::London,
        Trust,
        true,
    ),
    (
        "St Saviour's and Borough Hospitals NHS Trust",
        Region::London,
        Trust,
        true,
    ),
    (
        "Lea Valley Integrated Care Board",
        Region::London,
        Icb,
        true,
    ),
    ("Camden Lock Community Hospice", Region::London, Hos, false),
    (
        "Greenwich Reach Children's Hospital NHS Foundation Trust",
        Region::London,
        Trust,
        true,
    ),
    (
        "Severnside University Hospitals NHS Trust",
        Region::Midlands,
        Trust,
        true,
    ),
    (
        "Charnwood Forest Healthcare NHS Trust",
        Region::Midlands,
        Trust,
        true,
    ),
    (
        "Black Country Valley Partnership NHS Foundation Trust",
        Region::Midlands,
        Trust,
        true,
    ),
    (
        "Peak Edge Community Services NHS Trust",
        Region::Midlands,
        Trust,
        true,
    ),
    ("St Chad's Hospice", Region::Midlands, Hos, false),
    (
        "Trent Meadows Integrated Care Board",
        Region::Midlands,
        Icb,
        true,
    ),
    (
        "Wearside and Tyne Hospitals NHS Foundation Trust",
        Region::NorthEastAndYorkshire,
        Trust,
        true,
    ),
    (
        "Dales and Moors Community Care NHS Trust",
        Region::NorthEastAndYorkshire,
        Trust,
        true,
    ),
    (
        "Humber Estuary Ambulance Service NHS Trust",
        Region::NorthEastAndYorkshire,
        Amb,
        true,
    ),
    (
        "St Hilda's Hospice, Whitby",
        Region::NorthEastAndYorkshire,
        Hos,
        false,
    ),
    (
        "Calder Valley Teaching Hospitals NHS Trust",
        Region::NorthEastAndYorkshire,
        Trust,
        true,
    ),
    (
        "Ouse and Derwent Mental Health NHS Foundation Trust",
        Region::NorthEastAndYorkshire,
        Trust,
        true,
    ),
    (
        "Mersey Bank University Teaching Hospitals NHS Foundation Trust",
        Region::NorthWest,
        Trust,
        true,
    ),
    (
        "Pennine Ridge Healthcare NHS Trust",
        Region::NorthWest,
        Trust,
        true,
    ),
    (
        "Fylde Coast Community Health NHS Trust",
        Region::NorthWest,
        Trust,
        true,
    ),
    ("Saint Helen's Vale Hospice", Region::NorthWest, Hos, false),
    (
        "Irwell Valley Primary Care Network",
        Region::NorthWest,
        Pc,
        true,
    ),
    (
        "Lakeland Fells Integrated Care Board",
        Region::NorthWest,
        Icb,
        true,
    ),
    (
        "Solent Harbour Hospitals NHS Trust",
        Region::SouthEast,
        Trust,
        true,
    ),
    (
        "Weald and Downs University Hospitals NHS Foundation Trust",
        Region::SouthEast,
        Trust,
        true,
    ),
    (
        "Thames Chase Ambulance Service NHS Foundation Trust",
        Region::SouthEast,
        Amb,
        true,
    ),
    ("St Swithun's Hospice", Region::SouthEast, Hos, false),
    (
        "Medway Marsh Community Healthcare",
        Region::SouthEast,
        Trust,
        true,
    ),
    (
        "Chiltern Beech Mental Health NHS Trust",
        Region::SouthEast,
        Trust,
        true,
    ),
    (
        "Tamar Valley Hospitals NHS Foundation Trust",
        Region::SouthWest,
        Trust,
        true,
    ),
    (
        "Exe Estuary Community Health NHS Trust",
        Region::SouthWest,
        Trust,
        true,
    ),
    (
        "Cotswold Edge Healthcare NHS Trust",
        Region::SouthWest,
        Trust,
        true,
    ),
    ("St Piran's Hospice", Region::SouthWest, Hos, false),
    (
        "Mendip Hills Primary Care Network",
        Region::SouthWest,
        Pc,
        true,
    ),
    (
        "Severn Vale Ambulance Service NHS Trust",
        Region::SouthWest,
        Amb,
        true,
    ),
];

/// The organisation whose first award a newer one superseded.
pub(crate) const SUPERSEDED_INDEX: usize = 0;
/// The organisation whose award is suspended.
pub(crate) const SUSPENDED_INDEX: usize = 7;
/// The organisation whose award is revoked.
pub(crate) const REVOKED_INDEX: usize = 13;

/// The award date of the organisation at `index`: most between December 2024 and December 2025,
/// every sixth one between June 2023 and October 2024, so that those have expired. All are before
/// the pause.
fn award_date(index: usize) -> NaiveDate {
    let (base, offset) = if index % 6 == 5 {
        (NaiveDate::from_ymd_opt(2023, 6, 1), (index * 53) % 500)
    } else {
        (NaiveDate::from_ymd_opt(2024, 12, 1), (index * 337) % 380)
    };
    base.expect("a valid constant date") + Duration::days(offset as i64)
}

/// The demo's commands: every organisation registered, its award issued, then the supersession,
/// the suspension and the revocation.
pub fn commands() -> Vec<Command> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(SEED);
    let mut registrations = Vec::new();
    let mut awards = Vec::new();
    let mut numbers = Vec::new();
    for (index, (name, region, kind, has_ods)) in ORGANISATIONS.iter().enumerate() {
        let organisation_id =
            OrganisationId(uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid());
        let ods_code = has_ods.then(|| {
            format!("Z{}{}", (b'A' + (index / 10) as u8) as char, index % 10)
                .parse::<OdsCode>()
                .expect("a demo ODS code is three letters and digits")
        });
        registrations.push(Command::Organisation(OrganisationCommand::Register {
            organisation_id,
            name: name.parse().expect("demo names are valid"),
            ods_code,
            region: *region,
            kind: *kind,
        }));
        let number = CertificateNumber::from_random(rng.r#gen());
        numbers.push(number.clone());
        awards.push((
            award_date(index),
            Command::Award(AwardCommand::Issue(IssueAward {
                certificate_number: number,
                organisation_id,
                level: Level::ALL[index % 3],
                awarded_on: award_date(index),
                issuer_name: None,
                framework_version: Some("sample-1".into()),
                source: AwardSource::Imported,
            })),
        ));
        if index == SUPERSEDED_INDEX {
            let newer = award_date(index) + Duration::days(300);
            awards.push((
                newer,
                Command::Award(AwardCommand::Issue(IssueAward {
                    certificate_number: CertificateNumber::from_random(rng.r#gen()),
                    organisation_id,
                    level: Level::Gold,
                    awarded_on: newer,
                    issuer_name: None,
                    framework_version: Some("sample-1".into()),
                    source: AwardSource::Issued,
                })),
            ));
        }
    }
    awards.sort_by_key(|(date, _)| *date);
    let mut commands = registrations;
    commands.extend(awards.into_iter().map(|(_, c)| c));
    commands.push(Command::Award(AwardCommand::Suspend {
        certificate_number: numbers[SUSPENDED_INDEX].clone(),
        reason: "Under review after a report that the award logo was shown for a service it does not cover."
            .parse()
            .expect("a valid reason"),
        private_note: None,
        expected: None,
    }));
    commands.push(Command::Award(AwardCommand::Revoke {
        certificate_number: numbers[REVOKED_INDEX].clone(),
        reason: "Issued in error: the evidence related to an online programme, not face-to-face work experience."
            .parse()
            .expect("a valid reason"),
        private_note: None,
        expected: None,
    }));
    commands
}

/// Loads the demo register in one append.
pub async fn load(registry: &Registry) -> Result<Outcome, ServiceError> {
    registry
        .execute_all(&Actor::system(), commands(), None)
        .await
}
