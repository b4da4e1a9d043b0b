//! The hasher's tests: hashes that verify (also in the thread's own memory, as argon2's own
//! verifier does), NFC, oversized input, the hashing threads, and the limits on concurrency and
//! on the queue.
use super::*;
use argon2::password_hash::PasswordVerifier;

fn cheap() -> PasswordHasher {
    PasswordHasher::new(&Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 2, max_queue: 64 }).unwrap()
}

#[test]
fn default_parameters_are_owasp() {
    let d = Argon2Config::default();
    assert_eq!((d.memory_kib, d.iterations, d.parallelism), (19_456, 2, 1));
}

#[tokio::test]
async fn hashes_are_argon2id_and_verify() {
    let h = cheap();
    let pw = Password::new("correct horse battery staple");
    let hash = h.hash(&pw).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(h.verify(&pw, Some(&hash)).await.unwrap());
    assert!(!h.verify(&Password::new("correct horse battery stapl"), Some(&hash)).await.unwrap());
}

#[test]
fn verifying_in_the_threads_memory_agrees_with_argon2s_own_verifier_across_parameters() {
    // one thread, hashes of several sizes in turn (its memory grows and shrinks), versions,
    // algorithms and output lengths, right and wrong passwords, and hashes it cannot use
    let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
    let hashes: Vec<String> = [
        (Algorithm::Argon2id, Version::V0x13, 256, 2, 32),
        (Algorithm::Argon2id, Version::V0x13, 64, 1, 32),
        (Algorithm::Argon2id, Version::V0x10, 128, 3, 16),
        (Algorithm::Argon2i, Version::V0x13, 96, 2, 64),
        (Algorithm::Argon2d, Version::V0x13, 512, 1, 32),
    ]
    .into_iter()
    .map(|(alg, version, m, t, len)| {
        let params = Params::new(m, t, 1, Some(len)).unwrap();
        Argon2::new(alg, version, params).hash_password(b"right", &salt).unwrap().to_string()
    })
    .collect();
    for hash in &hashes {
        let parsed = PasswordHash::new(hash).unwrap();
        for pw in [&b"right"[..], b"wrong", b"", b"righ"] {
            let theirs = Argon2::default().verify_password(pw, &parsed).is_ok();
            assert_eq!(verify_in_thread_memory(pw, &parsed).unwrap(), theirs, "{hash} {pw:?}");
            assert_eq!(theirs, pw == b"right");
        }
    }
    // a hash without its output, or with a changed output, never matches
    let no_output = hashes[0].rsplit_once('$').unwrap().0;
    assert!(!verify_in_thread_memory(b"right", &PasswordHash::new(no_output).unwrap()).unwrap());
    let mut flipped = hashes[0].clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    assert!(!verify_in_thread_memory(b"right", &PasswordHash::new(&flipped).unwrap()).unwrap());
    // another algorithm's hash is an error, not a match
    let other = "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    assert!(verify_in_thread_memory(b"right", &PasswordHash::new(other).unwrap()).is_err());
}

#[tokio::test]
async fn unknown_account_never_verifies() {
    let h = cheap();
    assert!(!h.verify(&Password::new("anything at all goes here"), None).await.unwrap());
}

#[tokio::test]
async fn nfc_and_nfd_forms_of_the_same_password_match() {
    let h = cheap();
    let composed = Password::new("caf\u{e9} au lait with friends");
    let decomposed = Password::new("cafe\u{301} au lait with friends");
    let hash = h.hash(&composed).await.unwrap();
    assert!(h.verify(&decomposed, Some(&hash)).await.unwrap());
}

