//! The domain's rules, given/when/then: given these events, when this command, then these events
//! or this refusal; and the verdict on dates at the edges.

use wexqs::domain::types::{search_key, valid_until_of};
use wexqs::domain::{
    AddressCommand, ApplicationCommand, AwardCommand, AwardSource, CertificateNumber, Command,
    Event, KeyCommand, Level, OrganisationCommand, OrganisationId, OrganisationKind, PrivateNote,
    ProgrammeCommand, Region, State, Status, status_as_of,
};

use crate::harness::{
    Given, calendar_events, given, given_no_events, issue, issued, number, org_id,
};
use crate::helpers::date;

fn reason(s: &str) -> wexqs::domain::Reason {
    s.parse().expect("a reason")
}

/// Suspend award `n` for `why`, with no note and no version check.
fn suspend(n: &CertificateNumber, why: &str) -> Command {
    Command::Award(AwardCommand::Suspend {
        certificate_number: n.clone(),
        reason: reason(why),
        private_note: None,
        expected: None,
    })
}

/// Reinstate award `n`, with no reason, note or version check.
fn reinstate(n: &CertificateNumber) -> Command {
    Command::Award(AwardCommand::Reinstate {
        certificate_number: n.clone(),
        reason: None,
        private_note: None,
        expected: None,
    })
}

/// Revoke award `n` for `why`, with no note and no version check.
fn revoke(n: &CertificateNumber, why: &str) -> Command {
    Command::Award(AwardCommand::Revoke {
        certificate_number: n.clone(),
        reason: reason(why),
        private_note: None,
        expected: None,
    })
}

/// Given organisation 1 and its award 1, dated `on`: the history, the organisation and the
/// award's number.
fn given_one_award(on: &str) -> (Given, OrganisationId, CertificateNumber) {
    let mut g = given_no_events();
    let org = g.organisation(1);
    let n = g.award(org, 1, on);
    (g, org, n)
}

#[test]
fn an_award_is_valid_for_two_years_to_the_day_before_its_anniversary() {
    let (g, _, n) = given_one_award("2025-12-05");
    assert_eq!(g.status(&n, "2025-12-04"), Status::NotYetValid);
    assert_eq!(g.status(&n, "2025-12-05"), Status::Valid);
    assert_eq!(g.status(&n, "2027-12-04"), Status::Valid);
    assert_eq!(g.status(&n, "2027-12-05"), Status::Expired);
    assert_eq!(g.state.awards[&n].valid_until, date("2027-12-04"));
}

#[test]
fn an_award_made_on_29_february_is_valid_through_27_february_two_years_on() {
    let (g, _, n) = given_one_award("2024-02-29");
    assert_eq!(g.status(&n, "2026-02-27"), Status::Valid);
    assert_eq!(g.status(&n, "2026-02-28"), Status::Expired);
    assert_eq!(valid_until_of(date("2024-02-29")), date("2026-02-27"));
}

#[test]
fn the_issuer_is_named_as_it_was_on_the_award_date() {
    let mut g = given_no_events();
    let org = g.organisation(1);
    g.and_expect(
        issue(org, 1, "2023-03-31"),
        &[issued(
            1,
            1,
            "2023-03-31",
            "2025-03-30",
            "Health Education England",
        )],
    );
    // The second, a day later, supersedes the first.
    g.and_expect(
        issue(org, 2, "2023-04-01"),
        &[
            issued(1, 2, "2023-04-01", "2025-03-31", "NHS England"),
            Event::AwardSuperseded {
                certificate_number: number(1),
                organisation_id: org,
                superseded_by: number(2),
                effective_on: date("2023-04-01"),
            },
        ],
    );
    assert_eq!(
        &*g.state.awards[&number(1)].issuer_name,
        "Health Education England"
    );
    assert_eq!(&*g.state.awards[&number(2)].issuer_name, "NHS England");
}

