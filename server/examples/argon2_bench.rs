//! The baseline of `make bench`'s sign-in measure: raw argon2id verifications per second with the
//! server's configured parameters (`[argon2]` of Leptos.toml, or GATEHOUSE_CONFIG, with the
//! GATEHOUSE_ARGON2_* overrides: read through `server::Config::load`, as the server reads them),
//! one thread per core this process may run on, each verifying the same PHC hash in a loop for
//! BENCH_SECONDS (default 10; BENCH_THREADS overrides the thread count). Each verification is the
//! one the server's hashing threads run (`domain::auth::password::verify_in_thread_memory`: argon2id
//! into memory the thread allocated once and reuses, its output compared with the stored one);
//! nothing else runs. (Until 2026-12-05 it was argon2's own
//! `verify_password`, which allocates fresh zeroed memory, 19 MiB, for every verification: 1.6–2.7%
//! slower per verification on one thread and about 5% with two, as the bench runs it, which
//! flattered the ratio by as much.)
//!
//! Prints one JSON object (the harness, scripts/bench/run.mjs, reads it), e.g.
//! `{"verifications_per_s":61.2,"verifications":612,"seconds":10.0,"threads":2,…}`.
//!
//! `cargo run --profile server-release -p server --example argon2_bench`
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use domain::auth::password::verify_in_thread_memory;

fn main() -> Result<(), String> {
    let path = std::env::var("GATEHOUSE_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
    let config = server::Config::load(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
    let a = &config.argon2;
    let params = Params::new(a.memory_kib, a.iterations, a.parallelism, None).map_err(|e| e.to_string())?;
    let seconds: f64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));

    // the password of the bench accounts (testkit::PW), hashed as the server stores it
    let password = testkit::PW.as_bytes();
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password, &salt)
        .map_err(|e| e.to_string())?
        .to_string();

    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, stop, phc) = (done.clone(), stop.clone(), phc.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("own hash parses");
                while !stop.load(Ordering::Relaxed) {
                    assert!(verify_in_thread_memory(password, &parsed).expect("argon2id"), "verification failed");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    // count what finished within the window; the verifications still running end after it
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().map_err(|_| "a worker panicked".to_string())?;
    }
    println!(
        "{}",
        serde_json::json!({
            "verifications_per_s": counted as f64 / elapsed,
            "verifications": counted,
            "seconds": elapsed,
            "threads": threads,
            "memory_kib": a.memory_kib,
            "iterations": a.iterations,
            "parallelism": a.parallelism,
            "max_concurrent": a.concurrent_hashes(),
            "max_queue": a.max_queue,
            "cpus": std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_string()))),
        })
    );
    Ok(())
}
