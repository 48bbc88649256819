//! The staff list, who may use the console: its rules given/when/then (no identity listed
//! twice, never without an admin), its events private and folded into the list, and the
//! `wexqs staff` commands on a real database.

use wexqs::domain::staff::{StaffAdded, StaffId, StaffRole};
use wexqs::domain::{Command, Event, StaffCommand, Visibility};

use crate::harness::{Given, given_no_events};

fn id(n: u8) -> StaffId {
    format!("{n:012x}").parse().unwrap()
}

fn added(n: u8, subject: &str, role: StaffRole) -> StaffAdded {
    StaffAdded {
        staff_id: id(n),
        issuer: "https://login.example.nhs.uk".parse().unwrap(),
        subject: subject.parse().unwrap(),
        name: format!("Person {n}").parse().unwrap(),
        email: format!("person{n}@example.nhs.uk").parse().unwrap(),
        role,
    }
}

fn add(n: u8, subject: &str, role: StaffRole) -> Command {
    Command::Staff(StaffCommand::Add(added(n, subject, role)))
}

fn set_role(n: u8, role: StaffRole) -> Command {
    Command::Staff(StaffCommand::SetRole {
        staff_id: id(n),
        role,
    })
}

fn remove(n: u8) -> Command {
    Command::Staff(StaffCommand::Remove { staff_id: id(n) })
}

/// One admin (1) and one reviewer (2).
fn given_two() -> Given {
    let mut g = given_no_events();
    g.and(add(1, "alice", StaffRole::Admin));
    g.and(add(2, "bob", StaffRole::Reviewer));
    g
}

#[test]
fn staff_changes_are_private_events_folded_into_the_list() {
    let mut g = given_no_events();
    g.and_expect(
        add(1, "alice", StaffRole::Admin),
        &[Event::StaffAdded(added(1, "alice", StaffRole::Admin))],
    );
    g.and(add(2, "bob", StaffRole::Reviewer));
    g.and(set_role(2, StaffRole::Admin));
    assert_eq!(g.state.staff[&id(2)].role, StaffRole::Admin);
    g.and(remove(1));
    assert!(!g.state.staff.contains_key(&id(1)));
    assert!(
        g.log.iter().all(|e| e.visibility() == Visibility::Private),
        "every staff event is private: {:?}",
        g.log
    );
    assert!(g.log.iter().all(|e| e.stream() == "staff"));
}

#[test]
fn an_identity_is_listed_once() {
    let g = given_two();
    g.when(add(3, "alice", StaffRole::Reviewer))
        .then_expect_error("staff_already_listed");
    g.when(add(1, "carol", StaffRole::Reviewer))
        .then_expect_error("staff_id_taken");
    // The same subject at another provider is another person.
    let mut other = added(3, "alice", StaffRole::Reviewer);
    other.issuer = "https://other.example.nhs.uk".parse().unwrap();
    g.when(Command::Staff(StaffCommand::Add(other)))
        .then_expect_accepted();
}

#[test]
fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let mut g = given_two();
    g.when(remove(1)).then_expect_error("last_admin");
    g.when(set_role(1, StaffRole::Reviewer))
        .then_expect_error("last_admin");
    // A reviewer goes freely, and with a second admin the first may go.
    g.when(remove(2)).then_expect_accepted();
    g.and(set_role(2, StaffRole::Admin));
    g.and(set_role(1, StaffRole::Reviewer));
    g.when(remove(2)).then_expect_error("last_admin");
    g.and(remove(1));
}

#[test]
fn changes_name_someone_on_the_list_and_a_new_role() {
    let g = given_two();
    g.when(remove(9)).then_expect_error("staff_not_found");
    g.when(set_role(9, StaffRole::Admin))
        .then_expect_error("staff_not_found");
    g.when(set_role(2, StaffRole::Reviewer))
        .then_expect_error("staff_role_unchanged");
}