#[test]
fn no_award_can_be_dated_in_the_pause_and_older_awards_carry_the_notice() {
    let mut g = given(calendar_events());
    let org = g.organisation(1);
    let refused = g
        .when(issue(org, 1, "2026-01-05"))
        .then_expect_error("programme_paused");
    assert!(refused.to_string().contains("1 January 2026"), "{refused}");
    g.when(issue(org, 1, "2026-01-01"))
        .then_expect_error("programme_paused");

    let n = g.award(org, 2, "2025-12-31");
    let verdict = status_as_of(&g.state.awards[&n], &g.state.programme, date("2026-11-24"));
    assert_eq!(verdict.status, Status::Valid);
    let notice = verdict.programme_notice.expect("the pause notice");
    assert_eq!(notice.since, date("2026-01-01"));
    assert!(notice.existing_awards_valid_until_expiry);
    assert!(!notice.new_awards);
    // Before the pause there is no notice.
    let before = status_as_of(&g.state.awards[&n], &g.state.programme, date("2025-12-31"));
    assert!(before.programme_notice.is_none());
}

#[test]
fn a_record_claiming_an_award_date_in_the_pause_never_verifies_as_valid() {
    let mut g = given(calendar_events());
    let org = g.organisation(1);
    // Bypass decide, as a forged or corrupted record would.
    let forged = Event::AwardIssued {
        certificate_number: number(9),
        organisation_id: org,
        organisation_name: "Organisation 1 NHS Trust".parse().expect("a name"),
        ods_code: None,
        region: Region::London,
        level: Level::Gold,
        awarded_on: date("2026-02-01"),
        valid_until: date("2028-01-31"),
        issuer_name: "NHS England".into(),
        scheme: "x".into(),
        framework_version: None,
        source: AwardSource::Issued,
    };
    let position = g.state.size;
    g.state.apply(position, &forged);
    for on in ["2026-02-01", "2026-11-24", "2027-06-01"] {
        let verdict = status_as_of(&g.state.awards[&number(9)], &g.state.programme, date(on));
        assert!(!verdict.valid, "on {on}");
        assert_eq!(verdict.status, Status::Revoked);
    }
}

#[test]
fn a_resumed_programme_issues_again_and_a_sunset_ends_it_for_good() {
    let mut g = given(calendar_events());
    let org = g.organisation(1);
    g.when(Command::Programme(ProgrammeCommand::Pause {
        effective_from: date("2026-03-01"),
        reason: reason("paused again"),
    }))
    .then_expect_error("programme_already_in_phase");
    g.and_expect(
        Command::Programme(ProgrammeCommand::Resume {
            effective_from: date("2026-06-01"),
            reason: reason("resumed for a trial"),
        }),
        &[Event::ProgrammeResumed {
            effective_from: date("2026-06-01"),
            reason: reason("resumed for a trial"),
        }],
    );
    g.award(org, 1, "2026-06-02");
    g.when(issue(org, 2, "2026-05-31"))
        .then_expect_error("programme_paused");
    g.and_expect(
        Command::Programme(ProgrammeCommand::Sunset {
            effective_from: date("2026-09-01"),
            reason: reason("the programme ends"),
        }),
        &[Event::ProgrammeSunset {
            effective_from: date("2026-09-01"),
            reason: reason("the programme ends"),
        }],
    );
    g.when(issue(org, 3, "2026-09-02"))
        .then_expect_error("programme_sunset");
    g.when(Command::Programme(ProgrammeCommand::Resume {
        effective_from: date("2026-10-01"),
        reason: reason("try again"),
    }))
    .then_expect_error("programme_ended");
    // The sunset shortens nothing.
    assert_eq!(g.status(&number(1), "2028-06-01"), Status::Valid);
}

#[test]
fn a_newer_award_supersedes_the_current_one() {
    let (mut g, org, old) = given_one_award("2024-05-01");
    g.and_expect(
        issue(org, 2, "2025-05-01"),
        &[
            issued(1, 2, "2025-05-01", "2027-04-30", "NHS England"),
            Event::AwardSuperseded {
                certificate_number: old.clone(),
                organisation_id: org,
                superseded_by: number(2),
                effective_on: date("2025-05-01"),
            },
        ],
    );
    assert_eq!(g.status(&old, "2025-04-30"), Status::Valid);
    assert_eq!(g.status(&old, "2025-05-01"), Status::Superseded);
    assert_eq!(g.status(&number(2), "2025-05-01"), Status::Valid);
    assert_eq!(
        g.state
            .current_award(org)
            .map(|a| a.certificate_number.clone()),
        Some(number(2))
    );
    // An older date cannot replace a newer award.
    g.when(issue(org, 3, "2025-01-01"))
        .then_expect_error("not_newer_than_current_award");
}

