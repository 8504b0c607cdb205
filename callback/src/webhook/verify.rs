//! `TikTok-Signature: t=<unix seconds>,s=<hex>` checked exactly as docs/tiktok-contract.md §13
//! says: HMAC-SHA256 under the client secret over `t + "." + body` (the body byte for byte as
//! received), compared in constant time, then the timestamp held to `callback.webhook_tolerance`.
//! Nothing here panics, whatever the header or body holds.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header TikTok signs deliveries with (names are case-insensitive in HTTP).
pub const SIGNATURE_HEADER: &str = "tiktok-signature";

/// The longest header value read: `t=` with 19 digits, `s=` with 64 hex digits and some room
/// for blanks or parameters TikTok may add later. Longer is not a TikTok signature.
const MAX_HEADER: usize = 512;

/// Why a delivery is not taken as TikTok's. The text goes to the security log; it never
/// repeats the header or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no TikTok-Signature header")]
    Missing,
    #[error("malformed TikTok-Signature header: {0}")]
    Malformed(&'static str),
    #[error("signature does not match the body")]
    Forged,
    #[error("signed timestamp {skew} s away from this clock (tolerance {tolerance} s)")]
    Stale { skew: u64, tolerance: u64 },
}

/// The parts of a well-formed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `t` exactly as sent: the signed payload starts with these characters, not with a number
    /// formatted again (which would drop a leading zero and fail an honest signature).
    pub t: String,
    pub timestamp: i64,
    pub mac: [u8; 32],
}

/// Splits on `,`, then each part on `=` (§13). `t` and `s` must each appear once; other keys
/// are ignored, so a parameter TikTok adds later does not refuse every delivery.
pub fn parse_header(value: &[u8]) -> Result<Signature, Refusal> {
    if value.len() > MAX_HEADER {
        return Err(Refusal::Malformed("too long"));
    }
    let text = std::str::from_utf8(value).map_err(|_| Refusal::Malformed("not text"))?;
    let (mut t, mut s) = (None, None);
    for part in text.split(',') {
        let Some((key, val)) = part.split_once('=') else {
            return Err(Refusal::Malformed("a part without `=`"));
        };
        let slot = match key.trim() {
            "t" => &mut t,
            "s" => &mut s,
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(Refusal::Malformed("`t` or `s` given twice"));
        }
    }
    let t = t.ok_or(Refusal::Malformed("no `t`"))?;
    let s = s.ok_or(Refusal::Malformed("no `s`"))?;
    if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::Malformed("`t` is not a number of seconds"));
    }
    let timestamp = t
        .parse::<i64>()
        .map_err(|_| Refusal::Malformed("`t` is not a number of seconds"))?;
    let mut mac = [0u8; 32];
    if s.len() != 64 || hex::decode_to_slice(s, &mut mac).is_err() {
        return Err(Refusal::Malformed("`s` is not 64 hex digits"));
    }
    Ok(Signature {
        t: t.to_string(),
        timestamp,
        mac,
    })
}

/// Checks a delivery: `header` is the value of the one `TikTok-Signature` header (`None` when
/// absent), `now` this clock in Unix seconds. The MAC is compared first and in constant time
/// (`Mac::verify_slice`), so the answer reveals nothing about how much of a guess was right;
/// only an authentic timestamp is then held to the tolerance.
pub fn verify(
    header: Option<&[u8]>,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<Signature, Refusal> {
    let sig = parse_header(header.ok_or(Refusal::Missing)?)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| Refusal::Forged)?;
    mac.update(sig.t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig.mac).map_err(|_| Refusal::Forged)?;
    let skew = now.abs_diff(sig.timestamp);
    if skew > tolerance {
        return Err(Refusal::Stale { skew, tolerance });
    }
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"sim-client-secret";
    const BODY: &[u8] = br#"{"client_key":"k","event":"authorization.removed","create_time":1615338610,"user_openid":"u","content":"{\"reason\": 1 }"}"#;

    fn sign(t: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},s={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn an_honest_signature_within_the_tolerance_passes() {
        let h = sign("1615338610", BODY);
        let sig = verify(Some(h.as_bytes()), BODY, SECRET, 1_615_338_610, 300).unwrap();
        assert_eq!(sig.timestamp, 1_615_338_610);
        // Either side of the clock, up to the tolerance itself.
        assert!(verify(Some(h.as_bytes()), BODY, SECRET, 1_615_338_910, 300).is_ok());
        assert!(verify(Some(h.as_bytes()), BODY, SECRET, 1_615_338_310, 300).is_ok());
        // Blanks around the parts, upper-case hex, the keys in the other order, an extra key.
        let s = h.split("s=").nth(1).unwrap().to_uppercase();
        let loose = format!(" s={s} , t=1615338610 ,v=2");
        assert!(verify(Some(loose.as_bytes()), BODY, SECRET, 1_615_338_610, 300).is_ok());
        // `t` is signed as sent: a leading zero is part of the payload.
        let zero = sign("01615338610", BODY);
        assert!(verify(Some(zero.as_bytes()), BODY, SECRET, 1_615_338_610, 300).is_ok());
    }

    #[test]
    fn forged_and_stale_deliveries_are_refused() {
        let now = 1_615_338_610;
        let h = sign("1615338610", BODY);
        let mut other = BODY.to_vec();
        other[10] ^= 1;
        assert_eq!(
            verify(Some(h.as_bytes()), &other, SECRET, now, 300),
            Err(Refusal::Forged)
        );
        assert_eq!(
            verify(Some(h.as_bytes()), BODY, b"another secret", now, 300),
            Err(Refusal::Forged)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = h.replace("t=1615338610", "t=1615338611");
        assert_eq!(
            verify(Some(moved.as_bytes()), BODY, SECRET, now, 300),
            Err(Refusal::Forged)
        );
        assert_eq!(
            verify(Some(h.as_bytes()), BODY, SECRET, now + 301, 300),
            Err(Refusal::Stale {
                skew: 301,
                tolerance: 300
            })
        );
        assert_eq!(
            verify(Some(h.as_bytes()), BODY, SECRET, now - 4000, 300),
            Err(Refusal::Stale {
                skew: 4000,
                tolerance: 300
            })
        );
        assert_eq!(verify(None, BODY, SECRET, now, 300), Err(Refusal::Missing));
    }

    #[test]
    fn malformed_headers_are_named_and_never_panic() {
        let s = "a".repeat(64);
        for bad in [
            String::new(),
            "t=1".into(),
            format!("s={s}"),
            format!("t=,s={s}"),
            format!("t=-1,s={s}"),
            format!("t=+1,s={s}"),
            format!("t=1.5,s={s}"),
            format!("t=99999999999999999999,s={s}"),
            format!("t=9999999999999999999,s={s}"),
            format!("t=1,s={}", &s[..63]),
            format!("t=1,s={s}0"),
            format!("t=1,s={}", "g".repeat(64)),
            format!("t=1,t=1,s={s}"),
            format!("t=1,s={s},s={s}"),
            format!("t=1;s={s}"),
            format!("t=1,s={s},{}", "x".repeat(600)),
        ] {
            assert!(
                matches!(parse_header(bad.as_bytes()), Err(Refusal::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_header(b"t=1,s=\xff"),
            Err(Refusal::Malformed(_))
        ));
        // The largest i64 parses; the check against the clock then refuses it.
        let far = format!("t=9223372036854775807,s={s}");
        assert_eq!(parse_header(far.as_bytes()).unwrap().timestamp, i64::MAX);
    }
}
