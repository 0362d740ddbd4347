//! S3-compatible object storage as a backup destination, against a real S3
//! server started by each test: `s3s-fs` (S3 over a temporary directory)
//! served by hyper on a random localhost port with static credentials, on a
//! runtime of its own so a test can stop it mid-request.
//!
//! `s3s-fs` checks `If-Match`/`If-None-Match` and then writes in a separate
//! step; S3 itself does both atomically. The test server's [`Faulty`] layer
//! runs object writes one at a time and reads beside them (an `RwLock`),
//! which gives it S3's atomicity; it also injects the faults the tests need
//! (a failing or hanging part, a server that ignores conditions).

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use s3s::auth::SimpleAuth;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, GetObjectInput,
    GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    ListObjectsV2Input, ListObjectsV2Output, PutObjectInput, PutObjectOutput, UploadPartInput,
    UploadPartOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use sha2::{Digest, Sha256};
use supabase_mcp::backup::manifest::{
    DumpFormat, Encryption, Entry, Kind, MANIFEST_FILE, Manifest, ManifestError,
};
use supabase_mcp::backup::s3::{PART_SIZE, S3Config, S3Destination, S3Error};
use tokio::sync::{Notify, RwLock};

const BUCKET: &str = "backups";
const ACCESS_KEY: &str = "test-access-key-id";
const SECRET_KEY: &str = "test-secret-key-5f3a9c1e7b2d";
/// A ~40 MB file: three parts of [`PART_SIZE`].
const BIG: u64 = 40_000_000;

/// Faults the test server injects.
#[derive(Default)]
struct Faults {
    /// Drop `If-Match`/`If-None-Match`, like a server without conditional writes.
    ignore_conditions: AtomicBool,
    /// Answer this part number with an error (0: none).
    fail_part: AtomicU32,
    /// Never answer this part number (0: none); `part_hangs` is notified.
    hang_part: AtomicU32,
    part_hangs: Notify,
    parts_received: AtomicUsize,
}

/// `s3s-fs` with atomic conditional writes and injected faults.
struct Faulty {
    inner: s3s_fs::FileSystem,
    faults: Arc<Faults>,
    objects: RwLock<()>,
}

#[async_trait::async_trait]
impl S3 for Faulty {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if self.faults.ignore_conditions.load(Ordering::SeqCst) {
            req.input.if_match = None;
            req.input.if_none_match = None;
        }
        let _write = self.objects.write().await;
        self.inner.put_object(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let _read = self.objects.read().await;
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let _read = self.objects.read().await;
        self.inner.head_object(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let _write = self.objects.write().await;
        self.inner.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let _write = self.objects.write().await;
        self.inner.delete_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.inner.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let part = u32::try_from(req.input.part_number).unwrap_or(0);
        self.faults.parts_received.fetch_add(1, Ordering::SeqCst);
        if part == self.faults.hang_part.load(Ordering::SeqCst) {
            self.faults.part_hangs.notify_one();
            std::future::pending::<()>().await;
        }
        if part == self.faults.fail_part.load(Ordering::SeqCst) {
            // Read the body first so the client gets a clean answer.
            if let Some(mut body) = req.input.body.take() {
                while body.next().await.is_some() {}
            }
            return Err(s3_error!(InvalidRequest, "injected failure of part {part}"));
        }
        self.inner.upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let _write = self.objects.write().await;
        self.inner.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.inner.abort_multipart_upload(req).await
    }
}

/// An S3 server on 127.0.0.1 serving `root` (bucket [`BUCKET`] is a
/// directory in it), on its own thread and runtime.
struct Server {
    addr: SocketAddr,
    root: PathBuf,
    faults: Arc<Faults>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(root: &Path) -> Server {
        Self::start_with(root, Arc::new(Faults::default()))
    }