#[test]
fn an_expired_award_is_not_superseded_by_a_later_one() {
    let (mut g, org, old) = given_one_award("2022-01-10");
    g.and_expect(
        issue(org, 2, "2025-05-01"),
        &[issued(1, 2, "2025-05-01", "2027-04-30", "NHS England")],
    );
    assert_eq!(g.status(&old, "2025-05-01"), Status::Expired);
}

#[test]
fn suspension_is_reversible_and_revocation_is_terminal() {
    let (mut g, org, n) = given_one_award("2025-06-01");
    g.and_expect(
        suspend(&n, "logo misuse under review"),
        &[Event::AwardSuspended {
            certificate_number: n.clone(),
            organisation_id: org,
            reason: reason("logo misuse under review"),
            effective_on: date("2026-11-24"),
        }],
    );
    assert_eq!(g.status(&n, "2026-11-24"), Status::Suspended);
    // Before the suspension took effect, the award was valid.
    assert_eq!(g.status(&n, "2026-11-23"), Status::Valid);
    g.when(suspend(&n, "again"))
        .then_expect_error("invalid_transition");
    g.and_expect(
        reinstate(&n),
        &[Event::AwardReinstated {
            certificate_number: n.clone(),
            organisation_id: org,
            effective_on: date("2026-11-24"),
            reason: None,
        }],
    );
    assert_eq!(g.status(&n, "2026-11-24"), Status::Valid);
    g.and_expect(
        revoke(&n, "issued in error"),
        &[Event::AwardRevoked {
            certificate_number: n.clone(),
            organisation_id: org,
            reason: reason("issued in error"),
            effective_on: date("2026-11-24"),
        }],
    );
    let verdict = status_as_of(&g.state.awards[&n], &g.state.programme, date("2026-11-24"));
    assert_eq!(verdict.status, Status::Revoked);
    assert_eq!(verdict.reason.as_deref(), Some("issued in error"));
    for command in [reinstate(&n), suspend(&n, "x x x"), revoke(&n, "x x x")] {
        g.when(command).then_expect_error("invalid_transition");
    }
}

#[test]
fn a_write_on_a_stale_version_is_refused() {
    let (mut g, org, n) = given_one_award("2025-06-01");
    let version = g.state.awards[&n].last_position;
    g.when(Command::Award(AwardCommand::Suspend {
        certificate_number: n.clone(),
        reason: reason("check"),
        private_note: None,
        expected: Some(version - 1),
    }))
    .then_expect_error("version_mismatch");
    g.and_expect(
        Command::Award(AwardCommand::Suspend {
            certificate_number: n.clone(),
            reason: reason("check"),
            private_note: None,
            expected: Some(version),
        }),
        &[Event::AwardSuspended {
            certificate_number: n,
            organisation_id: org,
            reason: reason("check"),
            effective_on: date("2026-11-24"),
        }],
    );
}

#[test]
fn an_amendment_corrects_the_name_and_keeps_the_number() {
    let (mut g, org, n) = given_one_award("2025-06-01");
    g.and_expect(
        amendment(&n),
        &[Event::AwardAmended {
            certificate_number: n.clone(),
            organisation_id: org,
            organisation_name: "Organisation One NHS Trust".parse().expect("a name"),
            reason: reason("misspelt name"),
            effective_on: Some(date("2026-11-24")),
        }],
    );
    assert_eq!(
        g.state.awards[&n].organisation_name.as_str(),
        "Organisation One NHS Trust"
    );
    assert_eq!(g.state.awards.len(), 1);
    g.when(Command::Award(AwardCommand::Amend {
        certificate_number: n,
        organisation_name: "Organisation One NHS Trust".parse().expect("a name"),
        reason: reason("again"),
        private_note: None,
        expected: None,
    }))
    .then_expect_error("nothing_to_amend");
}

