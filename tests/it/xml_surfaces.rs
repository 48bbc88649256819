//! No stored string can make an XML surface invalid: the hostile corpus (markup, CDATA ends,
//! the baked SVG's own closing tag) and every character XML 1.0 forbids (C0 controls, U+FFFE,
//! U+FFFF), with noncharacters, tag characters, fillers, soft hyphens and bidi controls, go
//! through every XML writer (the Atom feed, the baked SVG, the status badge) and each document
//! is parsed by Python's `xml.dom.minidom` (expat, strict), which we did not write; so is every
//! XML route (the Atom feeds, the baked logo, the badge, the QR code) for stored hostile names. The same
//! parser refuses a document holding U+FFFE as it is, so the check can fail. The new text rule
//! refuses every one of the invisible and noncharacters at the door.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use wexqs::credentials::baking::{bake_svg, unbake_svg};
use wexqs::domain::Level;
use wexqs::render::artefacts::{logo_svg, status_badge};
use wexqs::render::atom::{Entry, Feed, Link, render};

/// Strings a registry may hold (stored before a rule was complete, or allowed by it).
const CORPUS: &[&str] = &[
    r#"Probe "><img src=x onerror=alert(1)> Trust"#,
    "O'Brien & Partners <Health> Trust",
    "Data ]]> Trust <![CDATA[ x",
    "Fake </openbadges:credential> Trust",
    "Bad \u{FFFE} Trust",
    "Worse \u{FFFF} Trust",
    "Nul \u{0} Bell \u{7} Escape \u{1b} Trust",
    "Tab\tLine\nReturn\r Vertical\u{B}Form\u{C} Trust",
    "Soft\u{AD}hyphen Trust",
    "Tag \u{E0001}\u{E0041}\u{E007F} Trust",
    "Filler \u{115F}\u{1160}\u{3164}\u{FFA0} Trust",
    "Nonchar \u{FDD0}\u{FDEF}\u{1FFFE}\u{10FFFF} Trust",
    "Evil \u{202E}tsurT \u{2066}x\u{2069} Trust",
];

/// Names the rule takes that are hostile to XML writers: markup, quotes, CDATA ends, the baked
/// SVG's own closing tag, and characters from far planes.
const STORABLE: &[&str] = &[
    r#"Probe "><img src=x onerror=alert(1)> Trust"#,
    "O'Brien & Partners <Health> Trust",
    "Data ]]> Trust <![CDATA[ x",
    "Fake </openbadges:credential> Trust",
    "Ysbyty 𝔊𝔴𝔶𝔫𝔢𝔡𝔡 مستشفى Trust",
];

/// The characters the text rule now refuses, each in a name.
const REFUSED: &[char] = &[
    '\u{AD}',
    '\u{600}',
    '\u{115F}',
    '\u{1160}',
    '\u{3164}',
    '\u{FFA0}',
    '\u{FDD0}',
    '\u{FDEF}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{1FFFE}',
    '\u{10FFFF}',
    '\u{E0000}',
    '\u{E0041}',
    '\u{E007F}',
    '\u{200D}',
    '\u{2064}',
    '\u{FEFF}',
    '\u{1D173}',
];

fn feed_of(s: &str) -> String {
    render(&Feed {
        id: "urn:uuid:00000000-0000-0000-0000-000000000000".into(),
        title: s.into(),
        subtitle: s.into(),
        author: s.into(),
        updated: "2026-12-02T00:00:00Z".into(),
        links: vec![Link {
            rel: "self",
            href: format!("https://wexqs.example.org/feed?q={s}"),
        }],
        entries: vec![Entry {
            id: "urn:uuid:00000000-0000-0000-0000-000000000001".into(),
            title: s.into(),
            link: format!("https://wexqs.example.org/verify/{s}"),
            updated: "2026-12-02T00:00:00Z".into(),
            summary: s.into(),
            category: s.into(),
        }],
    })
}

