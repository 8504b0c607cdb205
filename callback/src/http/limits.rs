//! Per-client rate limits on the sign-in and operator routes.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct Limiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// Refusals recorded as security events, per client.
    notes: DefaultKeyedRateLimiter<IpAddr>,
}

/// Refusals (429, 414) of one client recorded per minute; a flood past them is counted in the
/// log but not written to the database row by row, which would turn every refused request
/// into a synchronous disk write.
pub const RECORDED_REFUSALS_PER_MINUTE: u32 = 10;

impl Limiter {
    /// `per_minute` requests a minute, replenished evenly, with a full minute's worth as burst.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let notes = NonZeroU32::new(RECORDED_REFUSALS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            notes: RateLimiter::keyed(Quota::per_minute(notes)),
        }
    }

    /// Whether this refusal of `client` should become a security event (see
    /// [`RECORDED_REFUSALS_PER_MINUTE`]).
    pub fn note_refusal(&self, client: IpAddr) -> bool {
        self.notes.check_key(&key(client)).is_ok()
    }

    /// `Ok` to go ahead, or how long the client must wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.inner
            .check_key(&key(client))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose allowance is full again, so the table stays small.
    pub fn tidy(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
        self.notes.retain_recent();
        self.notes.shrink_to_fit();
    }
}

/// One IPv6 client usually owns a whole /64; keying on the full address would hand it 2^64
/// allowances.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::V6(seg.into())
        }
    }
}

/// Whole seconds to announce in `Retry-After`, never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_per_client_and_v6_is_keyed_by_64() {
        let l = Limiter::per_minute(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        let wait = l.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok());
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert!(l.check(v6a).is_ok() && l.check(v6b).is_ok());
        assert!(l.check(v6a).is_err());
        let c: IpAddr = "192.0.2.9".parse().unwrap();
        let noted = (0..100).filter(|_| l.note_refusal(c)).count();
        assert_eq!(noted, RECORDED_REFUSALS_PER_MINUTE as usize);
        assert!(l.note_refusal("192.0.2.10".parse().unwrap()));
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(29_100)), 30);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }
}
