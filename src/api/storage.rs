//! The Supabase Storage API client ([`StorageApi`]): the generated client at
//! `<supabase_url>/storage/v1` (buckets, listing, signing, metadata) plus the
//! hand-written object upload and download, which stream a local file and
//! keep the `/` of object keys as path separators.

use std::path::{Path, PathBuf};

use futures::TryStream;
use reqwest::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use supabase_mcp_generated::storage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use super::auth::service_key_headers;
use super::error::{ApiError, Service};
use super::http::{Api, ApiConfig, base_str, base_url, build_http_client, with_retry};
use crate::secret::{Redactor, Secret};

/// The Supabase Storage API behind the service role key.
pub type StorageApi = Api<storage::Client>;

/// Size of the chunks read from a file being uploaded.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// How an upload behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOptions {
    /// Content type stored with the object, such as `image/png`.
    pub content_type: String,
    /// Replace an existing object (`x-upsert: true`). An upsert is safe to
    /// repeat, so it is also retried on 429/503; a plain upload is not.
    pub upsert: bool,
    /// `Cache-Control` stored with the object, such as `max-age=3600`.
    pub cache_control: Option<String>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            content_type: "application/octet-stream".to_owned(),
            upsert: false,
            cache_control: None,
        }
    }
}

/// Which download route to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ObjectRoute {
    /// `GET /object/{bucket}/{key}`.
    #[default]
    Direct,
    /// `GET /object/authenticated/{bucket}/{key}`.
    Authenticated,
    /// `GET /object/public/{bucket}/{key}` (public buckets only).
    Public,
}

impl ObjectRoute {
    fn segments(self) -> &'static [&'static str] {
        match self {
            ObjectRoute::Direct => &["object"],
            ObjectRoute::Authenticated => &["object", "authenticated"],
            ObjectRoute::Public => &["object", "public"],
        }
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub path: PathBuf,
    pub bytes: u64,
    pub content_type: Option<String>,
}

impl Api<storage::Client> {
    /// Builds the client for the project or instance at `supabase_url`.
    pub fn new(
        supabase_url: &str,
        service_role_key: &Secret,
        config: &ApiConfig,
        redactor: &Redactor,
    ) -> Result<Self, ApiError> {
        let service = Service::Storage;
        let url = base_url(service, supabase_url, "/storage/v1")?;
        let http = build_http_client(
            service,
            config,
            &service_key_headers(service_role_key),
            redactor,
        )?;
        let client = storage::Client::new_with_client(&base_str(&url), http.clone());
        Ok(Self::from_parts(
            client,
            http,
            url,
            service,
            config.clone(),
            redactor.clone(),
        ))
    }

