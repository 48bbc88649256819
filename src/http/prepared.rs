//! Answers about an award prepared once and served as bytes: an award's record, its verification
//! answer about today, its badge and its page are the same bytes until the log moves, the day
//! turns or a new checkpoint is signed, so each is built once per such change (`Version`) and
//! kept, shared by every request until then. Bounded: a full cache is emptied and refilled by
//! the requests that follow, so memory stays flat however large the register. Register
//! searches (`Searches`) are kept the same way, by their request, for the version they were
//! answered at.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web::Bytes;

use crate::domain::CertificateNumber;

/// The most answers kept at once (`limits::MAX_PREPARED_ANSWERS`).
const MAX_ENTRIES: usize = crate::limits::MAX_PREPARED_ANSWERS;

/// Which answer about an award.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Answer {
    /// `GET /v1/awards/{n}`.
    Record,
    /// `GET /v1/awards/{n}/verification` about today, up to its `checked_at` value.
    Verification,
    /// `GET /v1/awards/{n}/badge.svg`, flat or large.
    Badge { large: bool },
    /// `GET /verify/{n}`.
    Page,
    /// `GET /v1/awards/{n}/receipt` about today, signed at one second (`iat`): the same bytes
    /// for every request in that second.
    Receipt,
}

/// What a prepared answer was built from: the service's version of its derived views
/// (`service::Version`: the log's size, since any event, about the award or the programme, can
/// change an answer, and the UK day) and the latest checkpoint's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) log: crate::service::Version,
    pub(crate) checkpoint_size: u64,
}

/// What an entry was built at: the version, and the second it was signed at for a receipt (0
/// for the others).
type Built = (Version, i64);

type Entries = HashMap<(Answer, CertificateNumber), (Built, Bytes)>;

/// The prepared answers, shared by the workers.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    entries: Mutex<Entries>,
}

impl Prepared {
    /// The answer `answer` about `number` as of `version`: the one kept, or `build`'s, kept.
    pub(crate) fn get_or_build<E>(
        &self,
        answer: Answer,
        number: &CertificateNumber,
        version: Version,
        build: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        self.get_or_build_at(answer, number, version, 0, build)
    }

    /// As `get_or_build`, for an answer that also changes with the second it is made at.
    pub(crate) fn get_or_build_at<E>(
        &self,
        answer: Answer,
        number: &CertificateNumber,
        version: Version,
        second: i64,
        build: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let key = (answer, number.clone());
        let version = (version, second);
        if let Some((at, bytes)) = self.lock().get(&key)
            && *at == version
        {
            return Ok(bytes.clone());
        }
        // Built without the lock held: two requests may build the same answer, and either is
        // right.
        let bytes = build()?;
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (version, bytes.clone()));
        Ok(bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .expect("the prepared answers' lock is never poisoned")
    }
}

/// Answers to register searches (`GET /v1/register`) as sent, by the search asked (its text,
/// filters and page, as one key), for one version: a search asked again before the log moves,
/// the day turns or a checkpoint is signed is the same bytes. At most
/// `limits::MAX_PREPARED_SEARCHES` answers of at most `limits::MAX_PREPARED_SEARCH_BYTES` each;
/// a full set is emptied and refilled by the searches that follow.
#[derive(Debug, Default)]
pub(crate) struct Searches {
    kept: Mutex<Option<(Version, HashMap<String, Bytes>)>>,
}

impl Searches {
    fn kept(&self) -> std::sync::MutexGuard<'_, Option<(Version, HashMap<String, Bytes>)>> {
        self.kept
            .lock()
            .expect("the kept searches' lock is never poisoned")
    }

    /// The answer kept for `search` at `version`, if there is one.
    pub(crate) fn get(&self, version: Version, search: &str) -> Option<Bytes> {
        match &*self.kept() {
            Some((at, answers)) if *at == version => answers.get(search).cloned(),
            _ => None,
        }
    }

    /// Keeps `answer` to `search`, answered at `version` (read before the search was run).
    pub(crate) fn keep(&self, version: Version, search: String, answer: Bytes) {
        if answer.len() > crate::limits::MAX_PREPARED_SEARCH_BYTES {
            return;
        }
        let mut kept = self.kept();
        let answers = match &mut *kept {
            Some((at, answers)) if *at == version => answers,
            other => &mut other.insert((version, HashMap::new())).1,
        };
        if answers.len() >= crate::limits::MAX_PREPARED_SEARCHES {
            answers.clear();
        }
        answers.insert(search, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(log_size: u64) -> Version {
        Version {
            log: crate::service::Version {
                log_size,
                day: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).expect("a date"),
            },
            checkpoint_size: 0,
        }
    }

    #[test]
    fn a_kept_search_is_answered_at_its_version_only_and_the_set_stays_bounded() {
        use crate::limits::{MAX_PREPARED_SEARCH_BYTES, MAX_PREPARED_SEARCHES};
        let searches = Searches::default();
        searches.keep(version(1), "q".into(), Bytes::from_static(b"one"));
        assert_eq!(
            searches.get(version(1), "q"),
            Some(Bytes::from_static(b"one"))
        );
        assert_eq!(searches.get(version(2), "q"), None, "the log moved");
        assert_eq!(searches.get(version(1), "other"), None);
        searches.keep(version(2), "q".into(), Bytes::from_static(b"two"));
        assert_eq!(
            searches.get(version(1), "q"),
            None,
            "the older version was let go"
        );
        let large = Bytes::from(vec![b'x'; MAX_PREPARED_SEARCH_BYTES + 1]);
        searches.keep(version(2), "large".into(), large);
        assert_eq!(searches.get(version(2), "large"), None, "too large to keep");
        for i in 0..2 * MAX_PREPARED_SEARCHES {
            searches.keep(version(2), format!("q{i}"), Bytes::from_static(b"a"));
            let held = searches.kept().as_ref().map_or(0, |(_, a)| a.len());
            assert!(held <= MAX_PREPARED_SEARCHES, "{held} kept");
        }
    }
}
