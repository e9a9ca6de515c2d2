//! `next_cursor`: opaque to clients and tamper-proof. It is the provider's page position,
//! bound to one integrated account, as base64url JSON plus an HMAC-SHA256 tag, since it
//! may carry a provider URL that Unigate will follow.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{PageError, PageState};
use crate::crypto::Keyring;

#[derive(Serialize, Deserialize)]
struct Body {
    /// The account the cursor belongs to.
    a: String,
    s: PageState,
}

/// The client's `next_cursor` for `state`, bound to `account_id`.
pub fn encode(keyring: &Keyring, account_id: &str, state: &PageState) -> String {
    let json = serde_json::to_vec(&Body {
        a: account_id.to_string(),
        s: state.clone(),
    })
    .unwrap_or_default();
    let tag = keyring.sign(&json);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(tag))
}

/// The position a `next_cursor` holds, if this server issued it for `account_id`.
pub fn decode(keyring: &Keyring, account_id: &str, cursor: &str) -> Result<PageState, PageError> {
    let bad = || PageError::ForeignCursor;
    let (body, tag) = cursor.split_once('.').ok_or_else(bad)?;
    let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
    if !keyring.verify(&body, &tag) {
        return Err(bad());
    }
    let parsed: Body = serde_json::from_slice(&body).map_err(|_| bad())?;
    if parsed.a != account_id {
        return Err(bad());
    }
    Ok(parsed.s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_account_only() {
        let k = Keyring::from_key([3; 32]);
        let c = encode(
            &k,
            "acct",
            &PageState::Url("https://api.github.com/user/orgs?page=2".into()),
        );
        assert_eq!(
            decode(&k, "acct", &c).unwrap(),
            PageState::Url("https://api.github.com/user/orgs?page=2".into())
        );
        assert!(decode(&k, "other", &c).is_err());
    }

    #[test]
    fn a_tampered_cursor_is_rejected() {
        let k = Keyring::from_key([3; 32]);
        let c = encode(&k, "acct", &PageState::Page(2));
        let forged = encode(
            &Keyring::from_key([4; 32]),
            "acct",
            &PageState::Url("http://169.254.169.254/".into()),
        );
        assert!(decode(&k, "acct", &forged).is_err());
        let (_, tag) = c.split_once('.').unwrap();
        let body = URL_SAFE_NO_PAD.encode(br#"{"a":"acct","s":{"page":3}}"#);
        assert!(decode(&k, "acct", &format!("{body}.{tag}")).is_err());
        for junk in ["", ".", "abc", "a.b.c", "%%%"] {
            assert!(decode(&k, "acct", junk).is_err());
        }
    }
}