#[test]
fn an_expiry_is_recorded_once_and_only_when_due() {
    let (mut g, org, n) = given_one_award("2024-11-25");
    g.when(Command::Award(AwardCommand::RecordExpiry {
        certificate_number: n.clone(),
    }))
    .then_expect_error("expiry_not_due");
    g.today = date("2026-11-25");
    g.and_expect(
        Command::Award(AwardCommand::RecordExpiry {
            certificate_number: n.clone(),
        }),
        &[Event::AwardExpired {
            certificate_number: n.clone(),
            organisation_id: org,
            expired_on: date("2026-11-25"),
        }],
    );
    g.when(Command::Award(AwardCommand::RecordExpiry {
        certificate_number: n,
    }))
    .then_expect_error("expiry_already_recorded");
}

#[test]
fn an_award_cannot_be_dated_in_the_future_nor_given_to_an_unknown_organisation() {
    let mut g = given_no_events();
    let org = g.organisation(1);
    g.when(issue(org, 1, "2026-11-25"))
        .then_expect_error("award_date_in_future");
    g.when(issue(org_id(99), 1, "2025-11-25"))
        .then_expect_error("organisation_not_found");
}

#[test]
fn an_ods_code_belongs_to_one_organisation() {
    let mut g = given_no_events();
    g.organisation(1);
    g.when(Command::Organisation(OrganisationCommand::Register {
        organisation_id: org_id(2),
        name: "Another Trust".parse().expect("a name"),
        ods_code: Some("r01".parse().expect("an ODS code")),
        region: Region::London,
        kind: OrganisationKind::Other,
    }))
    .then_expect_error("ods_code_taken");
}

#[test]
fn an_amendment_of_an_organisation_records_only_what_changes() {
    let mut g = given_no_events();
    let org = g.organisation(1);
    let amend = |name: &str, region: Region| {
        Command::Organisation(OrganisationCommand::Amend {
            organisation_id: org,
            name: Some(name.parse().expect("a name")),
            ods_code: Some("R01".parse().expect("an ODS code")),
            region: Some(region),
            reason: reason("the trust merged"),
        })
    };
    g.and_expect(
        amend("Organisation 1 NHS Trust", Region::NorthWest),
        &[Event::OrganisationAmended {
            organisation_id: org,
            name: None,
            ods_code: None,
            region: Some(Region::NorthWest),
            reason: reason("the trust merged"),
        }],
    );
    assert_eq!(g.state.organisations[&org].region, Region::NorthWest);
    g.when(amend("Organisation 1 NHS Trust", Region::NorthWest))
        .then_expect_error("nothing_to_amend");
    g.when(Command::Organisation(OrganisationCommand::Amend {
        organisation_id: org_id(9),
        name: None,
        ods_code: None,
        region: Some(Region::London),
        reason: reason("no such trust"),
    }))
    .then_expect_error("organisation_not_found");
}

#[test]
fn a_signing_key_is_added_once_retired_while_active_and_revoked_once() {
    let mut g = given_no_events();
    let key = |id: &str| {
        Command::Key(KeyCommand::Add {
            key_id: id.into(),
            public_key_multibase: "z6MkKey".into(),
        })
    };
    g.and_expect(
        key("key-1"),
        &[Event::SigningKeyAdded {
            key_id: "key-1".into(),
            public_key_multibase: "z6MkKey".into(),
        }],
    );
    g.when(key("key-1")).then_expect_error("key_id_taken");
    let retire = Command::Key(KeyCommand::Retire {
        key_id: "key-1".into(),
        at: "2026-11-24T09:00:00Z".into(),
    });
    g.and_expect(
        retire.clone(),
        &[Event::SigningKeyRetired {
            key_id: "key-1".into(),
            retired_at: "2026-11-24T09:00:00Z".into(),
        }],
    );
    g.when(retire).then_expect_error("key_not_active");
    let revoke = Command::Key(KeyCommand::Revoke {
        key_id: "key-1".into(),
        compromised_since: "2026-11-01T00:00:00Z".into(),
        reason: reason("the key leaked"),
    });
    g.and_expect(
        revoke.clone(),
        &[Event::SigningKeyRevoked {
            key_id: "key-1".into(),
            compromised_since: "2026-11-01T00:00:00Z".into(),
            reason: reason("the key leaked"),
        }],
    );
    g.when(revoke).then_expect_error("key_not_active");
    g.when(Command::Key(KeyCommand::Retire {
        key_id: "key-2".into(),
        at: "2026-11-24T09:00:00Z".into(),
    }))
    .then_expect_error("key_not_found");
}

