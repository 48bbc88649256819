//! Secrets in configured URLs are redacted wherever such a URL is written: the user-info
//! password and every parameter that may hold a secret (`password=`, `sslpassword=`, `token`...)
//! become `***`, by the one function `startup::redact`; the binary's errors and `--help` show
//! none of them.

use wexqs::startup::redact;

use crate::helpers::{temp_dir, text};

#[test]
fn redact_hides_passwords_and_secret_parameters_and_keeps_the_rest() {
    for (given, expected) in [
        ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
        (
            "postgres://u@h/db?password=secret",
            "postgres://u@h/db?password=***",
        ),
        (
            "postgresql://u:p%40ss@h:5432/db?sslmode=require&sslpassword=k&application_name=w",
            "postgresql://u:***@h:5432/db?sslmode=require&sslpassword=***&application_name=w",
        ),
        (
            "postgres://h/db?auth_token=t1;api_key=t2#x",
            "postgres://h/db?auth_token=***;api_key=***#x",
        ),
        (
            "postgres://h/db?PASSWORD=Secret",
            "postgres://h/db?PASSWORD=***",
        ),
        (
            "host=h user=u password=secret dbname=d",
            "host=h user=u password=*** dbname=d",
        ),
        (
            "sqlite:///var/lib/wexqs/registry.db",
            "sqlite:///var/lib/wexqs/registry.db",
        ),
        ("sqlite://data/r.db?mode=rwc", "sqlite://data/r.db?mode=rwc"),
        (
            "cannot open postgres://a:b@h/d and postgres://c:d@h/e?password=z",
            "cannot open postgres://a:***@h/d and postgres://c:***@h/e?password=***",
        ),
        ("postgres://h/db?user=a@b", "postgres://h/db?user=a@b"),
    ] {
        assert_eq!(redact(given), expected, "{given}");
    }
}

/// A database URL holding three secrets: in its user-info, `password=` and `sslpassword=`.
const SECRET_URL: &str = "postgres://wexqs:userinfo-secret@127.0.0.1:1/registry?password=query-secret&sslpassword=ssl-secret&connect_timeout=2";

fn assert_no_secret(what: &str, output: &str) {
    for secret in ["userinfo-secret", "query-secret", "ssl-secret"] {
        assert!(!output.contains(secret), "{what} shows {secret}: {output}");
    }
}

#[test]
fn the_binary_never_prints_a_configured_url_s_secrets() {
    let dir = temp_dir();
    let run = |args: &[&str], url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wexqs"))
            .args(args)
            .env("WEXQS_DATA_DIR", dir.path())
            .env("DATABASE_URL", url)
            .output()
            .expect("wexqs runs")
    };
    // A database that cannot be reached: the error names it, redacted.
    let out = run(&["migrate"], SECRET_URL);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("password=***"), "{stderr}");
    assert!(stderr.contains("wexqs:***@127.0.0.1:1"), "{stderr}");
    assert_no_secret(
        "a connection error",
        &format!("{stderr}{}", text(&out.stdout)),
    );
    // A scheme the registry does not speak.
    let out = run(&["migrate"], &SECRET_URL.replace("postgres://", "mysql://"));
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("mysql://"), "{stderr}");
    assert_no_secret("a scheme error", &stderr);
    // `--help` shows the variable, not its value.
    for args in [&["migrate", "--help"][..], &["serve", "--help"]] {
        let out = run(args, SECRET_URL);
        let help = text(&out.stdout);
        assert!(help.contains("DATABASE_URL"), "{args:?}: {help}");
        assert_no_secret("--help", &help);
    }
}
