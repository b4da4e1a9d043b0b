//! Passkeys in the browser: `navigator.credentials.create/get` through web-sys, converting the
//! server's options (webauthn-rs JSON, binary fields in base64url) to what the browser takes, and
//! the browser's answer back to that JSON. Only from event handlers (never during render).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, PublicKeyCredential};

pub use crate::browser::{PasskeyError, UNSUPPORTED};

/// Where a page keeps an [`Abort`]: it holds a JS object, so only on the thread that made it.
pub type AbortStorage = leptos::prelude::LocalStorage;

/// Cancels an outstanding passkey request (the autofill one, when the person uses the button; a
/// new passkey's, when the person cancels its form).
#[derive(Clone, Debug)]
pub struct Abort(AbortController);

impl Abort {
    /// `None` when the browser cannot make one.
    pub fn new() -> Option<Self> {
        AbortController::new().ok().map(Abort)
    }

    pub fn abort(&self) {
        self.0.abort();
    }
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn failed(what: &str) -> PasskeyError {
    PasskeyError::Failed(format!("{what}. Reload the page and try again."))
}

/// `window.PublicKeyCredential` exists and so does `navigator.credentials`.
pub fn supported() -> bool {
    let Some(w) = web_sys::window() else { return false };
    let has_pkc = !get(&w, "PublicKeyCredential").is_undefined();
    let has_credentials = !get(&w.navigator(), "credentials").is_undefined();
    has_pkc && has_credentials && w.is_secure_context()
}

/// Whether the browser offers passkeys in autofill (conditional mediation).
pub async fn autofill_available() -> bool {
    if !supported() {
        return false;
    }
    let Some(w) = web_sys::window() else { return false };
    let pkc = get(&w, "PublicKeyCredential");
    let f = get(&pkc, "isConditionalMediationAvailable");
    let Some(f) = f.dyn_ref::<js_sys::Function>() else { return false };
    let Ok(p) = f.call0(&pkc) else { return false };
    let Ok(p) = p.dyn_into::<js_sys::Promise>() else { return false };
    matches!(JsFuture::from(p).await, Ok(v) if v.as_bool() == Some(true))
}

/// Replaces the base64url string at `obj[key]` by its bytes.
fn bytes_field(obj: &JsValue, key: &str) -> Result<(), PasskeyError> {
    let v = get(obj, key);
    let Some(s) = v.as_string() else { return Ok(()) };
    let raw = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|_| failed("The server sent passkey options this page cannot read"))?;
    set(obj, key, &Uint8Array::from(raw.as_slice()).into());
    Ok(())
}

fn credential_list(options: &JsValue, key: &str) -> Result<(), PasskeyError> {
    let list = get(options, key);
    if let Some(list) = list.dyn_ref::<Array>() {
        for item in list.iter() {
            bytes_field(&item, "id")?;
        }
    }
    Ok(())
}

/// The server's `{"publicKey": …, "mediation"?: …}` as browser options.
fn options(json: &str, signal: Option<&AbortSignal>) -> Result<Object, PasskeyError> {
    let parsed = JSON::parse(json).map_err(|_| failed("The server sent passkey options this page cannot read"))?;
    let public_key = get(&parsed, "publicKey");
    if !public_key.is_object() {
        return Err(failed("The server sent passkey options this page cannot read"));
    }
    bytes_field(&public_key, "challenge")?;
    let user = get(&public_key, "user");
    if user.is_object() {
        bytes_field(&user, "id")?;
    }
    credential_list(&public_key, "excludeCredentials")?;
    credential_list(&public_key, "allowCredentials")?;
    let out = Object::new();
    set(&out, "publicKey", &public_key);
    let mediation = get(&parsed, "mediation");
    if mediation.is_string() {
        set(&out, "mediation", &mediation);
    }
    if let Some(signal) = signal {
        set(&out, "signal", signal);
    }
    Ok(out)
}

fn b64(buf: &JsValue) -> JsValue {
    if buf.is_null() || buf.is_undefined() {
        return JsValue::NULL;
    }
    JsValue::from_str(&URL_SAFE_NO_PAD.encode(Uint8Array::new(buf).to_vec()))
}

