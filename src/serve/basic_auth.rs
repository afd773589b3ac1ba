//! Basic authentication against bcrypt hashes, the way exporter-toolkit does it: a user not in
//! the list is checked against a decoy hash (the answer takes as long, so user names cannot be
//! probed by timing), one bcrypt runs at a time (a flood of wrong passwords costs one core, not
//! all), and every verdict is cached under a SHA-256 of user, hash and password, so a scraper
//! pays for bcrypt once, not on every scrape.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

use base64::Engine;

/// Verdicts kept at most; the cache is emptied when it is full (a flood of guesses cannot grow it).
const CACHE_ENTRIES: usize = 1024;

/// The users of a web configuration and the verdicts computed so far.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verdicts: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt: Mutex<()>,
}

impl BasicAuth {
    /// Authentication against `users` (name → bcrypt hash, validated by `web_config`).
    pub fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            verdicts: Mutex::new(HashMap::new()),
            bcrypt: Mutex::new(()),
        }
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let known = self.users.get(&user);
        let hash = known.map_or_else(|| decoy_hash(), String::as_str);
        let key = cache_key(&user, hash, &password);
        let cached = self
            .verdicts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        if let Some(verdict) = cached {
            return verdict;
        }
        let matches = {
            let _one_at_a_time = self.bcrypt.lock().unwrap_or_else(PoisonError::into_inner);
            bcrypt::verify(&password, hash).unwrap_or(false)
        };
        let verdict = known.is_some() && matches;
        let mut verdicts = self.verdicts.lock().unwrap_or_else(PoisonError::into_inner);
        if verdicts.len() >= CACHE_ENTRIES {
            verdicts.clear();
        }
        verdicts.insert(key, verdict);
        verdict
    }
}

/// User and password of a `Basic` authorization header value.
pub fn credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, hash, password] {
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

/// A hash of the same cost as a typical user's, for names that are not users.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        bcrypt::hash_with_salt("decoy", 10, [7u8; 16])
            .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    fn auth() -> BasicAuth {
        let hash = bcrypt::hash_with_salt("s3cret", 4, [1u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        BasicAuth::new(BTreeMap::from([("prometheus".to_owned(), hash)]))
    }

    #[test]
    fn the_right_password_passes_and_every_other_answer_fails() {
        let auth = auth();
        assert!(auth.allows(Some(&header("prometheus", "s3cret"))));
        assert!(auth.allows(Some(&header("prometheus", "s3cret"))), "cached");
        assert!(!auth.allows(Some(&header("prometheus", "wrong"))));
        assert!(!auth.allows(Some(&header("nobody", "s3cret"))));
        assert!(!auth.allows(None));
        assert!(!auth.allows(Some("Bearer abc")));
        assert!(!auth.allows(Some("Basic !!!")));
    }

    #[test]
    fn credentials_split_at_the_first_colon_and_the_scheme_ignores_case() {
        let value = header("a", "b:c").replace("Basic", "bAsIc");
        assert_eq!(credentials(&value), Some(("a".into(), "b:c".into())));
        assert_eq!(credentials("Basic bm9jb2xvbg=="), None, "no colon");
    }

    #[test]
    fn the_decoy_is_a_valid_hash_of_cost_ten() {
        assert!(crate::serve::web_config::check_bcrypt_hash(decoy_hash()).is_ok());
        assert!(decoy_hash().starts_with("$2y$10$"));
    }
}
