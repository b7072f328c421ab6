//! Clients that send nothing, too much or too slowly, against the real `trainyard serve`:
//! none of them may keep a signed delivery out or hold the server's memory. The server runs
//! with small limits so each story takes seconds.

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::process::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trainyard::inbound::github::signature;
use trainyard::settings::Secret;
use trainyard::store::Db;

const SECRET: &str = "hostile-clients-secret";

/// The server may open this many files: its connection cap is this less 128 (32).
const OPEN_FILES: u32 = 160;
const CAP: usize = 32;

async fn start(dir: &Path) -> Server {
    let key = format!("{}/fixtures/keys/test-app.pem", env!("CARGO_MANIFEST_DIR"));
    Server::start_with_open_files(
        dir,
        OPEN_FILES,
        &[
            ("TRAINYARD_GITHUB_APP_ID", "42"),
            ("TRAINYARD_GITHUB_PRIVATE_KEY_PATH", &key),
            ("TRAINYARD_GITHUB_WEBHOOK_SECRET", SECRET),
            // Nothing listens there: the jobs fail quietly, the intake is what is tested.
            ("TRAINYARD_GITHUB_API_URL", "http://127.0.0.1:9"),
            ("TRAINYARD_HEADER_TIMEOUT_SECS", "1"),
            ("TRAINYARD_REQUEST_TIMEOUT_SECS", "2"),
            ("TRAINYARD_BODIES_IN_FLIGHT", "8"),
            ("TRAINYARD_LARGE_BODY_BUDGET_MIB", "1"),
        ],
    )
    .await
}

fn address(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// A signed `issue_comment` delivery, as GitHub sends it; returns the status and how long
/// the answer took.
async fn deliver(server: &Server, delivery: &str) -> (u16, Duration) {
    let body = std::fs::read(format!(
        "{}/fixtures/github-webhooks/issue_comment/created.payload.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let started = Instant::now();
    trainyard::chat::install_tls_provider();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/github", server.base))
        .header("content-type", "application/json")
        .header("x-github-event", "issue_comment")
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            signature::sign(&Secret::new(SECRET), &body),
        )
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("an answer");
    (response.status().as_u16(), started.elapsed())
}

/// Reads until the server closes the connection; returns what it said and when it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut said = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Err(_) => panic!(
                "still open after {within:?}; it said {:?}",
                String::from_utf8_lossy(&said)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => said.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&said).into_owned(),
        started.elapsed(),
    )
}

/// The deliveries the server recorded, read from its store after it stopped.
async fn recorded_deliveries(dir: &Path) -> Vec<String> {
    let db = Db::connect(&format!("sqlite://{}", dir.join("trainyard.db").display()))
        .await
        .expect("store");
    let rows: Vec<(String,)> = sqlx::query_as("SELECT delivery_id FROM deliveries ORDER BY 1")
        .fetch_all(db.pool())
        .await
        .expect("deliveries");
    rows.into_iter().map(|(id,)| id).collect()
}

