//! iCalendar (RFC 5545) for awards' expiry dates: all-day events with reminders (`VALARM`)
//! before them. Text values are escaped as the RFC says (backslash, semicolon, comma, line
//! breaks) and every content line is folded at 75 octets, never inside a UTF-8 character;
//! lines end in CRLF.

use chrono::NaiveDate;

/// One all-day event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Globally unique and stable (the same award's expiry keeps its UID).
    pub uid: String,
    pub date: NaiveDate,
    pub summary: String,
    pub description: String,
    pub url: String,
    /// Days before the event a reminder goes off (none: no reminders).
    pub reminders_days_before: Vec<u32>,
}

/// A calendar of `events`, named `name`, stamped `dtstamp` (UTC, `YYYYMMDDTHHMMSSZ`).
pub fn calendar(name: &str, dtstamp: &str, events: &[Event]) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//wexqs//WEx QS award registry//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", text(name)),
    ];
    for e in events {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}", text(&e.uid)));
        lines.push(format!("DTSTAMP:{dtstamp}"));
        lines.push(format!("DTSTART;VALUE=DATE:{}", e.date.format("%Y%m%d")));
        if let Some(next) = e.date.succ_opt() {
            lines.push(format!("DTEND;VALUE=DATE:{}", next.format("%Y%m%d")));
        }
        lines.push(format!("SUMMARY:{}", text(&e.summary)));
        lines.push(format!("DESCRIPTION:{}", text(&e.description)));
        lines.push(format!("URL;VALUE=URI:{}", e.url));
        lines.push("TRANSP:TRANSPARENT".into());
        for days in &e.reminders_days_before {
            lines.push("BEGIN:VALARM".into());
            lines.push("ACTION:DISPLAY".into());
            lines.push(format!("TRIGGER;RELATED=START:-P{days}D"));
            lines.push(format!(
                "DESCRIPTION:{}",
                text(&format!("In {days} days: {}", e.summary))
            ));
            lines.push("END:VALARM".into());
        }
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in &lines {
        fold_into(&mut out, line);
    }
    out
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, line breaks as `\n`,
/// other control characters dropped.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes `line` folded (RFC 5545 §3.1): at most 75 octets a line, continued after CRLF and a
/// space, split only between characters.
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}
