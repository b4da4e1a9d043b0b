//! The page's resources: values the server reads while it renders a page, sent inside the page as
//! JSON and read again in the browser as it hydrates, then fetched again by the same server
//! functions when they change.
//!
//! The JSON is read with `serde_json::from_slice`, the reader server_fn uses for the server
//! functions' answers. Leptos' default resource codec (`JsonSerdeCodec`) reads with `from_str`, a
//! second reader: the bundle then held every view type's deserialiser twice, once per reader
//! (twiggy on the release bundle before wasm-opt, 2026-12-03: 103 KB of code for `from_slice`, 102 KB
//! for `from_str`, the same types in both).
use leptos::prelude::*;
use leptos::serde_json;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};

/// JSON, read with the server functions' reader (see the module doc).
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource whose value travels as [`Json`].
pub type PageResource<T> = Resource<T, Json>;

/// [`Resource::new`], with [`Json`]: `fetcher` runs for each value of `source` (on the server
/// while the page renders; in the browser when `source` changes).
#[track_caller]
pub fn page_resource<T, S, Fut>(source: impl Fn() -> S + Send + Sync + 'static, fetcher: impl Fn(S) -> Fut + Send + Sync + 'static) -> PageResource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reads_back_as_it_was_written() {
        let value: Result<Vec<(String, u32)>, String> = Ok(vec![("é \"quoted\" \u{1F511}".into(), 7)]);
        let encoded = <Json as Encoder<_>>::encode(&value).unwrap();
        let decoded: Result<Vec<(String, u32)>, String> = <Json as Decoder<_>>::decode(&encoded).unwrap();
        assert_eq!(decoded, value);
        assert!(<Json as Decoder<Result<u32, String>>>::decode("{\"Ok\": }").is_err());
    }
}