    /// URL of an object under `route` segments (such as `["object", "sign"]`):
    /// the bucket, then each `/`-separated part of the key, each
    /// percent-encoded on its own so the slashes stay path separators.
    pub fn object_url(&self, route: &[&str], bucket: &str, key: &str) -> Result<Url, ApiError> {
        let service = self.service();
        if bucket.is_empty() || bucket.contains('/') {
            return Err(ApiError::invalid_request(
                service,
                format!("bucket name '{bucket}' must be non-empty and contain no '/'"),
            ));
        }
        if key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(ApiError::invalid_request(
                service,
                format!(
                    "object key '{key}' is not valid: it must not start or end with '/', nor \
                     contain '//', '.' or '..' parts"
                ),
            ));
        }
        Ok(self.url_with(
            route
                .iter()
                .copied()
                .chain(std::iter::once(bucket))
                .chain(key.split('/')),
        ))
    }

    /// Uploads the local file `source` as `bucket/key` with
    /// `POST /object/{bucket}/{key}`, streaming it from disk. Returns the
    /// service's JSON answer (`Key`, `Id`).
    pub async fn upload_object(
        &self,
        bucket: &str,
        key: &str,
        source: &Path,
        options: &UploadOptions,
    ) -> Result<serde_json::Value, ApiError> {
        let url = self.object_url(&["object"], bucket, key)?;
        let limit = self.config().transfer_timeout;
        let service = self.service();
        let url = &url;
        with_retry(&self.config().retry, options.upsert, move || async move {
            let attempt = async move {
                let (body, len) = self.open_upload(source).await?;
                let mut request = self
                    .http()
                    .post(url.clone())
                    .header(CONTENT_TYPE, options.content_type.as_str())
                    .header(CONTENT_LENGTH, len)
                    .header("x-upsert", if options.upsert { "true" } else { "false" })
                    .body(body);
                if let Some(cc) = &options.cache_control {
                    request = request.header(CACHE_CONTROL, cc.as_str());
                }
                let response = self.send(request).await?;
                response
                    .json::<serde_json::Value>()
                    .await
                    .map_err(|e| ApiError::from_reqwest(service, e, self.redactor()))
            };
            tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| Err(ApiError::timeout(service, limit)))
        })
        .await
    }

    async fn open_upload(&self, source: &Path) -> Result<(reqwest::Body, u64), ApiError> {
        let what = format!("could not read '{}' for the upload", source.display());
        let file = tokio::fs::File::open(source)
            .await
            .map_err(|e| ApiError::io(self.service(), &what, &e, self.redactor()))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| ApiError::io(self.service(), &what, &e, self.redactor()))?;
        if !meta.is_file() {
            return Err(ApiError::Io {
                service: self.service(),
                message: format!("'{}' is not a regular file", source.display()),
            });
        }
        Ok((reqwest::Body::wrap_stream(file_chunks(file)), meta.len()))
    }

    /// Downloads `bucket/key` into the local file `dest`. The data goes to
    /// `<dest>.partial` first and is renamed into place only when complete,
    /// so a failed or interrupted download leaves no file behind (and an
    /// existing `dest` untouched). Retried on 429/503.
    pub async fn download_object(
        &self,
        bucket: &str,
        key: &str,
        dest: &Path,
        route: ObjectRoute,
    ) -> Result<Download, ApiError> {
        let url = self.object_url(route.segments(), bucket, key)?;
        let partial = partial_path(dest).ok_or_else(|| {
            ApiError::invalid_request(
                self.service(),
                format!("destination '{}' has no file name", dest.display()),
            )
        })?;
        let limit = self.config().transfer_timeout;
        let service = self.service();
        let (url, partial) = (&url, &partial);
        with_retry(&self.config().retry, true, move || async move {
            let attempt = self.download_once(url, dest, partial);
            tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| Err(ApiError::timeout(service, limit)))
        })
        .await
    }

    async fn download_once(
        &self,
        url: &Url,
        dest: &Path,
        partial: &Path,
    ) -> Result<Download, ApiError> {
        let service = self.service();
        let mut response = self.send(self.http().get(url.clone())).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let io_err =
            |what: &str, e: std::io::Error| ApiError::io(service, what, &e, self.redactor());
        let write_what = format!("could not write '{}'", partial.display());
        let guard = PartialFile::new(partial.to_owned());
        let mut file = tokio::fs::File::create(partial)
            .await
            .map_err(|e| io_err(&write_what, e))?;
        let mut bytes = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ApiError::from_reqwest(service, e, self.redactor()))?
        {
            file.write_all(&chunk)
                .await
                .map_err(|e| io_err(&write_what, e))?;
            bytes += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| io_err(&write_what, e))?;
        file.sync_all().await.map_err(|e| io_err(&write_what, e))?;
        drop(file);
        tokio::fs::rename(partial, dest).await.map_err(|e| {
            io_err(
                &format!("could not move the download into '{}'", dest.display()),
                e,
            )
        })?;
        guard.keep();
        Ok(Download {
            path: dest.to_owned(),
            bytes,
            content_type,
        })
    }
}

/// `<dest>.partial`, next to `dest`.
fn partial_path(dest: &Path) -> Option<PathBuf> {
    let mut name = dest.file_name()?.to_os_string();
    name.push(".partial");
    Some(dest.with_file_name(name))
}

/// Removes a partly written download when dropped, unless kept. Covers
/// errors and a timeout or cancellation dropping the download future.
struct PartialFile {
    path: PathBuf,
    armed: bool,
}

impl PartialFile {
    fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A file as a stream of chunks, for a streamed request body.
fn file_chunks(
    file: tokio::fs::File,
) -> impl TryStream<Ok = Vec<u8>, Error = std::io::Error, Item = Result<Vec<u8>, std::io::Error>>
+ Send
+ 'static {
    futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((buf, file)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_path_appends_suffix() {
        assert_eq!(
            partial_path(Path::new("/tmp/a.png")),
            Some(PathBuf::from("/tmp/a.png.partial"))
        );
        assert_eq!(partial_path(Path::new("/")), None);
    }

    #[test]
    fn object_urls_keep_slashes_and_encode_segments() {
        let api = StorageApi::new(
            "http://localhost:1",
            &Secret::new("service-key-for-tests"),
            &ApiConfig::default(),
            &Redactor::new(),
        )
        .unwrap();
        let url = api
            .object_url(&["object"], "avatars", "folder/a b/c%d?.png")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://localhost:1/storage/v1/object/avatars/folder/a%20b/c%25d%3F.png"
        );
        assert!(api.object_url(&["object"], "b", "/abs").is_err());
        assert!(api.object_url(&["object"], "b", "a//b").is_err());
        assert!(api.object_url(&["object"], "b", "a/../b").is_err());
        assert!(api.object_url(&["object"], "a/b", "k").is_err());
    }
}
