//! A software authenticator for API tests: it answers Uma's WebAuthn options as a browser with a
//! platform authenticator would (P-256 keys, "none" attestation, user verified), and lets a test
//! misbehave on purpose (no user verification, another origin, a counter that goes back).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_cbor_2::Value as Cbor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A passkey the authenticator holds.
#[derive(Clone)]
pub struct Credential {
    /// Its id.
    pub id: Vec<u8>,
    key: SigningKey,
    /// The user handle it was made for.
    pub user_handle: Vec<u8>,
    /// Its signature counter (moves up with each use).
    pub counter: u32,
}

/// The authenticator.
pub struct Authenticator {
    /// The origin the "browser" reports (`clientDataJSON.origin`).
    pub origin: String,
    /// The relying party id it signs for.
    pub rp_id: String,
    /// Its passkeys.
    pub creds: Vec<Credential>,
    /// Whether it reports user verification.
    pub verify_user: bool,
    /// The id the next passkey it makes gets (random when none).
    pub next_id: Option<Vec<u8>>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .expect("base64url from the server")
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

impl Authenticator {
    /// An authenticator for pages at `origin` (the relying party id is its host).
    pub fn new(origin: &str) -> Self {
        let host = url::Url::parse(origin)
            .expect("origin")
            .host_str()
            .expect("host")
            .to_owned();
        Self {
            origin: origin.trim_end_matches('/').to_owned(),
            rp_id: host,
            creds: Vec::new(),
            verify_user: true,
            next_id: None,
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut f = 0x01; // user present
        if self.verify_user {
            f |= 0x04;
        }
        if attested {
            f |= 0x40;
        }
        f
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// Answers `POST /api/auth/passkeys/register`'s options: the credential to send back (and
    /// keeps the new passkey).
    pub fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        assert_eq!(pk["rp"]["id"], self.rp_id.as_str(), "relying party id");
        let challenge = pk["challenge"].as_str().expect("challenge");
        let user_handle = unb64(pk["user"]["id"].as_str().expect("user id"));
        let excluded: Vec<Vec<u8>> = pk["excludeCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| unb64(c["id"].as_str().unwrap())).collect())
            .unwrap_or_default();
        assert!(
            !self.creds.iter().any(|c| excluded.contains(&c.id)),
            "the authenticator holds an excluded passkey"
        );
        let key = SigningKey::from_slice(&random_bytes::<32>()).expect("key");
        let id = self
            .next_id
            .take()
            .unwrap_or_else(|| random_bytes::<16>().to_vec());
        let point = key.verifying_key().to_sec1_point(false);
        let xy = point.as_bytes();
        let mut cose = BTreeMap::new();
        cose.insert(Cbor::Integer(1), Cbor::Integer(2)); // kty: EC2
        cose.insert(Cbor::Integer(3), Cbor::Integer(-7)); // alg: ES256
        cose.insert(Cbor::Integer(-1), Cbor::Integer(1)); // crv: P-256
        cose.insert(Cbor::Integer(-2), Cbor::Bytes(xy[1..33].to_vec()));
        cose.insert(Cbor::Integer(-3), Cbor::Bytes(xy[33..65].to_vec()));
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend(serde_cbor_2::to_vec(&Cbor::Map(cose)).unwrap());
        let mut att = BTreeMap::new();
        att.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        att.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        att.insert(Cbor::Text("authData".into()), Cbor::Bytes(auth_data));
        let attestation = serde_cbor_2::to_vec(&Cbor::Map(att)).unwrap();
        self.creds.push(Credential {
            id: id.clone(),
            key,
            user_handle,
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers a request's options with passkey `which` (its index here); the counter moves up.
    pub fn get_with(&mut self, options: &Value, which: usize) -> Value {
        let pk = &options["publicKey"];
        let challenge = pk["challenge"].as_str().expect("challenge").to_owned();
        let client_data = self.client_data("webauthn.get", &challenge);
        let flags = self.flags(false);
        let rp_hash = Sha256::digest(self.rp_id.as_bytes());
        let cred = &mut self.creds[which];
        cred.counter += 1;
        let mut auth_data = rp_hash.to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let sig: Signature = cred.key.sign(&signed);
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.to_der().as_bytes()),
                "userHandle": b64(&cred.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers a request's options with the first passkey it may use (one listed in
    /// `allowCredentials`, or any for a passkey sign-in).
    pub fn get(&mut self, options: &Value) -> Value {
        let allowed: Vec<Vec<u8>> = options["publicKey"]["allowCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| unb64(c["id"].as_str().unwrap())).collect())
            .unwrap_or_default();
        let which = if allowed.is_empty() {
            0
        } else {
            self.creds
                .iter()
                .position(|c| allowed.contains(&c.id))
                .expect("the authenticator holds none of the allowed passkeys")
        };
        self.get_with(options, which)
    }
}
