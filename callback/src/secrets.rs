//! The three secrets, read only from the environment (or from files the environment names), so
//! they never sit in `config.toml`, in the repository or on a command line. They are wrapped so a
//! stray `{:?}` or `{}` prints `[redacted]` instead of the value.

use std::fmt;
use std::path::Path;

pub const CLIENT_KEY: &str = "TIKTOK_CLIENT_KEY";
pub const CLIENT_SECRET: &str = "TIKTOK_CLIENT_SECRET";
pub const TOKEN_KEY: &str = "MDZ_TOKEN_KEY";
/// The key `mdz-callback rotate-key` re-encrypts the stored secrets under.
pub const NEW_TOKEN_KEY: &str = "MDZ_NEW_TOKEN_KEY";

/// A secret string. It can be read with [`Secret::expose`], never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The 32-byte key that encrypts tokens at rest.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key, for `demo` and tests.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as `MDZ_TOKEN_KEY` spells it, for handing to a child process.
    pub fn to_hex(&self) -> Secret {
        Secret(hex::encode(self.0))
    }

    fn parse_hex(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() != 64 {
            return Err(format!(
                "must be exactly 64 hexadecimal characters (32 random bytes), found {} characters",
                t.chars().count()
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(t, &mut out)
            .map_err(|_| "must contain only hexadecimal characters 0-9 and a-f".to_string())?;
        Ok(Self(out))
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

#[derive(Debug, Clone)]
pub struct Secrets {
    pub client_key: Secret,
    pub client_secret: Secret,
    pub token_key: TokenKey,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{name} is not set\n  help: export {name}=... or point {name}_FILE at a file holding it{hint}"
    )]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name}_FILE: cannot read {path}: {source}")]
    File {
        name: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} and {name}_FILE are both set\n  help: keep one of them")]
    Both { name: &'static str },
    #[error("{name} {message}\n  help: create one with `openssl rand -hex 32`")]
    BadKey { name: &'static str, message: String },
}

impl Secrets {
    /// Reads the secrets from the process environment.
    pub fn from_env() -> Result<Self, SecretError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the secrets through `lookup` (an environment), so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SecretError> {
        let client_key = read(&lookup, CLIENT_KEY, "")?;
        let client_secret = read(&lookup, CLIENT_SECRET, "")?;
        let token_key = token_key(&lookup, TOKEN_KEY)?;
        Ok(Self {
            client_key,
            client_secret,
            token_key,
        })
    }
}

/// One token key, `name` or `name_FILE`, as 64 hexadecimal characters: [`TOKEN_KEY`] or
/// [`NEW_TOKEN_KEY`].
pub fn token_key(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<TokenKey, SecretError> {
    let text = read(
        lookup,
        name,
        "\n  help: create one with `openssl rand -hex 32` and keep it safe: tokens stored under it are unreadable without it",
    )?;
    TokenKey::parse_hex(text.expose()).map_err(|message| SecretError::BadKey { name, message })
}

fn read(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    hint: &'static str,
) -> Result<Secret, SecretError> {
    let direct = lookup(name).filter(|v| !v.is_empty());
    let file = lookup(&format!("{name}_FILE")).filter(|v| !v.is_empty());
    let value = match (direct, file) {
        (Some(_), Some(_)) => return Err(SecretError::Both { name }),
        (Some(v), None) => v,
        (None, Some(path)) => std::fs::read_to_string(Path::new(&path))
            .map_err(|source| SecretError::File { name, path, source })?
            // Files written by `echo` or editors end in a newline that is not part of the secret.
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        (None, None) => return Err(SecretError::Missing { name, hint }),
    };
    if value.is_empty() {
        return Err(SecretError::Missing { name, hint });
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_all_three_and_never_prints_them() {
        let s = Secrets::from_lookup(env(&[
            (CLIENT_KEY, "ck-value"),
            (CLIENT_SECRET, "cs-value"),
            (TOKEN_KEY, KEY),
        ]))
        .unwrap();
        assert_eq!(s.client_secret.expose(), "cs-value");
        assert_eq!(s.token_key.bytes()[1], 0x11);
        let shown = format!("{s:?} {} {}", s.client_key, s.client_secret);
        assert!(
            !shown.contains("ck-value") && !shown.contains("cs-value"),
            "{shown}"
        );
        assert!(!shown.contains("00112233"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn file_variants_are_read_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let p = path.to_str().unwrap();
        let s = Secrets::from_lookup(env(&[
            (CLIENT_KEY, "ck"),
            ("TIKTOK_CLIENT_SECRET_FILE", p),
            (TOKEN_KEY, KEY),
        ]))
        .unwrap();
        assert_eq!(s.client_secret.expose(), "from-file");
        let e = Secrets::from_lookup(env(&[
            (CLIENT_KEY, "ck"),
            (CLIENT_SECRET, "x"),
            ("TIKTOK_CLIENT_SECRET_FILE", p),
            (TOKEN_KEY, KEY),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("both set"), "{e}");
        let e = Secrets::from_lookup(env(&[
            (CLIENT_KEY, "ck"),
            ("TIKTOK_CLIENT_SECRET_FILE", "/nonexistent/mdz"),
            (TOKEN_KEY, KEY),
        ]))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("TIKTOK_CLIENT_SECRET_FILE"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_secret_is_named() {
        let e = Secrets::from_lookup(env(&[(CLIENT_KEY, "ck"), (TOKEN_KEY, KEY)])).unwrap_err();
        assert!(
            e.to_string().starts_with("TIKTOK_CLIENT_SECRET is not set"),
            "{e}"
        );
        let e =
            Secrets::from_lookup(env(&[(CLIENT_KEY, "ck"), (CLIENT_SECRET, "cs")])).unwrap_err();
        assert!(e.to_string().contains("MDZ_TOKEN_KEY is not set"), "{e}");
        assert!(e.to_string().contains("openssl rand -hex 32"), "{e}");
    }

    #[test]
    fn the_token_key_must_be_64_hex_characters() {
        for bad in [
            "abc",
            &KEY[..63],
            &format!("{KEY}0"),
            &KEY.replace('a', "g"),
            "correct horse battery staple correct horse battery staple 123456",
        ] {
            let e = Secrets::from_lookup(env(&[
                (CLIENT_KEY, "ck"),
                (CLIENT_SECRET, "cs"),
                (TOKEN_KEY, bad),
            ]))
            .unwrap_err()
            .to_string();
            assert!(e.starts_with("MDZ_TOKEN_KEY must"), "{bad}: {e}");
            assert!(e.contains("openssl rand -hex 32"), "{e}");
            assert!(!e.contains(bad), "the rejected key is echoed: {e}");
        }
        let upper = KEY.to_uppercase();
        assert!(
            Secrets::from_lookup(env(&[
                (CLIENT_KEY, "ck"),
                (CLIENT_SECRET, "cs"),
                (TOKEN_KEY, &upper)
            ]))
            .is_ok()
        );
    }
}