#[tokio::test]
async fn oversized_passwords_are_refused_before_hashing() {
    let h = cheap();
    let huge = Password::new("x".repeat(MAX_LENGTH + 1));
    assert!(matches!(h.hash(&huge).await, Err(DomainError::PasswordRejected(_))));
    assert!(matches!(h.verify(&huge, None).await, Err(DomainError::PasswordRejected(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_the_reactor_stays_responsive() {
    let h = PasswordHasher::new(&Argon2Config { memory_kib: 4096, iterations: 1, parallelism: 1, max_concurrent: 2, max_queue: 64 }).unwrap();
    let pw = Password::new("correct horse battery staple");
    let hash = h.hash(&pw).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (h, pw, hash) = (h.clone(), pw.clone(), hash.clone());
        tasks.push(tokio::spawn(async move { h.verify(&pw, Some(&hash)).await.unwrap() }));
    }
    // While 40 verifications queue up, the reactor still answers quickly and never more than
    // two hashes hold a permit.
    let mut min_available = usize::MAX;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        assert!(t.elapsed() < std::time::Duration::from_millis(200), "reactor stalled: {:?}", t.elapsed());
        min_available = min_available.min(h.available_permits());
    }
    assert_eq!(min_available, 0, "the hashes should have been queued behind the limit");
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(h.available_permits(), 2);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashes_run_on_their_own_threads_at_the_lowest_cpu_priority() {
    let h = cheap();
    let (name, nice) = h
        .pool
        .run(|| {
            let name = std::thread::current().name().map(str::to_string);
            // SAFETY: reads the calling thread's nice value
            (name, unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
        })
        .await
        .unwrap();
    assert!(name.as_deref().is_some_and(|n| n.starts_with("argon2-")), "{name:?}");
    assert_eq!(nice, 19);
    // and the caller's own thread keeps its priority
    assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, 0);
}

#[tokio::test]
async fn a_panicking_hash_is_an_error_and_the_threads_keep_working() {
    let h = cheap();
    let r: Result<(), _> = h.pool.run(|| panic!("boom")).await;
    assert!(matches!(r, Err(DomainError::Internal(_))));
    assert!(h.verify(&Password::new("anything at all goes here"), None).await.is_ok());
}

#[tokio::test]
async fn calls_count_every_hash_and_verification_that_ran() {
    let h = cheap();
    let pw = Password::new("correct horse battery staple");
    let hash = h.hash(&pw).await.unwrap();
    h.verify(&pw, Some(&hash)).await.unwrap();
    h.verify(&pw, None).await.unwrap();
    assert_eq!(h.calls(), 3, "an unknown account costs one verification, like a known one");
    let huge = Password::new("x".repeat(MAX_LENGTH + 1));
    assert!(h.verify(&huge, None).await.is_err());
    assert_eq!(h.calls(), 3, "refused before hashing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queue_a_hash_is_refused_at_once_with_a_retry_time() {
    let h = PasswordHasher::new(&Argon2Config { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 1, max_queue: 2 }).unwrap();
    let pw = Password::new("correct horse battery staple");
    let hash = h.hash(&pw).await.unwrap();
    // the one running slot is taken (as by a long hash): everything admitted now waits
    let busy = h.permits.clone().acquire_owned().await.unwrap();
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let (h, pw, hash) = (h.clone(), pw.clone(), hash.clone());
        waiting.push(tokio::spawn(async move { h.verify(&pw, Some(&hash)).await }));
    }
    // max_concurrent + max_queue = 3 admitted at most; the busy slot is not one of them
    let (h2, pw2, hash2) = (h.clone(), pw.clone(), hash.clone());
    waiting.push(tokio::spawn(async move { h2.verify(&pw2, Some(&hash2)).await }));
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while h.admitted() < 3 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("three verifications admitted");
    let t = std::time::Instant::now();
    let refused = h.verify(&pw, Some(&hash)).await;
    assert!(t.elapsed() < std::time::Duration::from_millis(100), "refused without waiting: {:?}", t.elapsed());
    assert!(
        matches!(refused, Err(DomainError::Overloaded { retry_after_seconds: 1..=30 })),
        "{refused:?}"
    );
    assert!(matches!(h.hash(&pw).await, Err(DomainError::Overloaded { .. })), "hashing new passwords too");
    assert_eq!(h.calls(), 1, "nothing ran but the first hash");
    drop(busy);
    for t in waiting {
        assert!(t.await.unwrap().unwrap(), "admitted requests finish normally");
    }
    assert_eq!((h.calls(), h.admitted(), h.available_permits()), (4, 0, 1));
    assert!(h.verify(&pw, Some(&hash)).await.unwrap(), "admitted again once the queue drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_mid_hash_keeps_its_slot_until_the_hash_ends() {
    // a hash long enough (≈ 100 ms or more) to still run when its request is dropped
    let h = PasswordHasher::new(&Argon2Config { memory_kib: 32_768, iterations: 6, parallelism: 1, max_concurrent: 2, max_queue: 0 }).unwrap();
    let pw = Password::new("correct horse battery staple");
    let request = {
        let (h, pw) = (h.clone(), pw.clone());
        tokio::spawn(async move { h.verify(&pw, None).await })
    };
    while h.available_permits() == 2 {
        tokio::task::yield_now().await;
    }
    // the client goes away: the request's future is dropped while argon2 still runs
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    assert_eq!((h.available_permits(), h.admitted()), (1, 1), "the running hash still holds its slot");
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while h.admitted() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the slot comes back when the hash ends");
    assert_eq!((h.available_permits(), h.calls()), (2, 1));
}