/// Each document parsed by minidom: `None` if well-formed, else the parser's complaint.
fn strict_parse(documents: &[String]) -> Vec<Option<String>> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe.ancestors().nth(3).expect("the target folder");
    let python = target.join("tests-python-venv/bin/python");
    assert!(
        python.exists(),
        "run `cargo xtask test` to install the tests' Python"
    );
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let path = dir.path().join(format!("{i}.xml"));
            std::fs::write(&path, d).unwrap();
            path
        })
        .collect();
    let script = "import json, sys, xml.dom.minidom\n\
                  out = []\n\
                  for p in sys.argv[1:]:\n\
                  \x20   try:\n\
                  \x20       xml.dom.minidom.parse(p); out.append(None)\n\
                  \x20   except Exception as e:\n\
                  \x20       out.append(str(e))\n\
                  print(json.dumps(out))\n";
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_xml_surface_stays_well_formed_whatever_string_it_carries() {
    let mut documents = Vec::new();
    let mut labels = Vec::new();
    for s in CORPUS {
        documents.push(feed_of(s));
        labels.push(format!("the Atom feed of {s:?}"));
        let credential = json!({"credentialSubject": {"name": s}}).to_string();
        let svg = bake_svg(&logo_svg(Level::Gold), &credential).unwrap();
        // The registry reads its own bake back: the same JSON value.
        let unbaked = unbake_svg(&svg).unwrap().expect("a credential inside");
        assert_eq!(
            serde_json::from_str::<Value>(&unbaked).unwrap(),
            serde_json::from_str::<Value>(&credential).unwrap(),
            "{s:?}"
        );
        documents.push(svg);
        labels.push(format!("the baked SVG of {s:?}"));
        documents.push(status_badge(Level::Gold, "valid", s, false));
        labels.push(format!("the status badge of {s:?}"));
    }
    // The parser is strict: U+FFFE written as it is makes a document it refuses.
    documents.push("<a>Bad \u{FFFE} Trust</a>".to_owned());
    labels.push("the control".to_owned());
    let results = strict_parse(&documents);
    let (control, results) = results.split_last().unwrap();
    assert!(control.is_some(), "minidom took U+FFFE");
    for (label, result) in labels.iter().zip(results) {
        assert_eq!(result, &None, "{label} is not well-formed XML");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_xml_route_serves_well_formed_xml_for_hostile_stored_names() {
    let app = crate::helpers::sqlite_app().await;
    let mut paths = vec!["/v1/feed.atom".to_owned()];
    // A logo is served only while its award is valid: read before the suspension below.
    let mut logos = Vec::new();
    for name in STORABLE {
        let organisation = app.organisation(name, None).await;
        let number = app.award(&organisation, "gold", "2025-06-02").await;
        let logo = format!("/v1/awards/{number}/logo.svg");
        logos.push((logo.clone(), app.text(&logo).await));
        let suspended = app
            .admin_post(
                &format!("/v1/admin/awards/{number}/suspend"),
                json!({"reason": format!("a check of {name}")}),
            )
            .await;
        assert_eq!(suspended.status(), 200, "{name}");
        paths.push(format!("/v1/organisations/{organisation}/feed.atom"));
        for svg in ["badge.svg", "qr.svg"] {
            paths.push(format!("/v1/awards/{number}/{svg}"));
        }
    }
    let mut documents = Vec::new();
    for path in &paths {
        documents.push(app.text(path).await);
    }
    for (path, logo) in logos {
        paths.push(path);
        documents.push(logo);
    }
    for (path, result) in paths.iter().zip(strict_parse(&documents)) {
        assert_eq!(result, None, "{path} is not well-formed XML");
    }
    assert!(
        documents[0].contains("O&#39;Brien &amp; Partners &lt;Health&gt; Trust"),
        "the feed names the organisation, escaped"
    );
}

#[test]
fn the_text_rule_refuses_noncharacters_and_invisible_and_format_characters() {
    use wexqs::domain::Name;
    for c in REFUSED {
        let name = format!("Good {c}Trust");
        assert!(
            name.parse::<Name>().is_err(),
            "U+{:04X} was taken",
            *c as u32
        );
    }
    for fine in [
        "Saint-Étienne Trust",
        "Ōsaka 病院",
        "Ysbyty Gwynedd",
        "NHS Trust 👩‍⚕",
    ] {
        let taken = fine.parse::<Name>();
        assert_eq!(
            taken.is_ok(),
            !fine.contains('\u{200D}'),
            "{fine:?}: {taken:?}"
        );
    }
}

#[test]
fn a_cycle_name_is_checked_as_it_is_stored_so_no_line_break_gets_in_at_either_end() {
    use crate::harness::given_no_events;
    use crate::helpers::date;
    use wexqs::domain::{Command, ProgrammeCommand};
    let cycle = |name: &str| {
        Command::Programme(ProgrammeCommand::ScheduleCycle(wexqs::domain::Cycle {
            cycle_id: "2026-27-cycle-1".into(),
            name: name.into(),
            submissions_open_on: date("2026-09-20"),
            submission_deadline: date("2026-09-25"),
            review_from: date("2026-10-01"),
            review_until: date("2026-10-31"),
            decisions_from: date("2026-11-01"),
            decisions_until: date("2026-11-15"),
        }))
    };
    for bad in [
        "\r\n2026/2027 Cycle 1",
        "2026/2027 Cycle 1\n",
        "2026/2027 Cycle 1\u{FFFE}",
        "\u{AD}2026/2027",
        "   ",
    ] {
        given_no_events()
            .when(cycle(bad))
            .then_expect_error("cycle_invalid");
    }
    let events = given_no_events()
        .when(cycle(" 2026/2027 Cycle 1 "))
        .then_expect_accepted();
    assert_eq!(events.len(), 1);
}