#[test]
fn a_drop_in_is_recorded_for_a_known_organisation_on_a_day_gone_by() {
    let mut g = given_no_events();
    let org = g.organisation(1);
    let drop_in = |organisation_id, on: &str| {
        Command::Application(ApplicationCommand::RecordDropIn {
            organisation_id,
            attended_on: date(on),
        })
    };
    g.when(drop_in(org, "2026-11-24"))
        .then_expect_events(&[Event::DropInAttended {
            organisation_id: org,
            attended_on: date("2026-11-24"),
        }]);
    g.when(drop_in(org, "2026-11-25"))
        .then_expect_error("drop_in_in_future");
    g.when(drop_in(org_id(9), "2026-11-24"))
        .then_expect_error("organisation_not_found");
}

#[test]
fn a_cycle_cannot_be_scheduled_in_the_pause_or_with_dates_out_of_order() {
    let g = given(calendar_events());
    let cycle = |open: &str, deadline: &str| {
        Command::Programme(ProgrammeCommand::ScheduleCycle(wexqs::domain::Cycle {
            cycle_id: "2026-27-cycle-1".into(),
            name: "2026/2027 Cycle 1".into(),
            submissions_open_on: date(open),
            submission_deadline: date(deadline),
            review_from: date("2026-10-01"),
            review_until: date("2026-10-31"),
            decisions_from: date("2026-11-01"),
            decisions_until: date("2026-11-15"),
        }))
    };
    g.when(cycle("2026-09-01", "2026-09-19"))
        .then_expect_error("programme_paused");
    given_no_events()
        .when(cycle("2026-09-20", "2026-09-19"))
        .then_expect_error("cycle_dates_out_of_order");
    // With the programme running, the cycle is scheduled as given.
    given_no_events()
        .when(cycle("2026-09-01", "2026-09-19"))
        .then_expect_events(&[Event::CycleScheduled(wexqs::domain::Cycle {
            cycle_id: "2026-27-cycle-1".into(),
            name: "2026/2027 Cycle 1".into(),
            submissions_open_on: date("2026-09-01"),
            submission_deadline: date("2026-09-19"),
            review_from: date("2026-10-01"),
            review_until: date("2026-10-31"),
            decisions_from: date("2026-11-01"),
            decisions_until: date("2026-11-15"),
        })]);
    assert_eq!(g.state.programme.cycles.len(), 1);
    assert_eq!(
        g.state.programme.cycles[0].submission_deadline,
        date("2025-09-19")
    );
}

#[test]
fn replaying_the_same_events_gives_the_same_state() {
    let mut g = given(calendar_events());
    let org = g.organisation(1);
    g.award(org, 1, "2024-05-01");
    g.award(org, 2, "2025-05-01");
    g.and(suspend(&number(2), "under review"));
    let mut replayed = State::default();
    for (position, e) in g.log.iter().enumerate() {
        replayed.apply(position as u64, e);
    }
    assert_eq!(replayed, g.state);
    assert_eq!(replayed.size, g.log.len() as u64);
}

#[test]
fn certificate_numbers_read_aloud_and_catch_every_single_mistyped_character() {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for seed in [0u128, 1, 0x1234_5678_9abc_def0_1234, u128::MAX] {
        let n = CertificateNumber::from_random(seed);
        let s = n.as_str();
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(s.matches('-').count(), 3);
        // Forgiving: lower case, no hyphens, spaces, O for 0 and I/L for 1.
        let typed = s
            .replace('-', " ")
            .to_lowercase()
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(typed.parse::<CertificateNumber>().expect("forgiven"), n);
        // Every single-character substitution is caught by the check character.
        let compact: Vec<char> = n.compact().chars().collect();
        for i in 0..compact.len() {
            for c in ALPHABET.chars().filter(|c| *c != compact[i]) {
                let mut wrong = compact.clone();
                wrong[i] = c;
                let wrong: String = wrong.into_iter().collect();
                let err = wrong.parse::<CertificateNumber>().unwrap_err();
                assert_eq!(err.code, "certificate_number_check_failed", "{wrong}");
            }
        }
    }
    assert_eq!(
        "ABCD".parse::<CertificateNumber>().unwrap_err().code,
        "certificate_number_malformed"
    );
    assert_eq!(
        "UUUU-UUUU-UUUU-UUUU"
            .parse::<CertificateNumber>()
            .unwrap_err()
            .code,
        "certificate_number_malformed"
    );
}