    fn start_with(root: &Path, faults: Arc<Faults>) -> Server {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = {
            let fs = s3s_fs::FileSystem::new(root).unwrap();
            let mut b = S3ServiceBuilder::new(Faulty {
                inner: fs,
                faults: Arc::clone(&faults),
                objects: RwLock::new(()),
            });
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let serve = async move {
                    // Dropped on stop: every connection is cut.
                    let mut connections = tokio::task::JoinSet::new();
                    loop {
                        let Ok((socket, _)) = listener.accept().await else {
                            continue;
                        };
                        let service = service.clone();
                        connections.spawn(async move {
                            let io = hyper_util::rt::TokioIo::new(socket);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    () = serve => {}
                }
            });
            rt.shutdown_background();
        });
        Server {
            addr: addr_rx.recv().unwrap(),
            root: root.to_path_buf(),
            faults,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops accepting and cuts every open connection.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    fn config(&self, prefix: &str) -> S3Config {
        S3Config {
            url: format!("s3://{BUCKET}/{prefix}"),
            endpoint: Some(format!("http://{}", self.addr)),
            region: Some("us-east-1".into()),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            allow_http: true,
            force_path_style: true,
            max_retries: 2,
            request_timeout: Duration::from_secs(120),
            stall_timeout: Duration::from_secs(60),
        }
    }

    fn dest(&self, prefix: &str) -> S3Destination {
        S3Destination::new(&self.config(prefix)).unwrap()
    }

    /// Files of unfinished multipart uploads that s3s-fs keeps in its root.
    fn leftover_parts(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".upload_id-"))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes `len` pseudo-random bytes to `path`, returning their SHA-256.
fn write_random_file(path: &Path, len: u64, seed: u64) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut state = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n]).unwrap();
        hash.update(&chunk[..n]);
        left -= n as u64;
    }
    file.flush().unwrap();
    hex::encode(hash.finalize())
}

