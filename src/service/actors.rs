//! Who did what: the actor ids events record, made here (`token:ID` for an API token,
//! `staff:ID` for a person signed in to the console, `cli:USER` for the command line run by an
//! operating system user, `system` for the registry
//! itself; `cli` alone for the command line before it named its user, or when no user is
//! known) and turned back into a person's or token's name in one place, `Registry::actor_name`.
//! A new kind of actor is a prefix here, a variant of `ActorId` and an arm of `actor_name`.

use super::{Registry, ServiceError};
use crate::store::EventStore;

const TOKEN: &str = "token:";
const STAFF: &str = super::staff::STAFF_ACTOR_PREFIX;
const COMMAND_LINE: &str = "cli";

/// The longest operating system user name an actor id takes; a longer one is not named.
const MAX_USER_CHARS: usize = 64;

/// What an actor id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActorId<'a> {
    /// An API token, by its id.
    Token(&'a str),
    /// A member of staff signed in to the console, by their staff id.
    Staff(&'a str),
    /// The command line, run by this operating system user (if known).
    CommandLine(Option<&'a str>),
    /// The registry itself (`system`), or an id no kind here knows.
    Other,
}

impl<'a> ActorId<'a> {
    fn parse(id: &'a str) -> ActorId<'a> {
        if let Some(token) = id.strip_prefix(TOKEN) {
            return ActorId::Token(token);
        }
        if let Some(staff) = id.strip_prefix(STAFF) {
            return ActorId::Staff(staff);
        }
        match id.strip_prefix(COMMAND_LINE) {
            Some("") => ActorId::CommandLine(None),
            Some(rest) => match rest.strip_prefix(':') {
                Some(user) => ActorId::CommandLine(Some(user)),
                None => ActorId::Other,
            },
            None => ActorId::Other,
        }
    }
}

/// The actor id of the API token `token_id`.
pub(crate) fn token_actor(token_id: &str) -> String {
    format!("{TOKEN}{token_id}")
}

/// The actor id of the command line run by `user` (the operating system's user name, as the
/// environment says it): `cli:USER`, or `cli` when no user is known or the name is empty,
/// longer than 64 characters or holds a control character or a space (it is written as it is
/// into every event the command records).
pub(crate) fn command_line_actor(user: Option<&str>) -> String {
    match user.map(str::trim) {
        Some(user)
            if !user.is_empty()
                && user.chars().count() <= MAX_USER_CHARS
                && !user.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            format!("{COMMAND_LINE}:{user}")
        }
        _ => COMMAND_LINE.to_owned(),
    }
}

/// The operating system user running this process, as the environment names it: the person
/// who ran it through `sudo` (`SUDO_USER`; `sudo wexqs-admin …` runs every command as root, then
/// as the service's user, and `root` would name no one), else `USER`, else `LOGNAME`. What the
/// environment says, not proven: it tells the programme team who ran a command, it does not
/// authorise anyone.
pub(crate) fn os_user() -> Option<String> {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

impl Registry {
    /// The name of who an event's actor id stands for: a token's name (as it was given when the
    /// token was made), a member of staff's name (while they are on the list), the operating
    /// system user who ran the command line; none for the
    /// registry itself, a command line that did not name its user, or a token the database does
    /// not hold.
    pub(crate) async fn actor_name(&self, actor: &str) -> Result<Option<String>, ServiceError> {
        Ok(match ActorId::parse(actor) {
            ActorId::Token(id) => self.log.store.token(id).await?.map(|t| t.name),
            ActorId::Staff(id) => id
                .parse()
                .ok()
                .and_then(|id| self.staff_member(&id))
                .map(|m| m.name.as_str().to_owned()),
            ActorId::CommandLine(user) => user.map(str::to_owned),
            ActorId::Other => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_id_is_read_back_as_the_kind_it_was_made_as() {
        assert_eq!(ActorId::parse(&token_actor("a1b2")), ActorId::Token("a1b2"));
        assert_eq!(
            ActorId::parse(&command_line_actor(Some("ada"))),
            ActorId::CommandLine(Some("ada"))
        );
        assert_eq!(ActorId::parse("cli"), ActorId::CommandLine(None));
        assert_eq!(
            ActorId::parse("staff:0a1b2c3d4e5f"),
            ActorId::Staff("0a1b2c3d4e5f")
        );
        assert_eq!(ActorId::parse("system"), ActorId::Other);
        assert_eq!(ActorId::parse("client"), ActorId::Other);
    }

    #[test]
    fn the_command_line_names_a_plain_user_and_no_other() {
        assert_eq!(command_line_actor(Some("  ada ")), "cli:ada");
        assert_eq!(command_line_actor(None), "cli");
        for refused in ["", " ", "a b", "ada\u{7}x", "a\tb", &"x".repeat(65)] {
            assert_eq!(command_line_actor(Some(refused)), "cli", "{refused:?}");
        }
        assert_eq!(command_line_actor(Some(&"x".repeat(64))).len(), 68);
    }
}
