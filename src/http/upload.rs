//! XEP-0363's HTTP side at `/upload/ID/NAME`: the PUT of a slot the
//! gateway granted (its signature checked with the shared key, see
//! [`crate::slot`]) and the GET of the file. A file is written to a
//! temporary directory and renamed into place once complete, so a half
//! upload is never served; a sweep deletes files older than `expire_days`.
//! Every answer carries CORS headers and `OPTIONS` answers the preflight:
//! the chat widget runs on the company's site, another origin. No cookie
//! or credential is involved (the URL is the capability), so any origin
//! may use a slot it was given.
//!
//! On disk: `DIR/ID/data` (the bytes) and `DIR/ID/meta` (name, type, size,
//! when), made in `DIR/.incoming/` first.

use std::collections::HashSet;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

use super::{Client, HttpContext};
use crate::config::Upload;
use crate::session::SessionRouter;
use crate::slot::{self, Slot, SlotKey};

/// A body that sends nothing for this long is given up.
const BODY_IDLE: Duration = Duration::from_secs(30);
const INCOMING: &str = ".incoming";

/// The upload store the handlers share.
pub(super) struct Files {
    config: Upload,
    key: SlotKey,
    /// Slots whose PUT is under way: a second one at once is a conflict.
    busy: Mutex<HashSet<String>>,
}

impl Files {
    pub(super) fn new(config: Upload, key: SlotKey) -> Files {
        Files {
            config,
            key,
            busy: Mutex::default(),
        }
    }
}

/// What `meta` says of a stored file.
#[derive(Serialize, Deserialize)]
struct Meta {
    name: String,
    #[serde(rename = "type")]
    content_type: String,
    size: u64,
    uploaded_ms: i64,
}

/// Marks a slot busy until dropped.
struct Busy<'a> {
    files: &'a Files,
    id: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.files.busy.lock().expect("busy slots").remove(&self.id);
    }
}

fn cors(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// A refusal: the status, a line of text, and a log line.
fn refuse(status: StatusCode, client: &Client, why: &str) -> Response {
    info!(client = %client.addr, status = status.as_u16(), "upload refused: {why}");
    cors((status, format!("{why}\n")).into_response())
}

/// `OPTIONS`: the CORS preflight of a PUT (or GET) from another origin.
pub(super) async fn preflight() -> Response {
    let mut r = cors(StatusCode::NO_CONTENT.into_response());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, PUT, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

pub(super) async fn put<R: SessionRouter>(
    State(ctx): State<Arc<HttpContext<R>>>,
    Extension(client): Extension<Client>,
    Path((id, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(files) = ctx.uploads.as_ref() else {
        return refuse(StatusCode::NOT_FOUND, &client, "no upload service here");
    };
    let parsed = Slot::from_put(&id, &name, query.as_deref().unwrap_or(""));
    let Some((granted, _)) = parsed.filter(|(s, sig)| {
        slot::is_id(&s.id) && slot::bad_name(&s.name).is_none() && files.key.verify(s, sig)
    }) else {
        return refuse(
            StatusCode::FORBIDDEN,
            &client,
            "not a slot this server granted",
        );
    };
    let now_ms = crate::util::now_ms();
    if (now_ms / 1000).max(0) as u64 > granted.expires {
        return refuse(
            StatusCode::FORBIDDEN,
            &client,
            "the upload slot has expired",
        );
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let Some(length) = length else {
        return refuse(
            StatusCode::LENGTH_REQUIRED,
            &client,
            "send the file with a Content-Length",
        );
    };
    if length != granted.size || length > files.config.max_file_bytes {
        let why = format!(
            "the slot is for {} bytes (at most {}), not {length}",
            granted.size, files.config.max_file_bytes
        );
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, &client, &why);
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if sent_type.as_deref() != Some(granted.content_type.as_str()) {
        let why = format!("the slot is for Content-Type {}", granted.content_type);
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, &client, &why);
    }
    let dir = &files.config.directory;
    let fresh = files
        .busy
        .lock()
        .expect("busy slots")
        .insert(granted.id.clone());
    if !fresh
        || tokio::fs::try_exists(dir.join(&granted.id))
            .await
            .unwrap_or(true)
    {
        return refuse(StatusCode::CONFLICT, &client, "this slot was used already");
    }
    let _busy = Busy {
        files,
        id: granted.id.clone(),
    };
    let temp = dir
        .join(INCOMING)
        .join(format!("{}-{}", granted.id, slot::new_id()));
    match receive(body, &temp, &granted, now_ms).await {
        Ok(()) => {}
        Err(Failed::Client(status, why)) => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            return refuse(status, &client, &why);
        }
        Err(Failed::Disk(e)) => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            warn!(error = %e, dir = %dir.display(), "storing an upload failed");
            return cors(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the file was not stored\n",
                )
                    .into_response(),
            );
        }
    }
    // The whole file, or nothing: a directory is renamed at once.
    if let Err(e) = tokio::fs::rename(&temp, dir.join(&granted.id)).await {
        let _ = tokio::fs::remove_dir_all(&temp).await;
        return refuse(
            StatusCode::CONFLICT,
            &client,
            &format!("this slot was used already ({e})"),
        );
    }
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    info!(client = %client.addr, id = %granted.id, size = granted.size, "file uploaded");
    cors(StatusCode::CREATED.into_response())
}

enum Failed {
    Client(StatusCode, String),
    Disk(std::io::Error),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Disk(e)
    }
}