/// The credential as the JSON webauthn-rs reads (what `PublicKeyCredential.toJSON()` gives).
fn answer(cred: &PublicKeyCredential) -> Result<String, PasskeyError> {
    let out = Object::new();
    set(&out, "id", &JsValue::from_str(&cred.id()));
    set(&out, "rawId", &b64(&cred.raw_id().into()));
    set(&out, "type", &JsValue::from_str("public-key"));
    let cred_value: &JsValue = cred.as_ref();
    let extensions = get(cred_value, "getClientExtensionResults")
        .dyn_ref::<js_sys::Function>()
        .and_then(|f| f.call0(cred_value).ok())
        .filter(|v| v.is_object())
        .unwrap_or_else(|| Object::new().into());
    set(&out, "clientExtensionResults", &extensions);
    let response: JsValue = cred.response().into();
    let r = Object::new();
    set(&r, "clientDataJSON", &b64(&get(&response, "clientDataJSON")));
    for key in ["attestationObject", "authenticatorData", "signature", "userHandle"] {
        let v = get(&response, key);
        if !v.is_undefined() {
            set(&r, key, &b64(&v));
        }
    }
    // transports help the browser find the passkey later; optional
    let transports = get(&response, "getTransports");
    if let Some(f) = transports.dyn_ref::<js_sys::Function>() {
        if let Ok(t) = f.call0(&response) {
            set(&r, "transports", &t);
        }
    }
    set(&out, "response", &r);
    JSON::stringify(&out).ok().and_then(|s| s.as_string()).ok_or_else(|| failed("Your browser's passkey answer could not be read"))
}

fn dom_error(e: JsValue, creating: bool) -> PasskeyError {
    let name = get(&e, "name").as_string().unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" => PasskeyError::Cancelled,
        "AbortError" => PasskeyError::Aborted,
        "InvalidStateError" if creating => PasskeyError::AlreadyRegistered,
        "NotSupportedError" => PasskeyError::Unsupported,
        "SecurityError" => PasskeyError::Failed(
            "Passkeys can't be used at this address. Open Gatehouse at its usual address and try again.".into(),
        ),
        _ => PasskeyError::Failed("Your device could not use a passkey. Try again, or sign in another way.".into()),
    }
}

fn credentials() -> Result<web_sys::CredentialsContainer, PasskeyError> {
    if !supported() {
        return Err(PasskeyError::Unsupported);
    }
    Ok(web_sys::window().ok_or(PasskeyError::Unsupported)?.navigator().credentials())
}

/// Creates a passkey with the server's options; answers the credential as JSON. `abort` cancels
/// the request from elsewhere (the browser closes its prompt; answered `Aborted`).
pub async fn create(options_json: &str, abort: Option<&Abort>) -> Result<String, PasskeyError> {
    let container = credentials()?;
    let signal = abort.map(|a| a.0.signal());
    let opts = options(options_json, signal.as_ref())?;
    let promise = container
        .create_with_options(opts.unchecked_ref::<web_sys::CredentialCreationOptions>())
        .map_err(|e| dom_error(e, true))?;
    let cred = JsFuture::from(promise).await.map_err(|e| dom_error(e, true))?;
    let cred = cred.dyn_into::<PublicKeyCredential>().map_err(|_| PasskeyError::Cancelled)?;
    answer(&cred)
}

/// Asks for a passkey with the server's options (conditional mediation when they say so);
/// answers the assertion as JSON. `abort` cancels the request from elsewhere.
pub async fn get_assertion(options_json: &str, abort: Option<&Abort>) -> Result<String, PasskeyError> {
    let container = credentials()?;
    let signal = abort.map(|a| a.0.signal());
    let opts = options(options_json, signal.as_ref())?;
    let promise = container
        .get_with_options(opts.unchecked_ref::<web_sys::CredentialRequestOptions>())
        .map_err(|e| dom_error(e, false))?;
    let cred = JsFuture::from(promise).await.map_err(|e| dom_error(e, false))?;
    let cred = cred.dyn_into::<PublicKeyCredential>().map_err(|_| PasskeyError::Cancelled)?;
    answer(&cred)
}