#[test]
fn certificate_numbers_carry_at_least_sixty_random_bits() {
    // Different bits anywhere in the low 75 give different numbers.
    let base = CertificateNumber::from_random(0);
    for bit in 0..75 {
        assert_ne!(
            CertificateNumber::from_random(1u128 << bit),
            base,
            "bit {bit}"
        );
    }
}

#[test]
fn search_keys_forgive_case_punctuation_saint_and_the_trust_suffix() {
    let key = search_key("St Saviour's and Borough Hospitals NHS Trust");
    assert_eq!(key, "saint saviours and borough hospitals");
    assert_eq!(search_key("ST. SAVIOURS & BOROUGH HOSPITALS"), key);
    assert_eq!(
        search_key("Saint Saviour’s and Borough Hospitals NHS Foundation Trust"),
        key
    );
    assert_eq!(search_key("NHS"), "nhs");
}

#[test]
fn the_registry_address_is_recorded_once_and_moved_only_on_purpose() {
    use wexqs::domain::PublicUrl;
    let url = |s: &str| s.parse::<PublicUrl>().expect("a valid URL");
    let mut given = given_no_events();
    given.and_expect(
        Command::Address(AddressCommand::Record {
            public_url: url("HTTP://Registry.Example.org:8443/"),
        }),
        &[Event::RegistryAddressRecorded {
            public_url: url("http://registry.example.org:8443"),
            previous: None,
            reason: None,
        }],
    );
    assert_eq!(
        given.state.public_url.as_ref().map(PublicUrl::as_str),
        Some("http://registry.example.org:8443"),
        "one address, one spelling"
    );
    // The same address again changes nothing; another is refused, saying how to move it.
    given
        .when(Command::Address(AddressCommand::Record {
            public_url: url("http://registry.example.org:8443"),
        }))
        .then_expect_events(&[]);
    let refused = given
        .when(Command::Address(AddressCommand::Record {
            public_url: url("http://127.0.0.1:8080"),
        }))
        .then_expect_error("registry_address_differs");
    assert!(
        refused.to_string().contains("wexqs address set"),
        "{refused}"
    );
    // Moving it is its own command, with a reason, and says where from.
    given.and_expect(
        Command::Address(AddressCommand::Change {
            public_url: url("https://wexqs.example.org"),
            reason: reason("The registry moved to its own domain"),
        }),
        &[Event::RegistryAddressRecorded {
            public_url: url("https://wexqs.example.org"),
            previous: Some(url("http://registry.example.org:8443")),
            reason: Some(reason("The registry moved to its own domain")),
        }],
    );
    given
        .when(Command::Address(AddressCommand::Change {
            public_url: url("https://wexqs.example.org"),
            reason: "again".parse().expect("a reason"),
        }))
        .then_expect_error("registry_address_unchanged");
}

#[test]
fn a_registry_address_is_a_bare_http_or_https_origin() {
    use wexqs::domain::PublicUrl;
    for bad in [
        "ftp://x.org",
        "https://",
        "https://a b.org",
        "https://x.org/?q=1",
        "http://x.org:0",
    ] {
        assert!(bad.parse::<PublicUrl>().is_err(), "{bad} is refused");
    }
}

#[test]
fn an_organisation_is_found_by_its_ods_code_and_by_its_new_one_after_an_amendment() {
    let registered = |n: u128, code: &str| Event::OrganisationRegistered {
        organisation_id: org_id(n),
        name: format!("Trust {n}").parse().expect("a name"),
        ods_code: Some(code.parse().expect("an ODS code")),
        region: Region::London,
        kind: OrganisationKind::NhsTrust,
    };
    let mut state = State::default();
    let events = [
        registered(1, "RX1"),
        registered(2, "RX2"),
        Event::OrganisationAmended {
            organisation_id: org_id(1),
            name: None,
            ods_code: Some("RX3".parse().expect("an ODS code")),
            region: None,
            reason: "the code changed".parse().expect("a reason"),
        },
    ];
    for (position, event) in events.iter().enumerate() {
        state.apply(position as u64, event);
    }
    let found = |code: &str| {
        state
            .organisation_by_ods(&code.parse().expect("an ODS code"))
            .map(|o| o.id)
    };
    assert_eq!(found("RX3"), Some(org_id(1)));
    assert_eq!(found("RX2"), Some(org_id(2)));
    assert_eq!(found("RX1"), None, "the old code no longer names anyone");
    assert_eq!(found("RX9"), None);
}