/// Writes the body (exactly the slot's size) and the meta into `temp`.
async fn receive(body: Body, temp: &FsPath, granted: &Slot, now_ms: i64) -> Result<(), Failed> {
    tokio::fs::create_dir_all(temp).await?;
    let mut file = tokio::fs::File::create(temp.join("data")).await?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                let why = "the upload stalled".to_string();
                return Err(Failed::Client(StatusCode::REQUEST_TIMEOUT, why));
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            Failed::Client(
                StatusCode::BAD_REQUEST,
                format!("the upload broke off: {e}"),
            )
        })?;
        written += chunk.len() as u64;
        if written > granted.size {
            let why = "more bytes than the slot's size".to_string();
            return Err(Failed::Client(StatusCode::PAYLOAD_TOO_LARGE, why));
        }
        file.write_all(&chunk).await?;
    }
    if written != granted.size {
        let why = format!("{written} bytes came of {}", granted.size);
        return Err(Failed::Client(StatusCode::BAD_REQUEST, why));
    }
    file.sync_all().await?;
    let meta = Meta {
        name: granted.name.clone(),
        content_type: granted.content_type.clone(),
        size: granted.size,
        uploaded_ms: now_ms,
    };
    let json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    let mut m = tokio::fs::File::create(temp.join("meta")).await?;
    m.write_all(&json).await?;
    m.sync_all().await?;
    Ok(())
}

pub(super) async fn get<R: SessionRouter>(
    State(ctx): State<Arc<HttpContext<R>>>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let not_found = || cors((StatusCode::NOT_FOUND, "no such file\n").into_response());
    let Some(files) = ctx.uploads.as_ref() else {
        return not_found();
    };
    if !slot::is_id(&id) {
        return not_found();
    }
    let at = files.config.directory.join(&id);
    let Some(meta) = read_meta(&at).await else {
        return not_found();
    };
    if meta.name != name || expired(&meta, &files.config, crate::util::now_ms()) {
        return not_found();
    }
    let Ok(file) = tokio::fs::File::open(at.join("data")).await else {
        return not_found();
    };
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
        match f.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok::<_, std::io::Error>(buf.freeze()), f)),
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut r = cors(Body::from_stream(stream).into_response());
    let h = r.headers_mut();
    let text = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    h.insert(header::CONTENT_TYPE, text(&meta.content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CONTENT_DISPOSITION, text(&disposition(&meta)));
    // Served from our origin: nothing in a file may run as a page of it.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    r
}

/// Images are shown in place; anything else is downloaded. SVG is not an
/// image here: it can carry script.
fn disposition(meta: &Meta) -> String {
    let inline = meta.content_type.starts_with("image/") && meta.content_type != "image/svg+xml";
    let ascii: String = meta
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        slot::encode(&meta.name)
    )
}

async fn read_meta(at: &FsPath) -> Option<Meta> {
    let bytes = tokio::fs::read(at.join("meta")).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn expired(meta: &Meta, config: &Upload, now_ms: i64) -> bool {
    meta.uploaded_ms + config.expire.as_millis() as i64 <= now_ms
}

/// Deletes files older than `expire_days`, and uploads abandoned half
/// way; returns how many it deleted.
pub async fn sweep(config: &Upload, now_ms: i64) -> usize {
    let mut gone = 0;
    let Ok(mut entries) = tokio::fs::read_dir(&config.directory).await else {
        return 0;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = if name == INCOMING {
            gone += sweep_incoming(&path, config).await;
            false
        } else if slot::is_id(&name) {
            match read_meta(&path).await {
                Some(meta) => expired(&meta, config, now_ms),
                // No meta: not ours to judge, unless very old.
                None => older_than(&path, config.expire).await,
            }
        } else {
            false
        };
        if stale && tokio::fs::remove_dir_all(&path).await.is_ok() {
            gone += 1;
        }
    }
    gone
}

/// Half uploads left by a crash: older than a slot's life and an hour.
async fn sweep_incoming(dir: &FsPath, config: &Upload) -> usize {
    let mut gone = 0;
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return 0;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path: PathBuf = entry.path();
        let age = config.slot + Duration::from_secs(3600);
        if older_than(&path, age).await && tokio::fs::remove_dir_all(&path).await.is_ok() {
            gone += 1;
        }
    }
    gone
}

async fn older_than(path: &FsPath, age: Duration) -> bool {
    let modified = tokio::fs::metadata(path).await.and_then(|m| m.modified());
    modified.is_ok_and(|t| t.elapsed().is_ok_and(|e| e > age))
}

/// Sweeps at start and every ten minutes until shutdown.
pub async fn sweep_loop(config: Upload, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        let gone = sweep(&config, crate::util::now_ms()).await;
        if gone > 0 {
            info!(files = gone, "expired uploads deleted");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