#[test]
fn staff_values_refuse_what_is_not_one() {
    use wexqs::domain::staff::{Email, Issuer, Subject};
    for bad in [
        "",
        "plain",
        "a@b",
        "a b@example.nhs.uk",
        "a@@example.nhs.uk",
    ] {
        assert!(
            bad.parse::<Email>().is_err(),
            "{bad:?} is not an e-mail address"
        );
    }
    for bad in [
        "http://login.example.nhs.uk",
        "ftp://x",
        "https://",
        "https://x/?q=1",
    ] {
        assert!(bad.parse::<Issuer>().is_err(), "{bad:?} is not an issuer");
    }
    assert!("http://127.0.0.1:9400".parse::<Issuer>().is_ok());
    assert!("http://127.0.0.1.evil.example".parse::<Issuer>().is_err());
    for bad in ["", "with space", &"x".repeat(256)] {
        assert!(bad.parse::<Subject>().is_err(), "{bad:?} is not a subject");
    }
}

/// `wexqs staff` on both databases: added with the configured issuer by default, listed,
/// demoted and removed, the last admin kept, every change a private event naming who made it.
async fn the_staff_commands_keep_the_list(backend: crate::helpers::Backend) {
    use crate::helpers::{fresh_db, open_store, temp_dir, text, wexqs};
    use wexqs::store::EventStore as _;
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let run = |args: &[&str]| wexqs(&db, dir.path(), args);
    let no_issuer = run(&[
        "staff",
        "add",
        "--subject",
        "alice",
        "--name",
        "Alice Admin",
        "--email",
        "alice@example.nhs.uk",
        "--role",
        "admin",
    ]);
    assert!(!no_issuer.status.success());
    assert!(
        text(&no_issuer.stderr).contains("--issuer"),
        "{}",
        text(&no_issuer.stderr)
    );
    let add = |subject: &str, name: &str, role: &str| {
        let out = run(&[
            "staff",
            "add",
            "--issuer",
            "https://login.example.nhs.uk",
            "--subject",
            subject,
            "--name",
            name,
            "--email",
            &format!("{subject}@example.nhs.uk"),
            "--role",
            role,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let alice = add("alice", "Alice Admin", "admin");
    let bob = add("bob", "Bob Reviewer", "reviewer");
    assert_eq!(alice.len(), 12, "{alice:?}");
    let again = run(&[
        "staff",
        "add",
        "--issuer",
        "https://login.example.nhs.uk",
        "--subject",
        "alice",
        "--name",
        "Alice Again",
        "--email",
        "a@example.nhs.uk",
        "--role",
        "admin",
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already on the staff list"),
        "{}",
        text(&again.stderr)
    );
    let bad_email = run(&[
        "staff",
        "add",
        "--issuer",
        "https://login.example.nhs.uk",
        "--subject",
        "carol",
        "--name",
        "Carol",
        "--email",
        "not an address",
        "--role",
        "admin",
    ]);
    assert!(!bad_email.status.success());
    let list = text(&run(&["staff", "list"]).stdout);
    assert!(list.starts_with("id\trole\tname"), "{list}");
    assert!(
        list.contains(&format!("{alice}\tadmin\tAlice Admin")),
        "{list}"
    );
    assert!(
        list.contains(&format!("{bob}\treviewer\tBob Reviewer")),
        "{list}"
    );
    let demote_last = run(&["staff", "set-role", &alice, "--role", "reviewer"]);
    assert!(!demote_last.status.success());
    assert!(
        text(&demote_last.stderr).contains("last admin"),
        "{}",
        text(&demote_last.stderr)
    );
    assert!(!run(&["staff", "remove", &alice]).status.success());
    assert!(
        run(&["staff", "set-role", &bob, "--role", "admin"])
            .status
            .success()
    );
    assert!(run(&["staff", "remove", &alice]).status.success());
    let list = text(&run(&["staff", "list"]).stdout);
    assert!(!list.contains("Alice"), "{list}");
    let store = open_store(&db).await;
    let events = store.read(0, 1000).await.expect("read");
    let staff: Vec<_> = events.iter().filter(|e| e.stream_id == "staff").collect();
    assert_eq!(staff.len(), 4, "added twice, a role changed, one removed");
    for e in staff {
        assert_eq!(e.visibility, Visibility::Private);
        assert!(e.actor.starts_with("cli"), "{}", e.actor);
    }
}

crate::helpers::on_both_databases!(backend: the_staff_commands_keep_the_list);