fn amendment(n: &CertificateNumber) -> Command {
    Command::Award(AwardCommand::Amend {
        certificate_number: n.clone(),
        organisation_name: "Organisation One NHS Trust".parse().expect("a name"),
        reason: reason("misspelt name"),
        private_note: None,
        expected: None,
    })
}

#[test]
fn only_a_current_award_is_amended_and_the_amendment_is_dated() {
    let mut g = given_no_events();
    let org = g.organisation(1);
    let (old, new) = (g.award(org, 1, "2025-06-01"), g.award(org, 2, "2026-06-01"));
    let other = g.organisation(2);
    let revoked = g.award(other, 3, "2025-06-01");
    g.and(revoke(&revoked, "issued in error"));
    let third = g.organisation(3);
    let expired = g.award(third, 4, "2024-11-01");
    g.when(amendment(&revoked))
        .then_expect_error("invalid_transition");
    g.when(amendment(&old))
        .then_expect_error("invalid_transition");
    g.when(amendment(&expired))
        .then_expect_error("award_expired");
    g.and_expect(
        amendment(&new),
        &[Event::AwardAmended {
            certificate_number: new.clone(),
            organisation_id: org,
            organisation_name: "Organisation One NHS Trust".parse().expect("a name"),
            reason: reason("misspelt name"),
            effective_on: Some(date("2026-11-24")),
        }],
    );
    let line = serde_json::to_value(g.state.awards[&new].history.last()).expect("JSON");
    assert_eq!(line["on"], "2026-11-24", "{line}");
}

#[test]
fn a_private_note_is_its_own_private_event_and_a_reinstatement_keeps_its_reason() {
    let (mut g, org, n) = given_one_award("2025-06-01");
    let note: PrivateNote = "safeguarding concern: case 41".parse().expect("a note");
    let events = g.and(Command::Award(AwardCommand::Suspend {
        certificate_number: n.clone(),
        reason: reason("under review"),
        private_note: Some(note.clone()),
        expected: None,
    }));
    assert_eq!(
        events,
        [
            Event::AwardSuspended {
                certificate_number: n.clone(),
                organisation_id: org,
                reason: reason("under review"),
                effective_on: date("2026-11-24"),
            },
            Event::AwardNoteRecorded {
                certificate_number: n.clone(),
                organisation_id: org,
                note,
            },
        ]
    );
    assert_eq!(events[0].visibility(), wexqs::domain::Visibility::Public);
    let public = serde_json::to_string(&events[0]).expect("JSON");
    assert!(!public.contains("safeguarding"), "{public}");
    assert_eq!(events[1].visibility(), wexqs::domain::Visibility::Private);
    assert_eq!(events[1].event_type(), "award_note_recorded");
    let version = g.state.awards[&n].last_position;
    assert_eq!(version, g.log.len() as u64 - 2, "a note is not a version");
    g.and_expect(
        Command::Award(AwardCommand::Reinstate {
            certificate_number: n.clone(),
            reason: Some(reason("review found no concern")),
            private_note: None,
            expected: Some(version),
        }),
        &[Event::AwardReinstated {
            certificate_number: n.clone(),
            organisation_id: org,
            effective_on: date("2026-11-24"),
            reason: Some(reason("review found no concern")),
        }],
    );
    let line = serde_json::to_value(g.state.awards[&n].history.last()).expect("JSON");
    assert_eq!(
        (&line["change"], &line["reason"]),
        (&"reinstated".into(), &"review found no concern".into())
    );
    // A reinstatement recorded before it kept a reason still reads.
    let old: Event = serde_json::from_value(serde_json::json!({"type": "award_reinstated",
        "data": {"certificate_number": n.to_string(), "organisation_id": org.to_string(),
        "effective_on": "2026-11-24"}}))
    .expect("an old reinstatement reads");
    assert!(matches!(old, Event::AwardReinstated { reason: None, .. }));
}