fn sha256_of(path: &Path) -> String {
    let mut hash = Sha256::new();
    let mut file = std::fs::File::open(path).unwrap();
    std::io::copy(&mut file, &mut hash).unwrap();
    hex::encode(hash.finalize())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn entry(id: &str) -> Entry {
    Entry {
        id: id.into(),
        instance: "prod".into(),
        database: "postgres".into(),
        created_at: Utc::now(),
        kind: Kind::Full,
        format: DumpFormat::Custom,
        server_version: "17.4".into(),
        pg_dump_version: "17.4".into(),
        extensions: vec![],
        raw_bytes: 10,
        stored_bytes: 5,
        sha256: "ab".repeat(32),
        file: format!("{id}.dump"),
        row_counts: Default::default(),
        compression: "zstd:3".into(),
        encryption: Encryption::None,
        tags: vec![],
        includes_roles: false,
        extra: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_and_download_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("nightly/prod");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("big.dump");
    let digest = write_random_file(&src, BIG, 7);
    assert!(
        BIG > 2 * PART_SIZE as u64,
        "the file must take several parts"
    );

    let seen = std::sync::Mutex::new(Vec::new());
    let sent = dest
        .upload_file(&src, "big.dump", |n| seen.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(sent, BIG);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 3, "one progress report per part: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&BIG));
    assert_eq!(server.faults.parts_received.load(Ordering::SeqCst), 3);

    let listed = dest.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, "big.dump");
    assert_eq!(listed[0].size, BIG);
    // s3s-fs lists no e-tags; where a server does, a multipart one ends in `-3`.
    if let Some(e_tag) = &listed[0].e_tag {
        assert!(e_tag.trim_matches('"').ends_with("-3"), "{e_tag}");
    }
    assert_eq!(dest.size("big.dump").await.unwrap(), BIG);
    assert!(server.leftover_parts().is_empty());

    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("restored.dump");
    std::fs::write(&out, b"an older file, replaced").unwrap();
    let got = dest.download_file("big.dump", &out).await.unwrap();
    assert_eq!(got, BIG);
    assert_eq!(sha256_of(&out), digest);
    assert_eq!(names_in(out_dir.path()), vec!["restored.dump"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_of_missing_object_is_not_found_and_leaves_no_file() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("p");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("x.dump");
    let err = dest.download_file("nope.dump", &out).await.unwrap_err();
    assert!(matches!(err, S3Error::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("s3://backups/p/nope.dump"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(names_in(out_dir.path()).is_empty());
    let err = dest.size("nope.dump").await.unwrap_err();
    assert!(matches!(err, S3Error::NotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_are_clear_errors_without_the_secret() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let wrong = "wrong-secret-never-shown-8c1d44";
    let mut config = server.config("p");
    config.secret_access_key = wrong.into();
    let dest = S3Destination::new(&config).unwrap();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("a.dump");
    std::fs::write(&src, b"backup bytes").unwrap();

    let errors = vec![
        dest.list().await.unwrap_err(),
        dest.size("a.dump").await.unwrap_err(),
        dest.upload_file(&src, "a.dump", |_| {}).await.unwrap_err(),
        dest.load_manifest().await.unwrap_err(),
        dest.download_file("a.dump", &work.path().join("b.dump"))
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        eprintln!("{err}");
        assert!(
            matches!(err.root_cause(), S3Error::SignatureMismatch { .. }),
            "{err:?}"
        );
        let shown = format!("{err} {err:?} {dest:?}");
        assert!(shown.contains("secret access key is wrong"), "{shown}");
        assert!(!shown.contains(wrong), "{shown}");
        assert!(!shown.contains(SECRET_KEY), "{shown}");
    }
    assert!(matches!(errors[2], S3Error::UploadFailed { .. }));

    let mut config = server.config("p");
    config.access_key_id = "AKIDUNKNOWN0000".into();
    let dest = S3Destination::new(&config).unwrap();
    let err = dest.check().await.unwrap_err();
    assert!(matches!(err, S3Error::UnknownAccessKey { .. }), "{err:?}");
    assert!(err.to_string().contains("check the access key id"), "{err}");
    assert!(!format!("{err} {err:?}").contains(SECRET_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_and_unreachable_endpoint_say_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let mut config = server.config("p");
    config.url = "s3://no-such-bucket/p".into();
    let dest = S3Destination::new(&config).unwrap();
    for err in [
        dest.check().await.unwrap_err(),
        dest.list().await.unwrap_err(),
        dest.size("a.dump").await.unwrap_err(),
    ] {
        eprintln!("{err}");
        assert!(matches!(err, S3Error::BucketNotFound { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("`no-such-bucket` does not exist"), "{msg}");
        assert!(msg.contains("create the bucket"), "{msg}");
    }

    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut config = server.config("p");
    config.endpoint = Some(format!("http://127.0.0.1:{port}"));
    config.max_retries = 0;
    let dest = S3Destination::new(&config).unwrap();
    let err = dest.check().await.unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, S3Error::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("cannot reach the S3 endpoint"), "{msg}");
    assert!(msg.contains(&port.to_string()), "{msg}");
    assert!(!msg.contains(SECRET_KEY), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_size_and_delete() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("team/prod");
    let other = server.dest("team/staging");
    let work = tempfile::tempdir().unwrap();
    for (name, len) in [("b.dump", 10usize), ("a.dump", 3), ("sub/c.dump", 0)] {
        let p = work.path().join("src");
        std::fs::write(&p, vec![b'x'; len]).unwrap();
        let reported = std::sync::Mutex::new(Vec::new());
        let sent = dest
            .upload_file(&p, name, |n| reported.lock().unwrap().push(n))
            .await
            .unwrap();
        assert_eq!(sent, len as u64);
        assert_eq!(reported.into_inner().unwrap(), vec![len as u64]);
    }
    std::fs::write(work.path().join("o"), b"other").unwrap();
    other
        .upload_file(&work.path().join("o"), "o.dump", |_| {})
        .await
        .unwrap();

    let listed = dest.list().await.unwrap();
    let names: Vec<(&str, u64)> = listed.iter().map(|o| (o.name.as_str(), o.size)).collect();
    assert_eq!(
        names,
        vec![("a.dump", 3), ("b.dump", 10), ("sub/c.dump", 0)]
    );
    let age = Utc::now() - listed[0].last_modified;
    assert!(
        age.num_seconds().abs() < 120,
        "{:?}",
        listed[0].last_modified
    );
    assert_eq!(dest.size("b.dump").await.unwrap(), 10);
    assert_eq!(dest.size("sub/c.dump").await.unwrap(), 0);

    dest.delete("b.dump").await.unwrap();
    dest.delete("b.dump").await.unwrap(); // already gone: fine
    let err = dest.size("b.dump").await.unwrap_err();
    assert!(matches!(err, S3Error::NotFound { .. }), "{err:?}");
    let names: Vec<String> = dest
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, vec!["a.dump", "sub/c.dump"]);
    assert_eq!(other.list().await.unwrap().len(), 1);

    for bad in ["", "../x", "a//b", "/abs"] {
        let err = dest.size(bad).await.unwrap_err();
        assert!(matches!(err, S3Error::InvalidName { .. }), "{bad}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_manifest_updates_lose_no_entry() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    assert!(
        server
            .dest("m")
            .supports_conditional_writes()
            .await
            .unwrap()
    );
    let (writers, per_writer) = (8, 5);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let dest = server.dest("m");
        tasks.spawn(async move {
            for i in 0..per_writer {
                let id = format!("w{w}-{i}");
                dest.update_manifest(|m| m.add(entry(&id))).await.unwrap();
            }
            dest.manifest_conflicts()
        });
    }
    let mut conflicts = 0;
    while let Some(n) = tasks.join_next().await {
        conflicts += n.unwrap();
    }
    let (manifest, version) = server.dest("m").load_manifest().await.unwrap();
    assert!(version.and_then(|v| v.e_tag).is_some());
    let ids: HashSet<&str> = manifest.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(manifest.entries.len(), writers * per_writer);
    assert_eq!(ids.len(), writers * per_writer);
    eprintln!("{conflicts} conditional writes lost a race and were retried");
    // Only the manifest is left: the probes' scratch objects are gone.
    let names: Vec<String> = server
        .dest("m")
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, vec![MANIFEST_FILE]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_update_retries_after_losing_a_race() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("m");
    dest.update_manifest(|m| m.add(entry("first")))
        .await
        .unwrap();
    let rival_config = server.config("m");
    let mut calls = 0;
    dest.update_manifest(|m| {
        calls += 1;
        if calls == 1 {
            // Another writer updates the manifest between our read and write.
            let config = rival_config.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let rival = S3Destination::new(&config).unwrap();
                    rival.update_manifest(|m| m.add(entry("rival"))).await
                })
            })
            .join()
            .unwrap()
            .unwrap();
        }
        m.add(entry("ours"))
    })
    .await
    .unwrap();
    assert_eq!(calls, 2, "the change runs again on the newer manifest");
    assert_eq!(dest.manifest_conflicts(), 1);
    let (manifest, _) = dest.load_manifest().await.unwrap();
    let ids: Vec<&str> = manifest.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["first", "rival", "ours"]);

    // A failing change writes nothing; an unchanged manifest is not rewritten.
    let err = dest
        .update_manifest(|m| {
            m.entries.clear();
            Err::<(), _>(ManifestError::NotFound("x".into()))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::Manifest(ManifestError::NotFound(_))));
    let (_, before) = dest.load_manifest().await.unwrap();
    dest.update_manifest(|m| Ok(m.entries.len())).await.unwrap();
    let (manifest, after) = dest.load_manifest().await.unwrap();
    assert_eq!(before, after);
    assert_eq!(manifest.entries.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_fallback_without_conditional_writes_loses_no_entry() {
    let root = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    faults.ignore_conditions.store(true, Ordering::SeqCst);
    let server = Server::start_with(root.path(), faults);
    assert!(
        !server
            .dest("m")
            .supports_conditional_writes()
            .await
            .unwrap()
    );
    let (writers, per_writer) = (8, 5);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let dest = server.dest("m");
        tasks.spawn(async move {
            for i in 0..per_writer {
                let id = format!("w{w}-{i}");
                dest.update_manifest(|m| m.add(entry(&id))).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let (manifest, _) = server.dest("m").load_manifest().await.unwrap();
    assert_eq!(manifest.entries.len(), writers * per_writer);
    let names: Vec<String> = server
        .dest("m")
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, vec![MANIFEST_FILE]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_manifest_is_an_error_and_is_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("m");
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("bad.json");
    std::fs::write(&bad, b"{\"version\": 1, \"entries\": [ {").unwrap();
    dest.upload_file(&bad, MANIFEST_FILE, |_| {}).await.unwrap();
    let err = dest.load_manifest().await.unwrap_err();
    assert!(
        matches!(err, S3Error::Manifest(ManifestError::Corrupt { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("s3://backups/m/manifest.json"),
        "{err}"
    );
    let err = dest
        .update_manifest(|m| m.add(entry("a")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        S3Error::Manifest(ManifestError::Corrupt { .. })
    ));
    let back = work.path().join("back.json");
    dest.download_file(MANIFEST_FILE, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&bad).unwrap());

    // The manifest written to S3 is the same format as on disk.
    dest.delete(MANIFEST_FILE).await.unwrap();
    dest.update_manifest(|m| m.add(entry("a"))).await.unwrap();
    dest.download_file(MANIFEST_FILE, &back).await.unwrap();
    let on_disk = Manifest::load(work.path()).unwrap_or_default();
    assert!(on_disk.entries.is_empty());
    let parsed = Manifest::from_json(&std::fs::read(&back).unwrap(), &back).unwrap();
    assert_eq!(parsed.entries[0].id, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_part_upload_leaves_no_object_and_no_parts() {
    let root = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    faults.fail_part.store(2, Ordering::SeqCst);
    let server = Server::start_with(root.path(), faults);
    let dest = server.dest("p");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("big.dump");
    write_random_file(&src, BIG, 11);
    let err = dest
        .upload_file(&src, "big.dump", |_| {})
        .await
        .unwrap_err();
    let S3Error::UploadFailed { cleanup, .. } = &err else {
        panic!("{err:?}");
    };
    eprintln!("{err}");
    assert!(cleanup.is_empty(), "the abort worked: {cleanup}");
    let msg = err.to_string();
    assert!(msg.contains("nothing was stored"), "{msg}");
    assert!(msg.contains("injected failure of part 2"), "{msg}");
    assert!(dest.list().await.unwrap().is_empty());
    assert!(
        server.leftover_parts().is_empty(),
        "{:?}",
        server.leftover_parts()
    );
    assert!(!root.path().join(BUCKET).join("p/big.dump").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stopped_mid_upload_leaves_no_object_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    faults.hang_part.store(2, Ordering::SeqCst);
    let mut server = Server::start_with(root.path(), Arc::clone(&faults));
    let dest = server.dest("p");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("big.dump");
    write_random_file(&src, BIG, 13);

    let upload = tokio::spawn(async move { dest.upload_file(&src, "big.dump", |_| {}).await });
    tokio::time::timeout(Duration::from_secs(60), faults.part_hangs.notified())
        .await
        .expect("part 2 reached the server");
    tokio::task::block_in_place(|| server.stop());
    let err = tokio::time::timeout(Duration::from_secs(90), upload)
        .await
        .expect("the upload gives up")
        .unwrap()
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        matches!(
            err.root_cause(),
            S3Error::Unreachable { .. } | S3Error::ConnectionLost { .. }
        ),
        "{err:?}"
    );
    assert!(msg.contains("nothing was stored"), "{msg}");
    // The server is gone, so the parts could not be removed: the error says
    // so and how to clean up.
    assert!(msg.contains("lifecycle rule"), "{msg}");
    assert!(!msg.contains(SECRET_KEY), "{msg}");

    let server = Server::start(root.path());
    let dest = server.dest("p");
    assert!(dest.list().await.unwrap().is_empty());
    assert!(matches!(
        dest.size("big.dump").await,
        Err(S3Error::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_truncated_during_upload_leaves_no_object() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("p");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("big.dump");
    write_random_file(&src, BIG, 17);
    let err = dest
        .upload_file(&src, "big.dump", |_| {
            // Another program cuts the file after the first part went up.
            let f = std::fs::OpenOptions::new().write(true).open(&src).unwrap();
            f.set_len(1 << 20).unwrap();
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.root_cause(), S3Error::FileChanged { expected: BIG, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("changed while it was being uploaded"),
        "{err}"
    );
    assert!(dest.list().await.unwrap().is_empty());
    assert!(
        server.leftover_parts().is_empty(),
        "{:?}",
        server.leftover_parts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_local_file_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path());
    let dest = server.dest("p");
    let gone = root.path().join("gone.dump");
    let err = dest
        .upload_file(&gone, "gone.dump", |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::Local { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("cannot open the file to upload"), "{msg}");
    assert!(msg.contains("gone.dump"), "{msg}");
    assert!(dest.list().await.unwrap().is_empty());
}

#[path = "common/mod.rs"]
mod common;

/// The backups tools with an S3 copy: a backup is uploaded and recorded in the
/// S3 manifest; with the local copy gone, verify and restore fetch it back;
/// delete removes both.
#[tokio::test(flavor = "multi_thread")]
async fn backup_tools_keep_an_s3_copy() {
    use serde_json::json;
    let root = tempfile::tempdir().unwrap();
    let s3 = Server::start(root.path());
    let db = supabase_mcp::pg::testdb::TestDb::with_sample_data()
        .await
        .unwrap();
    let admin = db.admin_url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{}", s3.addr);
    let backup_dir = dir.path().display().to_string();
    let mut mcp = common::Server::start_with_env(
        Some(db),
        &[
            "--features",
            "backups",
            "--backup-dir",
            &backup_dir,
            "--backup-s3-url",
            &format!("s3://{BUCKET}/nightly"),
            "--backup-s3-endpoint",
            &endpoint,
            "--backup-s3-allow-http",
        ],
        &[
            ("SUPABASE_MCP_BACKUP_S3_ACCESS_KEY_ID", ACCESS_KEY),
            ("SUPABASE_MCP_BACKUP_S3_SECRET_ACCESS_KEY", SECRET_KEY),
            ("SUPABASE_MCP_BACKUP_PASSPHRASE", "s3 test passphrase"),
        ],
    )
    .await;
    let r = mcp
        .call("backup_database", json!({"tags": ["offsite"]}))
        .await;
    assert_eq!(common::status(&r), "ok", "{r}");
    let d = common::data(&r).clone();
    let id = d["backup"]["id"].as_str().unwrap().to_owned();
    let file = d["backup"]["file"].as_str().unwrap().to_owned();
    assert_eq!(
        d["offsite"],
        json!(format!("s3://{BUCKET}/nightly/{file}")),
        "{d}"
    );
    let remote = s3.dest("nightly");
    let (m, _) = remote.load_manifest().await.unwrap();
    assert_eq!(m.entries.len(), 1);
    assert_eq!(m.entries[0].id, id);
    assert_eq!(
        remote.size(&file).await.unwrap(),
        d["backup"]["stored_bytes"].as_u64().unwrap()
    );
    let listed = mcp.call("list_backups", json!({"location": "s3"})).await;
    assert_eq!(common::data(&listed)["total"], 1, "{listed}");

    // The local copy is lost: verify and restore fetch it from S3.
    std::fs::remove_file(dir.path().join(&file)).unwrap();
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let v = mcp.call("verify_backup", json!({"id": id})).await;
    assert_eq!(common::status(&v), "ok", "{v}");
    assert!(dir.path().join(&file).is_file());
    let target = format!("{}_from_s3", mcp.db.as_ref().unwrap().name);
    let r = mcp
        .call("restore_backup", json!({"id": id, "new_database": target}))
        .await;
    assert_eq!(common::status(&r), "ok", "{r}");
    assert_eq!(common::data(&r)["row_counts_match"], true);
    let (c, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP DATABASE \"{target}\" WITH (FORCE)"))
        .await
        .unwrap();

    // delete_backup removes the local copy, the S3 object and both entries.
    let r = mcp.call("delete_backup", json!({"id": id})).await;
    let mut args = json!({"id": id});
    args["confirmation_token"] = common::data(&r)["confirmation_token"].clone();
    let r = mcp.call("delete_backup", args).await;
    assert_eq!(common::status(&r), "ok", "{r}");
    assert_eq!(common::data(&r)["offsite"], true);
    assert!(remote.load_manifest().await.unwrap().0.entries.is_empty());
    assert!(remote.size(&file).await.is_err());
    assert!(!dir.path().join(&file).exists());
}
