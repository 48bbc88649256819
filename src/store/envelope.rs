//! A stored event's envelope read in one pass. The event inside it is adjacently tagged
//! (`type`, then `data`), but a canonical payload orders `data` before `type`, and serde's own
//! reading of the envelope (`flatten`) buffers every member as a tree before it can read the
//! event from it: for a signed credential, hundreds of small allocations. Here the envelope's
//! members are read first, `data` kept as its text, and the event read from that text once its
//! type is known.

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::Envelope;
use crate::domain::events::SignedJson;
use crate::domain::{CertificateNumber, Event, OrganisationId, Visibility};

/// The envelope's members as stored; the event's are read afterwards (`Tagged`).
#[derive(Deserialize)]
struct Stored {
    event_id: Uuid,
    stream_id: String,
    schema_version: i32,
    recorded_at: String,
    actor: String,
    visibility: Visibility,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// A signed credential's data, its document kept as text (`SignedJson::of_text`) rather than
/// read as a tree and written again, as `SignedJson`'s own reading must (it is given no text).
#[derive(Deserialize)]
struct CredentialData {
    certificate_number: CertificateNumber,
    organisation_id: OrganisationId,
    key_id: String,
    status_list_index: String,
    credential: Box<RawValue>,
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Envelope, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let event = match (stored.kind.as_str(), stored.data.as_deref()) {
            ("credential_issued", Some(data)) => credential_issued(data),
            (kind, data) => Event::deserialize(Tagged {
                kind,
                data,
                read: 0,
            }),
        }
        .map_err(de::Error::custom)?;
        Ok(Envelope {
            event_id: stored.event_id,
            stream_id: stored.stream_id,
            schema_version: stored.schema_version,
            recorded_at: stored.recorded_at,
            actor: stored.actor,
            visibility: stored.visibility,
            event,
        })
    }
}

/// A `credential_issued` event from its data's text.
fn credential_issued(data: &RawValue) -> Result<Event, serde_json::Error> {
    let data: CredentialData = serde_json::from_str(data.get())?;
    Ok(Event::CredentialIssued {
        certificate_number: data.certificate_number,
        organisation_id: data.organisation_id,
        key_id: data.key_id,
        status_list_index: data.status_list_index,
        credential: SignedJson::of_text(data.credential.get())?,
    })
}

/// An event as its type and its data's text: a map of `type` then `data`, the order in which
/// an adjacently tagged enum reads its variant without buffering.
struct Tagged<'a> {
    kind: &'a str,
    data: Option<&'a RawValue>,
    /// How many of the map's values have been read.
    read: u8,
}

impl<'de> Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = match (self.read, self.data) {
            (0, _) => "type",
            (1, Some(_)) => "data",
            _ => return Ok(None),
        };
        seed.deserialize(StrDeserializer::<serde_json::Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.read += 1;
        match (self.read, self.data) {
            (1, _) => {
                seed.deserialize(BorrowedStrDeserializer::<serde_json::Error>::new(self.kind))
            }
            (_, Some(data)) => {
                let mut json = serde_json::Deserializer::from_str(data.get());
                let value = seed.deserialize(&mut json)?;
                json.end()?;
                Ok(value)
            }
            (_, None) => Err(de::Error::custom("an event's data was read twice")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::Event;
    use crate::store::{Envelope, NewEvent};

    /// Events of each shape: fields with and without optional members, an internally tagged
    /// member, a newtype variant and a signed document.
    fn events() -> Vec<Event> {
        let org = "0b6f3c1e-5a7d-4c2b-9e8f-1a2b3c4d5e6f";
        [
            json!({"type": "organisation_registered", "data": {"organisation_id": org,
                "name": "Oak Trust", "region": "london", "kind": "nhs_trust"}}),
            json!({"type": "organisation_registered", "data": {"organisation_id": org,
                "name": "Café “Ash” Trust", "ods_code": "RX1", "region": "london",
                "kind": "nhs_trust"}}),
            json!({"type": "application_decided", "data": {"application_id": "a1",
                "organisation_id": org, "outcome": {"decision": "not_awarded"},
                "feedback": "Line one\nline two", "decided_on": "2025-03-04"}}),
            json!({"type": "cycle_scheduled", "data": {"cycle_id": "c1", "name": "Spring",
                "submissions_open_on": "2025-01-01", "submission_deadline": "2025-02-01",
                "review_from": "2025-02-02", "review_until": "2025-03-01",
                "decisions_from": "2025-03-02", "decisions_until": "2025-04-01"}}),
            json!({"type": "programme_paused", "data": {"effective_from": "2026-01-01",
                "reason": "Paused nationally"}}),
            json!({"type": "credential_issued", "data": {
                "certificate_number": "FDXE-J5BM-RRNV-PEDM", "organisation_id": org,
                "key_id": "k1", "status_list_index": "12",
                "credential": {"issuer": {"url": "https://example.org/"}, "b": [1, true, null],
                    "a": {"y": "é", "x": -3}}}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("a sample event"))
        .collect()
    }

    /// Each event read back from its stored bytes is the event written; a payload that is not
    /// an event is refused, naming what is wrong.
    #[test]
    fn an_envelope_reads_back_the_event_written() {
        for event in events() {
            let new = NewEvent::new(
                event.clone(),
                uuid::Uuid::from_u128(1),
                "2026-01-02T03:04:05.000000Z".into(),
                "admin".into(),
            );
            let read: Envelope = serde_json::from_slice(&new.payload).expect("it reads back");
            assert_eq!(read.event, event);
            assert_eq!(read.stream_id, event.stream());
            assert_eq!(read.actor, "admin");
            assert_eq!(read.recorded_at, "2026-01-02T03:04:05.000000Z");
        }
        let envelope = |rest: &str| {
            format!(
                r#"{{"actor":"a",{rest}"event_id":"00000000-0000-0000-0000-000000000001","recorded_at":"x","schema_version":1,"stream_id":"s","visibility":"public"}}"#
            )
        };
        let refused = |text: String| {
            serde_json::from_str::<Envelope>(&text)
                .expect_err("not an event")
                .to_string()
        };
        let unknown = refused(envelope(r#""data":{},"type":"no_such_event","#));
        assert!(unknown.contains("no_such_event"), "{unknown}");
        let untyped = refused(envelope(r#""data":{},"#));
        assert!(untyped.contains("type"), "{untyped}");
        let wrong = refused(envelope(
            r#""data":{"effective_from":7,"reason":"r"},"type":"programme_paused","#,
        ));
        assert!(wrong.contains("invalid type"), "{wrong}");
        let dataless = refused(envelope(r#""type":"programme_paused","#));
        assert!(dataless.contains("data"), "{dataless}");
    }
}
