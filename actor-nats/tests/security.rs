//! Security against a real nats-server: a server that requires auth refuses a client
//! without it (or with wrong credentials) with a clear, typed error in bounded time; each
//! kind of credentials gets in; the subject permissions the README documents for serving
//! and calling are enough, and a caller without them cannot reach the actor.

mod common;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::ActorSystem;
use actor_nats::{ConnectError, NatsOptions, RemoteAskError};
use common::{counter, server_with, Add};

fn assert_refused(result: Result<actor_nats::Nats, ConnectError>, started: Instant) {
    match result {
        Err(ConnectError::Auth(text)) => {
            assert!(text.to_lowercase().contains("authorization"), "{text}");
        }
        other => panic!("expected ConnectError::Auth, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_or_with_wrong_ones_the_client_is_refused_clearly() {
    let server = server_with(r#"authorization { user: "svc", password: "right" }"#);
    let started = Instant::now();
    assert_refused(NatsOptions::new(server.url()).connect().await, started);
    let started = Instant::now();
    assert_refused(
        NatsOptions::new(server.url())
            .user_password("svc", "wrong")
            .connect()
            .await,
        started,
    );
    let nats = NatsOptions::new(server.url())
        .user_password("svc", "right")
        .connect()
        .await
        .unwrap();
    assert!(nats.is_connected());

    let server = server_with(r#"authorization { token: "s3cret" }"#);
    let started = Instant::now();
    assert_refused(
        NatsOptions::new(server.url())
            .token("guess")
            .connect()
            .await,
        started,
    );
    let nats = NatsOptions::new(server.url())
        .token("s3cret")
        .connect()
        .await
        .unwrap();
    assert!(nats.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nkey_user_gets_in_and_an_unknown_key_does_not() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let server = server_with(&format!(
        "authorization {{ users: [ {{ nkey: {} }} ] }}",
        user.public_key()
    ));
    let nats = NatsOptions::new(server.url())
        .nkey(user.seed().unwrap())
        .connect()
        .await
        .unwrap();
    assert!(nats.is_connected());
    let started = Instant::now();
    assert_refused(
        NatsOptions::new(server.url())
            .nkey(stranger.seed().unwrap())
            .connect()
            .await,
        started,
    );
    match NatsOptions::new(server.url())
        .credentials_file("/nonexistent/user.creds")
        .connect()
        .await
    {
        Err(ConnectError::Credentials(text)) => assert!(text.contains("user.creds"), "{text}"),
        other => panic!("expected Credentials, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_typed_error_in_bounded_time() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    match NatsOptions::new(format!("nats://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
    {
        Err(ConnectError::Io(_) | ConnectError::Timeout(_)) => {}
        other => panic!("expected Io or Timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    match NatsOptions::new("").connect().await {
        Err(ConnectError::Url(_)) => {}
        other => panic!("expected Url, got {other:?}"),
    }
}

/// The permissions README.md documents: the serving user subscribes to the subject (and to
/// `_INBOX.>`, for the readiness check of `start`) and publishes replies to `_INBOX.>`; the
/// calling user publishes to the subject and subscribes to `_INBOX.>`. A user allowed neither cannot reach the actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_subject_permissions_are_enough_and_needed() {
    let server = server_with(
        r#"authorization {
          users: [
            { user: "server", password: "s", permissions: {
                subscribe: ["svc.counter", "_INBOX.>"], publish: ["_INBOX.>"] } }
            { user: "caller", password: "c", permissions: {
                publish: ["svc.counter"], subscribe: ["_INBOX.>"] } }
            { user: "outsider", password: "o", permissions: {
                publish: ["other.>"], subscribe: ["_INBOX.>"] } }
          ]
        }"#,
    );
    let serving_side = NatsOptions::new(server.url())
        .user_password("server", "s")
        .connect()
        .await
        .unwrap();
    let system = ActorSystem::builder().name("perm").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let _serving = serving_side
        .serve("svc.counter")
        .handle(actor.recipient::<Add>())
        .start()
        .await
        .unwrap();
    let caller = NatsOptions::new(server.url())
        .user_password("caller", "c")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        caller
            .recipient::<Add>("svc.counter")
            .ask(Add(5))
            .await
            .unwrap(),
        5
    );

    let outsider = NatsOptions::new(server.url())
        .user_password("outsider", "o")
        .connect()
        .await
        .unwrap();
    let err = outsider
        .recipient::<Add>("svc.counter")
        .ask(Add(1))
        .timeout(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteAskError::Timeout(_)), "{err:?}");
    assert!(
        outsider.stats().server_errors >= 1,
        "the server reported the violation"
    );
    assert_eq!(
        caller
            .recipient::<Add>("svc.counter")
            .ask(Add(0))
            .await
            .unwrap(),
        5
    );
    system.shutdown().await;
}

/// A CA and a server certificate for 127.0.0.1, written to `dir`: (ca, cert, key) paths.
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "actor-nats test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_servers_ca_connects_and_without_it_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = server_with(&format!(
        "tls {{ cert_file: {:?}, key_file: {:?} }}",
        cert.display().to_string(),
        key.display().to_string()
    ));
    let nats = NatsOptions::new(server.url())
        .tls_root_certificate(&ca)
        .connect()
        .await
        .unwrap();
    let system = ActorSystem::builder().name("tls").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let _serving = nats
        .serve("svc.tls")
        .handle(actor.recipient::<Add>())
        .start()
        .await
        .unwrap();
    assert_eq!(
        nats.recipient::<Add>("svc.tls").ask(Add(4)).await.unwrap(),
        4
    );
    // Without the CA the server's certificate is not trusted.
    let started = Instant::now();
    match NatsOptions::new(server.url())
        .require_tls(true)
        .connect()
        .await
    {
        Err(ConnectError::Tls(text)) => assert!(!text.is_empty()),
        other => panic!("expected ConnectError::Tls, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    system.shutdown().await;
}

/// A signed NATS JWT (`ed25519-nkey`) with these claims, issued by `issuer` for `subject`.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let header = serde_json::json!({ "typ": "JWT", "alg": "ed25519-nkey" });
    let claims = serde_json::json!({
        "jti": format!("{:X}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()),
        "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Decentralized auth as `nsc` sets it up: an operator, an account it signs, a user the
/// account signs, and the user's credentials file (its JWT and seed). The server trusts the
/// operator; a user signed by another account's key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credentials_file_gets_in_and_a_forged_one_does_not() {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let unlimited = serde_json::json!({ "subs": -1, "data": -1, "payload": -1 });
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "op",
        serde_json::json!({ "type": "operator", "version": 2 }),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "acct",
        serde_json::json!({
            "type": "account", "version": 2,
            "limits": { "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                        "wildcards": true, "conn": -1, "leaf": -1 },
        }),
    );
    let user_claims = serde_json::json!({
        "type": "user", "version": 2, "pub": {}, "sub": {},
        "subs": unlimited["subs"], "data": unlimited["data"], "payload": unlimited["payload"],
    });
    let creds = |jwt: &str, seed: &str| {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("user.creds");
    std::fs::write(
        &good,
        creds(
            &jwt(&account, &user.public_key(), "user", user_claims.clone()),
            &user.seed().unwrap(),
        ),
    )
    .unwrap();
    let forger = nkeys::KeyPair::new_account();
    let forged = dir.path().join("forged.creds");
    std::fs::write(
        &forged,
        creds(
            &jwt(&forger, &user.public_key(), "user", user_claims),
            &user.seed().unwrap(),
        ),
    )
    .unwrap();
    let server = server_with(&format!(
        "operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{ {}: {account_jwt} }}\n",
        account.public_key()
    ));
    let nats = NatsOptions::new(server.url())
        .credentials_file(&good)
        .connect()
        .await
        .unwrap();
    assert!(nats.is_connected());
    let started = Instant::now();
    assert_refused(
        NatsOptions::new(server.url())
            .credentials_file(&forged)
            .connect()
            .await,
        started,
    );
    let started = Instant::now();
    assert_refused(NatsOptions::new(server.url()).connect().await, started);
}
