//! The CSV export opened by a real spreadsheet: LibreOffice Calc (Debian's, headless) reads the
//! register's CSV, fetched through the export route, splitting on each usual separator with
//! formulas evaluated, and writes it back as a flat OpenDocument file, which Python's ElementTree
//! reads. No cell may hold a formula, and with commas every hostile name reads back as its text
//! with the documented apostrophe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{sqlite_app, temp_dir};

/// Organisation names written to run as formulas, each with the text a spreadsheet splitting on
/// commas shows for it: an apostrophe before each place a formula could start.
const HOSTILE: [(&str, &str); 17] = [
    ("=1+1", "'=1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    (
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "'=HYPERLINK(\"http://evil.example\",\"click\")",
    ),
    ("Acme;=1+1", "Acme;'=1+1"),
    ("Acme,=2+2", "Acme,'=2+2"),
    ("Acme|=3+3", "Acme|'=3+3"),
    ("Acme =4+4", "Acme '=4+4"),
    (
        "Acme; =HYPERLINK(\"http://evil.example\")",
        "Acme; '=HYPERLINK(\"http://evil.example\")",
    ),
    ("Acme;\"=5+5\"", "Acme;\"'=5+5\""),
    ("Acme;-2+3;+4+5;@A1", "Acme;'-2+3;'+4+5;'@A1"),
    ("＝1+1", "'＝1+1"),
    ("Trust;＋1+1;＠A1;－1", "Trust;'＋1+1;'＠A1;'－1"),
    // Legitimate names: a hyphen inside a word is left alone, one that begins a word is not.
    ("Hull-York O'Brien Trust", "Hull-York O'Brien Trust"),
    ("St Mary - Leeds", "St Mary '- Leeds"),
];

/// An issuer's name may begin with spaces (a name's are collapsed), which a spreadsheet that
/// trims cells removes before it looks for a formula.
const SPACED_ISSUER: (&str, &str) = ("   =1+1", "   '=1+1");

/// LibreOffice's CSV filter's separators (ASCII codes, several joined by `/`), by name.
const SEPARATORS: [(&str, &str); 6] = [
    ("comma", "44"),
    ("semicolon", "59"),
    ("tab", "9"),
    ("pipe", "124"),
    ("space", "32"),
    ("all of them", "44/59/9/124/32"),
];

/// The cells of a flat OpenDocument spreadsheet: per row, each cell's formula (if any), value
/// type and text, as JSON.
const READ_CELLS: &str = r#"
import json, sys
import xml.etree.ElementTree as ET
T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
X = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
rows = []
for row in ET.parse(sys.argv[1]).iter(f"{{{T}}}table-row"):
    rows.append([
        {
            "formula": cell.get(f"{{{T}}}formula"),
            "type": cell.get(f"{{{O}}}value-type"),
            "text": "\n".join("".join(p.itertext()) for p in cell.iter(f"{{{X}}}p")),
        }
        for cell in row.iter(f"{{{T}}}table-cell")
    ])
json.dump(rows, sys.stdout)
"#;

#[derive(Debug, serde::Deserialize)]
struct Cell {
    formula: Option<String>,
    #[serde(rename = "type")]
    value_type: Option<String>,
    text: String,
}

/// Runs `command`, killing it if it has not ended by `limit`.
fn run_within(mut command: Command, limit: Duration) -> std::process::Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("LibreOffice (`soffice`, the Debian package libreoffice-calc-nogui, which `cargo xtask test` installs) starts");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("it runs").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("LibreOffice took over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("its output")
}

/// Each file's cells as LibreOffice reads it, splitting on `separators`, trimming spaces, and
/// evaluating formulas (the CSV filter's options: separators, `"` around text, UTF-8, from line
/// 1, standard column types, default language, quoted cells not forced to text, no special
/// numbers, -, -, spaces trimmed, -, formulas evaluated).
fn cells_by_libreoffice(dir: &Path, separators: &str, files: &[&Path]) -> Vec<Vec<Vec<Cell>>> {
    let out = dir.join(format!("out-{}", separators.replace('/', "-")));
    let mut soffice = Command::new("soffice");
    soffice
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.join(format!("profile-{}", separators.replace('/', "-")))
                .display()
        ))
        .args(["--headless", "--norestore", "--nolockcheck"])
        .arg(format!(
            "--infilter=CSV:{separators},34,76,1,,0,false,false,false,false,true,-1,true"
        ))
        .args(["--convert-to", "fods", "--outdir"])
        .arg(&out)
        .args(files);
    let done = run_within(soffice, Duration::from_secs(90));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    files
        .iter()
        .map(|file| {
            let fods = out.join(file.with_extension("fods").file_name().expect("a name"));
            let read = Command::new("python3")
                .args(["-c", READ_CELLS])
                .arg(&fods)
                .output()
                .expect("python3 runs");
            assert!(
                read.status.success(),
                "{} ({}): {}",
                fods.display(),
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&read.stderr)
            );
            serde_json::from_slice(&read.stdout).expect("the cells as JSON")
        })
        .collect()
}

