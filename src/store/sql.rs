//! The SQL both databases share, written once: a macro expands it for each sqlx driver, since the
//! statements are identical (`$N` placeholders, `ON CONFLICT`, `RETURNING`) and only the types
//! differ. Each implementation adds its own connection and migrations. The append, the one
//! write of the log, is `append.rs`'s, expanded here.

macro_rules! shared_sql_store {
    ($store:ty, $db:ty) => {
        use sqlx::{QueryBuilder, Row};

        use $crate::domain::Visibility as __Visibility;
        use $crate::store::{
            AppendRequest, Appended, AwardRow, LogHead, OrganisationRow, RegisterQuery, StoreError,
            StoredEvent, TokenRow,
        };

        $crate::store::append::shared_append!($db);

        const EVENT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
             schema_version, payload, recorded_at, actor, visibility, leaf_hash, chain_hash";
        const AWARD_COLUMNS: &str = "certificate_number, compact_number, organisation_id, \
             organisation_name, search_key, ods_code, region, level, awarded_on, valid_until, \
             expires_on, standing, issuer_name";
        /// An award row written again keeps its key, number and organisation.
        const AWARD_UPSERT: &str = " ON CONFLICT (certificate_number) DO UPDATE SET \
             organisation_name = excluded.organisation_name, search_key = excluded.search_key, \
             ods_code = excluded.ods_code, region = excluded.region, level = excluded.level, \
             awarded_on = excluded.awarded_on, valid_until = excluded.valid_until, \
             expires_on = excluded.expires_on, standing = excluded.standing, \
             issuer_name = excluded.issuer_name";
        const ORGANISATION_COLUMNS: &str = "organisation_id, name, search_key, ods_code, region, kind";
        const ORGANISATION_UPSERT: &str = " ON CONFLICT (organisation_id) DO UPDATE SET \
             name = excluded.name, search_key = excluded.search_key, ods_code = excluded.ods_code, \
             region = excluded.region, kind = excluded.kind";

        fn event_from_row(row: &<$db as sqlx::Database>::Row) -> Result<StoredEvent, StoreError> {
            let event_id: String = row.try_get("event_id")?;
            let visibility: String = row.try_get("visibility")?;
            let position: i64 = row.try_get("position")?;
            Ok(StoredEvent {
                position: position as u64,
                event_id: event_id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("event id {event_id:?}")))?,
                stream_id: row.try_get("stream_id")?,
                stream_version: row.try_get("stream_version")?,
                event_type: row.try_get("event_type")?,
                schema_version: row.try_get("schema_version")?,
                payload: row.try_get("payload")?,
                recorded_at: row.try_get("recorded_at")?,
                actor: row.try_get("actor")?,
                visibility: if visibility == "private" {
                    __Visibility::Private
                } else {
                    __Visibility::Public
                },
                leaf_hash: row.try_get("leaf_hash")?,
                chain_hash: row.try_get("chain_hash")?,
            })
        }

        fn award_from_row(row: &<$db as sqlx::Database>::Row) -> Result<AwardRow, StoreError> {
            Ok(AwardRow {
                certificate_number: row.try_get("certificate_number")?,
                compact_number: row.try_get("compact_number")?,
                organisation_id: row.try_get("organisation_id")?,
                organisation_name: row.try_get("organisation_name")?,
                search_key: row.try_get("search_key")?,
                ods_code: row.try_get("ods_code")?,
                region: row.try_get("region")?,
                level: row.try_get("level")?,
                awarded_on: row.try_get("awarded_on")?,
                valid_until: row.try_get("valid_until")?,
                expires_on: row.try_get("expires_on")?,
                standing: row.try_get("standing")?,
                issuer_name: row.try_get("issuer_name")?,
            })
        }

        async fn read_range<'c, E>(
            exec: E,
            from: u64,
            limit: u32,
        ) -> Result<Vec<StoredEvent>, StoreError>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
            );
            let rows = sqlx::query(&sql)
                // No position is past i64::MAX: reading from beyond it reads nothing.
                .bind(i64::try_from(from).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(exec)
                .await?;
            rows.iter().map(event_from_row).collect()
        }

        async fn stream_version<'c, E>(exec: E, stream: &str) -> Result<Option<i64>, StoreError>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let row = sqlx::query("SELECT version FROM streams WHERE stream_id = $1")
                .bind(stream)
                .fetch_optional(exec)
                .await?;
            Ok(match row {
                Some(r) => Some(r.try_get::<i64, _>("version")?),
                None => None,
            })
        }

        /// Adds the register's filters to a query that ends in `WHERE 1 = 1`.
        fn push_filters(qb: &mut QueryBuilder<'_, $db>, q: &RegisterQuery) {
            let text = [
                q.search_key.as_ref().map(|k| ("search_key LIKE ", format!("%{k}%"))),
                q.ods_code.as_ref().map(|c| ("ods_code = ", c.clone())),
                q.compact_number.as_ref().map(|n| ("compact_number = ", n.clone())),
            ];
            let text: Vec<_> = text.into_iter().flatten().collect();
            if !text.is_empty() {
                qb.push(" AND (");
                for (i, (condition, value)) in text.into_iter().enumerate() {
                    if i > 0 {
                        qb.push(" OR ");
                    }
                    qb.push(condition).push_bind(value);
                }
                qb.push(")");
            }
            if let Some(level) = &q.level {
                qb.push(" AND level = ").push_bind(level.clone());
            }
            if let Some(region) = &q.region {
                qb.push(" AND region = ").push_bind(region.clone());
            }
            let today = q.today.clone();
            match q.status.as_deref() {
                Some("valid") => {
                    qb.push(" AND standing = 'active' AND awarded_on <= ")
                        .push_bind(today.clone())
                        .push(" AND expires_on > ")
                        .push_bind(today);
                }
                Some("expired") => {
                    qb.push(" AND standing IN ('active', 'suspended') AND expires_on <= ")
                        .push_bind(today);
                }
                Some("suspended") => {
                    qb.push(" AND standing = 'suspended' AND expires_on > ")
                        .push_bind(today);
                }
                Some("not_yet_valid") => {
                    qb.push(" AND standing IN ('active', 'suspended') AND awarded_on > ")
                        .push_bind(today);
                }
                Some(standing @ ("revoked" | "superseded")) => {
                    qb.push(" AND standing = ").push_bind(standing.to_owned());
                }
                _ => {}
            }
        }

        impl $crate::store::EventStore for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                self.run_migrations($crate::store::migrations::Migrations::Apply).await?;
                // A log older than the stored tree hashes gets them, recomputed from its leaves.
                // One statement reads both sizes, so an append committing meanwhile (another
                // instance writing while this one starts, a command run beside a server) never
                // makes them look apart; a rebuild holds the log head's lock, so no append adds
                // hashes that it would delete, and it looks again under the lock first.
                const SIZES: &str = "SELECT size, (SELECT COUNT(*) FROM tree_hashes WHERE level = 0) \
                     AS stored FROM log_head WHERE id = 1";
                let sizes = sqlx::query(SIZES).fetch_one(&self.pool).await?;
                if sizes.try_get::<i64, _>("stored")? == sizes.try_get::<i64, _>("size")? {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                let end = append::lock_log_head(&mut tx).await?;
                let stored: i64 = sqlx::query(SIZES).fetch_one(&mut *tx).await?.try_get("stored")?;
                if stored == end.start_size {
                    tx.commit().await?;
                    return Ok(());
                }
                let mut tree = $crate::transparency::merkle::Tree::new();
                for row in sqlx::query("SELECT leaf_hash FROM events ORDER BY position")
                    .fetch_all(&mut *tx)
                    .await?
                {
                    let leaf: Vec<u8> = row.try_get("leaf_hash")?;
                    tree.push(leaf.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt("a leaf hash is not 32 bytes".into())
                    })?);
                }
                sqlx::query("DELETE FROM tree_hashes").execute(&mut *tx).await?;
                for level in 0..tree.height() {
                    for (idx, hash) in tree.level(level).iter().enumerate() {
                        sqlx::query("INSERT INTO tree_hashes (level, idx, hash) VALUES ($1, $2, $3)")
                            .bind(level as i32)
                            .bind(idx as i64)
                            .bind(hash.to_vec())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn append_batch(
                &self,
                batch: Vec<AppendRequest>,
            ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
                append::append_batch(&self.pool, batch).await
            }

            async fn read(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
                read_range(&self.pool, from, limit).await
            }

            async fn head(&self) -> Result<LogHead, StoreError> {
                let row = sqlx::query("SELECT size, chain_hash FROM log_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(LogHead {
                    size: row.try_get::<i64, _>("size")? as u64,
                    chain_hash: row.try_get("chain_hash")?,
                })
            }

            async fn idempotent(
                &self,
                scope: &str,
                key: &str,
            ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError> {
                let row = sqlx::query(
                    "SELECT request_hash, first_position, event_count FROM idempotency_keys \
                     WHERE scope = $1 AND idem_key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let first: i64 = row.try_get("first_position")?;
                let count: i64 = row.try_get("event_count")?;
                let events = read_range(&self.pool, first as u64, count as u32).await?;
                Ok(Some((row.try_get("request_hash")?, events)))
            }

            async fn replace_projections(
                &self,
                organisations: Vec<OrganisationRow>,
                awards: Vec<AwardRow>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM awards").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM organisations").execute(&mut *tx).await?;
                append::upsert_organisations(&mut tx, &organisations.iter().collect::<Vec<_>>())
                    .await?;
                append::upsert_awards(&mut tx, &awards.iter().collect::<Vec<_>>()).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn projections(
                &self,
            ) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError> {
                let orgs = sqlx::query(
                    "SELECT organisation_id, name, search_key, ods_code, region, kind \
                     FROM organisations ORDER BY organisation_id",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(OrganisationRow {
                        organisation_id: r.try_get("organisation_id")?,
                        name: r.try_get("name")?,
                        search_key: r.try_get("search_key")?,
                        ods_code: r.try_get("ods_code")?,
                        region: r.try_get("region")?,
                        kind: r.try_get("kind")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
                let awards = sqlx::query(&format!(
                    "SELECT {AWARD_COLUMNS} FROM awards ORDER BY certificate_number"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(award_from_row)
                .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((orgs, awards))
            }

            async fn search(
                &self,
                query: &RegisterQuery,
            ) -> Result<(Vec<AwardRow>, u64), StoreError> {
                let mut count = QueryBuilder::<$db>::new("SELECT COUNT(*) AS n FROM awards WHERE 1 = 1");
                push_filters(&mut count, query);
                let total: i64 = count.build().fetch_one(&self.pool).await?.try_get("n")?;
                let mut page = QueryBuilder::<$db>::new(format!(
                    "SELECT {AWARD_COLUMNS} FROM awards WHERE 1 = 1"
                ));
                push_filters(&mut page, query);
                page.push(" ORDER BY search_key, awarded_on DESC, certificate_number LIMIT ")
                    .push_bind(i64::from(query.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(query.offset));
                let rows = page.build().fetch_all(&self.pool).await?;
                let rows = rows.iter().map(award_from_row).collect::<Result<Vec<_>, _>>()?;
                Ok((rows, total as u64))
            }

            async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT token_id, name, role, secret_hash, created_at, revoked_at \
                     FROM api_tokens WHERE token_id = $1",
                )
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(TokenRow {
                        token_id: r.try_get("token_id")?,
                        name: r.try_get("name")?,
                        role: r.try_get("role")?,
                        secret_hash: r.try_get("secret_hash")?,
                        created_at: r.try_get("created_at")?,
                        revoked_at: r.try_get("revoked_at")?,
                    })
                })
                .transpose()
            }

            async fn save_checkpoint(
                &self,
                c: &$crate::store::Checkpoint,
            ) -> Result<(), StoreError> {
                // Never a checkpoint larger than the log, even one that shrank a moment ago.
                let inserted = sqlx::query(
                    "INSERT INTO checkpoints (size, root, note, signed_at) \
                     SELECT $1, $2, $3, $4 FROM log_head WHERE id = 1 AND size >= $1 \
                     ON CONFLICT (size) DO NOTHING",
                )
                .bind(c.size as i64)
                .bind(&c.root)
                .bind(&c.note)
                .bind(&c.signed_at)
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 0 {
                    // Signed before (the same size), or refused: the log is shorter.
                    let size: i64 = sqlx::query_scalar("SELECT size FROM log_head WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await?;
                    if (size as u64) < c.size {
                        return Err(StoreError::LogBehind {
                            size: size as u64,
                            expected: c.size,
                        });
                    }
                }
                Ok(())
            }

            async fn checkpoints(&self) -> Result<Vec<$crate::store::Checkpoint>, StoreError> {
                sqlx::query("SELECT size, root, note, signed_at FROM checkpoints ORDER BY size")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok($crate::store::Checkpoint {
                            size: r.try_get::<i64, _>("size")? as u64,
                            root: r.try_get("root")?,
                            note: r.try_get("note")?,
                            signed_at: r.try_get("signed_at")?,
                        })
                    })
                    .collect()
            }

            async fn tree_hashes(&self, level: u32) -> Result<Vec<Vec<u8>>, StoreError> {
                sqlx::query("SELECT idx, hash FROM tree_hashes WHERE level = $1 ORDER BY idx")
                    .bind(level as i32)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let idx: i64 = r.try_get("idx")?;
                        if idx != i as i64 {
                            return Err(StoreError::Corrupt(format!(
                                "tree hashes at level {level} skip from {i} to {idx}"
                            )));
                        }
                        Ok(r.try_get("hash")?)
                    })
                    .collect()
            }

            async fn ready(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT size FROM log_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use shared_sql_store;
