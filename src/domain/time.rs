//! Dates as the registry reads them: the bounds of a date it records, an award's expiry two years
//! on and its last valid day, the first instant of a UK day, and the UK's long form of a date.
//! Pure: no clock; today arrives as an argument.

use chrono::{Datelike, Months, NaiveDate};

use super::parse::ParseError;
use crate::error_codes::ErrorCode;

/// The earliest and latest dates the registry records or answers about. The programme began in
/// the 2010s and an award lasts two years; a date outside these bounds is a typing mistake.
pub(crate) const EARLIEST_DATE: NaiveDate =
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a real date");
pub(crate) const LATEST_DATE: NaiveDate =
    NaiveDate::from_ymd_opt(2099, 12, 31).expect("a real date");

/// `date` if it is within the registry's bounds, else the rule in words.
pub(crate) fn date_in_range(date: NaiveDate) -> Result<NaiveDate, ParseError> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(ParseError::new(
            ErrorCode::DateOutOfRange,
            format!("a date must be between {EARLIEST_DATE} and {LATEST_DATE}; {date} is not"),
        ))
    }
}

/// The first day an award is no longer valid: its second anniversary. An award made on
/// 29 February expires on 28 February two years on (so it is valid through the 27th).
pub(crate) fn expiry_of(awarded_on: NaiveDate) -> NaiveDate {
    awarded_on
        .checked_add_months(Months::new(24))
        .expect("two years after a date in the registry's range is representable")
}

/// The last day an award is valid: the day before its expiry.
pub fn valid_until_of(awarded_on: NaiveDate) -> NaiveDate {
    expiry_of(awarded_on)
        .pred_opt()
        .expect("the day before a representable date is representable")
}

/// The first instant of a UK calendar day, in UTC (statuses flip at local midnight).
pub(crate) fn start_of_uk_day(date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists on every calendar day");
    chrono_tz::Europe::London
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(
            || chrono::Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&chrono::Utc),
        )
}

/// Formats a date the way the UK writes it: 1 January 2026.
pub(crate) fn long_date(date: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!(
        "{} {} {}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    )
}
