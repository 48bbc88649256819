//! The README stays true: the demo certificate numbers it shows exist with the statuses it says,
//! and the mistyped one it shows is caught.

use wexqs::domain::{CertificateNumber, State, Status, status_as_of};

use crate::harness::given_no_events;
use crate::helpers::date;

const README: &str = include_str!("../../README.md");

fn demo_state(today: &str) -> State {
    let mut given = given_no_events().on(today);
    for command in wexqs::service::demo::commands() {
        given.and(command);
    }
    given.state
}

fn status(state: &State, number: &str, on: &str) -> Status {
    let number: CertificateNumber = number.parse().expect("a valid number");
    status_as_of(&state.awards[&number], &state.programme, date(on)).status
}

#[test]
fn the_readme_examples_are_what_the_demo_register_holds() {
    let state = demo_state("2026-11-24");
    assert_eq!(
        status(&state, "FDXE-J5BM-RRNV-PEDM", "2026-11-24"),
        Status::Valid
    );
    assert_eq!(
        status(&state, "FDXE-J5BM-RRNV-PEDM", "2027-01-05"),
        Status::Valid
    );
    assert_eq!(
        status(&state, "FDXE-J5BM-RRNV-PEDM", "2027-01-06"),
        Status::Expired
    );
    assert_eq!(
        status(&state, "B799-E2YM-288Z-0Q7S", "2026-11-24"),
        Status::Suspended
    );
    assert_eq!(
        status(&state, "0668-PPN1-4XEN-GDWT", "2026-11-24"),
        Status::Revoked
    );
    assert_eq!(
        status(&state, "HB0B-2ZC1-G4SX-H3TV", "2026-11-24"),
        Status::Superseded
    );
    assert_eq!(
        status(&state, "T42Z-TP9C-9ZXS-PX36", "2026-11-24"),
        Status::Expired
    );

    let unknown: CertificateNumber = "0000-0000-0000-0000".parse().expect("well formed");
    assert!(!state.awards.contains_key(&unknown));
    assert_eq!(
        "FDXE-J5BM-RRNV-PEDA"
            .parse::<CertificateNumber>()
            .expect_err("a typo")
            .code,
        "certificate_number_check_failed"
    );

    // Every number the README shows is one of those above.
    let shown: std::collections::BTreeSet<&str> = README
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let groups: Vec<&str> = w.split('-').collect();
            groups.len() == 4
                && groups
                    .iter()
                    .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .collect();
    let known = [
        "FDXE-J5BM-RRNV-PEDM",
        "B799-E2YM-288Z-0Q7S",
        "0668-PPN1-4XEN-GDWT",
        "HB0B-2ZC1-G4SX-H3TV",
        "T42Z-TP9C-9ZXS-PX36",
        "0000-0000-0000-0000",
        "FDXE-J5BM-RRNV-PEDA",
    ];
    for number in shown {
        assert!(
            known.contains(&number),
            "the README shows {number}, which no test checks"
        );
    }
}