/// Beside the export, two files LibreOffice is to read: the control, the hostile names written
/// as they are, one a line, which LibreOffice must run as formulas with these options (else
/// finding none in the export would prove nothing); and the names as the first-character rule
/// wrote them (an apostrophe before a cell's first `=`, `+`, `-` or `@` only), quoted after a
/// first cell: a spreadsheet that splits on semicolons, pipes or spaces alone finds formulas in
/// them (one that splits on commas too keeps each quoted cell whole). Their paths.
fn control_files(dir: &Path) -> (PathBuf, PathBuf) {
    let control = dir.join("control.csv");
    let raw: String = HOSTILE
        .iter()
        .map(|(name, _)| format!("{name}\r\n"))
        .collect();
    std::fs::write(&control, raw).expect("written");
    // And the names as the first-character rule wrote them (an apostrophe before a cell's first
    // `=`, `+`, `-` or `@` only), quoted after a first cell: a spreadsheet that splits on
    // semicolons, pipes or spaces alone finds formulas in them (one that splits on commas too
    // keeps each quoted cell whole).
    let first_character = dir.join("first_character.csv");
    let old_rule: String = HOSTILE
        .iter()
        .map(|(name, _)| {
            let mark = if name.starts_with(['=', '+', '-', '@']) {
                "'"
            } else {
                ""
            };
            format!("x,\"{mark}{}\"\r\n", name.replace('"', "\"\""))
        })
        .collect();
    std::fs::write(&first_character, old_rule).expect("written");

    (control, first_character)
}

/// What LibreOffice read splitting on `separator`: nothing of the export evaluated, and no cell
/// beginning as a formula does, though the control's raw names run (and the first-character
/// rule's let some through where it should).
fn assert_nothing_evaluated(separator: &str, read: &[Vec<Vec<Cell>>]) {
    let (exported, control, first_character) = (&read[0], &read[1], &read[2]);
    assert!(
        control.iter().flatten().any(|c| c.formula.is_some()),
        "splitting on {separator}, LibreOffice runs the raw names as formulas: {control:?}"
    );
    let old_rule_fails = first_character
        .iter()
        .flatten()
        .any(|c| c.formula.is_some());
    assert_eq!(
        old_rule_fails,
        ["semicolon", "pipe", "space"].contains(&separator),
        "splitting on {separator}, the first-character rule lets formulas through: \
         {first_character:?}"
    );
    assert_eq!(
        exported.len(),
        HOSTILE.len() + 2,
        "{separator}: a header and the awards"
    );
    for cell in exported.iter().flatten() {
        assert!(
            cell.formula.is_none(),
            "splitting on {separator}, LibreOffice evaluated {cell:?}"
        );
        let start = cell
            .text
            .trim_start_matches(|c: char| c.is_whitespace() || c == '"');
        assert!(
            !start.starts_with(['=', '+', '-', '@', '＝', '＋', '－', '＠']),
            "splitting on {separator}, a cell begins with a formula's start: {cell:?}"
        );
    }
}

/// Split on commas, the export's names read back as LibreOffice shows them, every one as text,
/// and the spaced issuer's name as its text after the spaces.
fn assert_the_names_read_back(exported: &[Vec<Cell>]) {
    let header = &exported[0];
    let column = |name: &str| {
        header
            .iter()
            .position(|c| c.text == name)
            .unwrap_or_else(|| panic!("a column {name}"))
    };
    let (names, issuers) = (column("organisation_name"), column("issuer_name"));
    let mut read_names: Vec<&str> = exported[1..]
        .iter()
        .map(|row| row[names].text.as_str())
        .collect();
    let mut expected: Vec<&str> = HOSTILE.iter().map(|(_, shown)| *shown).collect();
    expected.push("Spaced Issuer Trust");
    read_names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(read_names, expected, "the names as LibreOffice shows them");
    assert!(
        exported[1..]
            .iter()
            .all(|row| row[names].value_type.as_deref() == Some("string")),
        "every name is text"
    );
    // Spaces trimmed, the issuer's name is its text after them.
    assert!(
        exported[1..]
            .iter()
            .any(|row| row[issuers].text == SPACED_ISSUER.1.trim_start()),
        "the spaced issuer's name reads back as {:?}",
        SPACED_ISSUER.1.trim_start()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libreoffice_evaluates_no_cell_of_the_export_whatever_it_splits_on() {
    let app = sqlite_app().await;
    for (name, _) in HOSTILE {
        let organisation = app.organisation(name, None).await;
        app.award(&organisation, "gold", "2025-06-02").await;
    }
    let organisation = app.organisation("Spaced Issuer Trust", None).await;
    let issued = app
        .admin_post(
            "/v1/admin/awards",
            json!({"organisation_id": organisation, "level": "silver",
                   "awarded_on": "2025-06-03", "issuer_name": SPACED_ISSUER.0}),
        )
        .await;
    assert_eq!(issued.status(), 201);

    let dir = temp_dir();
    let csv = app
        .request(reqwest::Method::GET, "/v1/exports/register.csv")
        .send()
        .await
        .expect("the export")
        .bytes()
        .await
        .expect("its body");
    let export = dir.path().join("register.csv");
    std::fs::write(&export, &csv).expect("written");
    let (control, first_character) = control_files(dir.path());

    // One LibreOffice a separator, each with its own profile, side by side.
    let (started, dir) = (Instant::now(), dir.path());
    let files = [
        export.as_path(),
        control.as_path(),
        first_character.as_path(),
    ];
    let read_all: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = SEPARATORS
            .iter()
            .map(|(_, codes)| scope.spawn(move || cells_by_libreoffice(dir, codes, &files)))
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("LibreOffice read the files"))
            .collect()
    });
    let took = started.elapsed();
    for ((separator, _), read) in SEPARATORS.iter().zip(&read_all) {
        let separator = *separator;
        assert_nothing_evaluated(separator, read);
        if separator == "comma" {
            assert_the_names_read_back(&read[0]);
        }
    }
    eprintln!(
        "LibreOffice read the export {} ways in {took:?}",
        SEPARATORS.len()
    );
}