fn headers(content_length: usize) -> String {
    format!(
        "POST /webhooks/github HTTP/1.1\r\nhost: trainyard\r\ncontent-type: application/json\r\n\
         x-github-event: issue_comment\r\nx-github-delivery: hostile\r\n\
         x-hub-signature-256: sha256=00\r\ncontent-length: {content_length}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;

    let mut silent = TcpStream::connect(address(&server)).await.expect("connect");
    let mut slow = TcpStream::connect(address(&server)).await.expect("connect");
    slow.write_all(b"POST /webhooks/github HTTP/1.1\r\nhost: trainyard\r\n")
        .await
        .expect("write");

    let (said, after) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(after < Duration::from_secs(3), "closed after {after:?}");
    assert!(!said.contains("202"), "{said}");
    let (_, after) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(after < Duration::from_secs(3), "closed after {after:?}");

    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert!(recorded_deliveries(dir.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_silent_connections_does_not_keep_a_delivery_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;

    // More connections than the server may open files, each sending half a header line and
    // then nothing.
    let mut crowd = Vec::new();
    for _ in 0..OPEN_FILES as usize + CAP {
        let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
        let _ = stream
            .write_all(b"POST /webhooks/github HTTP/1.1\r\nhost")
            .await;
        crowd.push(stream);
    }
    for n in 0..5 {
        let (status, took) = deliver(&server, &format!("crowded-{n}")).await;
        assert_eq!(status, 202);
        assert!(took < Duration::from_secs(1), "answered after {took:?}");
    }

    drop(crowd);
    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert_eq!(
        recorded_deliveries(dir.path()).await,
        [
            "crowded-0",
            "crowded-1",
            "crowded-2",
            "crowded-3",
            "crowded-4"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;

    let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
    stream
        .write_all(headers(30_000_000).as_bytes())
        .await
        .expect("write");
    let (said, after) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(said.starts_with("HTTP/1.1 413"), "{said}");
    assert!(said.contains("at most 26214400 bytes"), "{said}");
    assert!(after < Duration::from_secs(1), "answered after {after:?}");

    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert!(recorded_deliveries(dir.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_unverified_bodies_past_the_budget_are_turned_away_while_deliveries_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let large = 700 * 1024; // over the 256 KiB line; two do not fit the 1 MiB budget

    let mut first = TcpStream::connect(address(&server)).await.expect("connect");
    first
        .write_all(headers(large).as_bytes())
        .await
        .expect("write");
    first.write_all(&[b' '; 1024]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut second = TcpStream::connect(address(&server)).await.expect("connect");
    second
        .write_all(headers(large).as_bytes())
        .await
        .expect("write");
    let (said, after) = read_until_closed(&mut second, Duration::from_secs(5)).await;
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(
        said.to_ascii_lowercase().contains("retry-after: 1"),
        "{said}"
    );
    assert!(after < Duration::from_secs(1), "answered after {after:?}");

    let (status, _) = deliver(&server, "beside-the-large-ones").await;
    assert_eq!(status, 202);

    // The first finishes its body: read, then refused for its signature.
    first
        .write_all(&vec![b' '; large - 1024])
        .await
        .expect("write");
    let mut answer = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), first.read(&mut answer))
        .await
        .expect("an answer")
        .expect("read");
    let said = String::from_utf8_lossy(&answer[..n]);
    assert!(said.starts_with("HTTP/1.1 401"), "{said}");

    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert_eq!(
        recorded_deliveries(dir.path()).await,
        ["beside-the-large-ones"]
    );
}

/// A crowd from one address keeps trickling bodies (a byte every 200 ms, reconnecting when
/// cut), as a slow-loris client would; deliveries from another address still get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_trickling_bodies_from_one_address_leaves_room_for_deliveries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let target: std::net::SocketAddr = address(&server).parse().expect("address");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut crowd = Vec::new();
    // Twelve connections at a time from 127.0.0.2, against 8 bodies read at once.
    for _ in 0..12 {
        let stop = stop.clone();
        crowd.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                socket
                    .bind("127.0.0.2:0".parse().expect("address"))
                    .expect("bind 127.0.0.2");
                let Ok(mut stream) = socket.connect(target).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if stream.write_all(headers(100_000).as_bytes()).await.is_err() {
                    continue;
                }
                while !stop.is_cancelled() && stream.write_all(b" ").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut took = Vec::new();
    for n in 0..40 {
        let (status, after) = deliver(&server, &format!("through-the-crowd-{n}")).await;
        assert_eq!(status, 202, "delivery {n} after {after:?}");
        took.push(after);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    for task in crowd {
        task.abort();
    }
    took.sort();
    let p99 = took[took.len() * 99 / 100 - 1];
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}: {took:?}");

    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert_eq!(recorded_deliveries(dir.path()).await.len(), 40);
}

/// A route whose integration is not configured answers at once, reading none of the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_route_answers_before_reading_a_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
    stream
        .write_all(
            b"POST /slack/commands HTTP/1.1\r\nhost: trainyard\r\n\
              content-type: application/x-www-form-urlencoded\r\ncontent-length: 50000\r\n\r\n",
        )
        .await
        .expect("write");
    let mut answer = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .expect("read");
    let said = String::from_utf8_lossy(&answer[..n]);
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.contains("TRAINYARD_SLACK_SIGNING_SECRET"), "{said}");
    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_cut_off_after_its_first_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;

    let mut stream = TcpStream::connect(address(&server)).await.expect("connect");
    stream
        .write_all(headers(100).as_bytes())
        .await
        .expect("write");
    stream.write_all(b"{\"action\":").await.expect("write");
    // Ten bytes then nothing: under the minimum rate once the first second is over, well
    // before the 2 s request deadline.
    let (said, after) = read_until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("slower than 1024 bytes a second"), "{said}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(1900),
        "cut off after {after:?}"
    );

    let (output_status, output) = server.terminate();
    assert!(output_status.success(), "{output}");
    assert!(recorded_deliveries(dir.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_does_not_queue_behind_the_intake_for_the_store() {
    use tower::ServiceExt;
    let test = harness::TestDb::sqlite().await;
    let settings = trainyard::settings::Settings::resolve(Default::default()).expect("settings");
    let clock = std::sync::Arc::new(trainyard::clock::SystemClock);
    let app = trainyard::app::AppState::new(settings, test.db.clone(), clock).expect("state");
    let readyz = || async {
        let request = http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .expect("request");
        let answer = trainyard::app::router(app.clone()).oneshot(request);
        tokio::time::timeout(Duration::from_secs(1), answer)
            .await
            .expect("answered within a second")
            .expect("answer")
            .status()
    };
    assert_eq!(readyz().await, 200);

    // SQLite has one connection; the intake holds it.
    let held = test.db.pool().acquire().await.expect("the only connection");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        assert_eq!(readyz().await, 200);
    }
    drop(held);
}
