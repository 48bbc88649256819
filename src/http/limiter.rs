//! The per-client-address limiters (the public routes' rate, an address's failed admin
//! attempts): their type, how one is made, and what a request counted against one must wait.

use std::sync::Arc;

/// A limiter keyed by client address.
pub(crate) type RateLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

/// The per-client-address limiter of failed admin attempts.
pub(crate) type FailureLimiter = RateLimiter;

/// A limiter allowing `per_minute` failures a minute per address, in a burst (0: none).
pub(crate) fn failure_limiter(per_minute: u32) -> Option<Arc<FailureLimiter>> {
    let n = std::num::NonZeroU32::new(per_minute)?;
    Some(Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_minute(n).allow_burst(n),
    )))
}

/// Counts a request from `ip` against `limiter`: `None` while it is within its rate, else the
/// seconds to wait. Addresses not seen lately are forgotten once there are many.
pub(crate) fn wait_of(limiter: &RateLimiter, ip: std::net::IpAddr) -> Option<u64> {
    let wait = limiter.check_key(&ip).err()?;
    use governor::clock::{Clock, DefaultClock};
    if limiter.len() > crate::limits::MAX_LIMITED_ADDRESSES {
        limiter.retain_recent();
    }
    Some(wait.wait_time_from(DefaultClock::default().now()).as_secs() + 1)
}
