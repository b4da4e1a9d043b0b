//! A software passkey authenticator (P-256, attestation "none") for the tests and the benchmark: it answers
//! the server's options with the JSON a browser's `PublicKeyCredential.toJSON()` gives.
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use std::sync::Arc;

use p256::ecdsa::SigningKey;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_cbor_2::Value as Cbor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;

/// A clone is a copy of the authenticator as it is (key, counter): a cloned security key.
#[derive(Clone)]
pub struct SoftAuthenticator {
    key: SigningKey,
    /// The same key in ring, which signs (p256, which webauthn-rs verifies with, takes about ten
    /// times as long, and the sign-in benchmark's authenticators share the server's cores).
    signer: Arc<EcdsaKeyPair>,
    pub credential_id: Vec<u8>,
    aaguid: [u8; 16],
    user_handle: Vec<u8>,
    counter: u32,
    /// Whether it counts its uses (a security key does; synced passkeys, as iCloud Keychain's and
    /// Google Password Manager's, always say 0).
    pub counts_uses: bool,
    /// Flags set in every answer (user present, verified, backup eligible/state).
    pub flags: u8,
    /// Where the "browser" says the page is.
    pub origin: String,
}

fn sha256(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

fn bytes(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap().trim_end_matches('=')).unwrap()
}

impl SoftAuthenticator {
    /// `seed` picks the key and the credential id; `aaguid` the model it claims to be.
    pub fn new(seed: u8, aaguid: uuid::Uuid, origin: &str) -> Self {
        let key = SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
        let public = key.verifying_key().to_sec1_point(false);
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &[seed.max(1); 32],
            public.as_bytes(),
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        Self {
            key,
            signer: Arc::new(signer),
            credential_id: vec![seed; 32],
            aaguid: *aaguid.as_bytes(),
            user_handle: Vec::new(),
            counter: 0,
            counts_uses: true,
            flags: UP | UV | BE | BS,
            origin: origin.to_string(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "type": kind, "challenge": B64.encode(challenge), "origin": self.origin, "crossOrigin": false }))
            .unwrap()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let mut m = BTreeMap::new();
        m.insert(Cbor::Integer(1), Cbor::Integer(2)); // kty: EC2
        m.insert(Cbor::Integer(3), Cbor::Integer(-7)); // alg: ES256
        m.insert(Cbor::Integer(-1), Cbor::Integer(1)); // crv: P-256
        m.insert(Cbor::Integer(-2), Cbor::Bytes(point.x().unwrap().to_vec()));
        m.insert(Cbor::Integer(-3), Cbor::Bytes(point.y().unwrap().to_vec()));
        serde_cbor_2::to_vec(&Cbor::Map(m)).unwrap()
    }

    /// Answers `navigator.credentials.create` options (the server's JSON), as JSON text.
    pub fn create(&mut self, options: &Value) -> String {
        let pk = &options["publicKey"];
        let excluded = pk["excludeCredentials"].as_array().cloned().unwrap_or_default();
        assert!(
            !excluded.iter().any(|c| bytes(&c["id"]) == self.credential_id),
            "a real authenticator refuses (InvalidStateError) when it holds an excluded credential"
        );
        self.user_handle = bytes(&pk["user"]["id"]);
        let mut data = sha256(pk["rp"]["id"].as_str().unwrap().as_bytes());
        data.push(self.flags | 0x40); // attested credential data follows
        data.extend_from_slice(&self.counter.to_be_bytes());
        data.extend_from_slice(&self.aaguid);
        data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        data.extend_from_slice(&self.credential_id);
        data.extend_from_slice(&self.cose_key());
        let mut object = BTreeMap::new();
        object.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        object.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        object.insert(Cbor::Text("authData".into()), Cbor::Bytes(data));
        let client_data = self.client_data("webauthn.create", &bytes(&pk["challenge"]));
        json!({
            "id": B64.encode(&self.credential_id), "rawId": B64.encode(&self.credential_id), "type": "public-key",
            "clientExtensionResults": { "credProps": { "rk": true } },
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(serde_cbor_2::to_vec(&Cbor::Map(object)).unwrap()),
                "transports": ["internal"]
            }
        })
        .to_string()
    }

    /// Answers `navigator.credentials.get` options (the server's JSON), as JSON text.
    pub fn get(&mut self, options: &Value) -> String {
        let pk = &options["publicKey"];
        if self.counts_uses {
            self.counter += 1;
        }
        let mut data = sha256(pk["rpId"].as_str().unwrap().as_bytes());
        data.push(self.flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", &bytes(&pk["challenge"]));
        let mut signed = data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        // DER, as an authenticator's assertion signature is
        let signature = self.signer.sign(&ring::rand::SystemRandom::new(), &signed).unwrap();
        json!({
            "id": B64.encode(&self.credential_id), "rawId": B64.encode(&self.credential_id), "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(&data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle)
            }
        })
        .to_string()
    }
}
