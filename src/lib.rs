//! wexqs: the public registry of Work Experience Quality Standard awards.
pub mod domain;
pub mod store;
