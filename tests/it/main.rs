//! The one integration test binary: domain rules, the store contract on SQLite and PostgreSQL,
//! the HTTP API through real sockets, the command line as a real process, and the OpenAPI
//! document against the routes.

#![allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is what a test should do

mod access_log;
mod admin_lists;
mod answers;
mod api;
mod api_check_regressions;
mod applications;
mod award_changes;
mod backups;
mod behind;
mod cli;
mod client;
mod console_orgs;
mod crash;
mod credentials;
mod debian_package;
mod domain_rules;
mod error_codes;
mod feeds;
mod fuzz_regressions;
mod harness;
mod helpers;
mod hostile;
mod image_cache;
mod import_memory;
mod instances;
mod key_rotation;
mod lifecycle;
mod limits;
mod merkle;
mod metrics;
mod nginx;
mod not_current;
mod official_schemas;
mod oidc_provider;
mod oidc_provider_checks;
mod openapi_spec;
mod outage;
mod pages;
mod path_prefix;
mod people;
mod pg_tls;
mod proxies;
mod readme;
mod redaction;
mod search_flood;
mod siege;
mod snapshot;
mod spreadsheets;
mod staff;
mod store_contract;
mod tamper;
mod throwaway_pg;
mod tls;
mod tokens;
mod webhook_failures;
mod webhook_sealing;
mod webhook_store;
mod webhook_targets;
mod webhooks;
mod withdrawn;
mod xml_surfaces;
