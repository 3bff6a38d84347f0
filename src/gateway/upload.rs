//! XEP-0363 HTTP File Upload: the slot requests sent to the support
//! domain. Only a participant of an open session gets a slot: its customer
//! (by bare JID, whatever the channel) or the agent holding it live or
//! async. A grant is recorded in the session's transcript (who, the file,
//! its size and type, its link) before the slot is given; the HTTP front
//! (`http/upload.rs`) takes the file at the slot's signed PUT URL.

use jid::Jid;

use super::actor::{bare, Core};
use crate::config::{is_mime_type, Upload};
use crate::slot::{self, Slot, SlotKey};
use crate::store::{Direction, SessionState};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::{ns, Condition, Stanza};

/// What the gateway needs to grant slots.
#[derive(Debug, Clone)]
pub struct UploadService {
    pub config: Upload,
    /// Signs the PUT URLs; the HTTP front checks them with the same key.
    pub key: SlotKey,
    /// Where clients reach the HTTP front (`http://host:port`).
    pub base_url: String,
}

/// Whether an IQ carries a slot request.
pub(super) fn is_request(s: &Stanza) -> bool {
    s.kind() == crate::xml::Kind::Iq
        && s.element()
            .is_ok_and(|e| e.has_child("request", ns::HTTP_UPLOAD))
}

impl Core {
    /// A slot request (`<request filename size content-type/>`) to the
    /// support domain.
    pub(super) async fn upload_request(&mut self, from: &Jid, s: &Stanza) {
        let Some(up) = self.upload.clone() else {
            return self.bounce(s, Condition::ServiceUnavailable, None).await;
        };
        if s.type_() != Some("get") {
            return self
                .bounce(
                    s,
                    Condition::BadRequest,
                    Some("a slot is requested with type get"),
                )
                .await;
        }
        let Ok(tree) = s.element() else { return };
        let Some(req) = tree.get_child("request", ns::HTTP_UPLOAD) else {
            return;
        };
        let who = bare(from).to_string();
        let Some(session) = self.upload_session(&who) else {
            tracing::info!(from = %from, "upload slot refused: not in an open session");
            let why = "only the customer and the agent of an open session may upload files";
            return self.bounce(s, Condition::Forbidden, Some(why)).await;
        };
        let name = req.attr("filename").unwrap_or("").to_string();
        if let Some(why) = slot::bad_name(&name) {
            return self.bounce(s, Condition::BadRequest, Some(why)).await;
        }
        let Some(size) = req.attr("size").and_then(|v| v.trim().parse::<u64>().ok()) else {
            let why = "size must be the file's length in bytes";
            return self.bounce(s, Condition::BadRequest, Some(why)).await;
        };
        let content_type = match req.attr("content-type") {
            Some(t) => {
                let essence = t
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if !is_mime_type(&essence) {
                    let why = "content-type is not a MIME type";
                    return self.bounce(s, Condition::BadRequest, Some(why)).await;
                }
                essence
            }
            None => guess_type(&name).to_string(),
        };
        if size > up.config.max_file_bytes {
            return self.too_large(s, up.config.max_file_bytes).await;
        }
        if !up.config.allows(&content_type) {
            let why = format!(
                "files of type {content_type} are not accepted; allowed: {}",
                up.config.allowed_types.join(", ")
            );
            return self.bounce(s, Condition::NotAcceptable, Some(&why)).await;
        }
        let now = self.clock.now_ms();
        let granted = Slot {
            id: slot::new_id(),
            name,
            size,
            content_type,
            expires: (now / 1000).max(0) as u64 + up.config.slot.as_secs(),
        };
        let get = granted.get_url(&up.base_url);
        // The transcript keeps the link, stored before the slot is given
        // and after what the journal holds, so that it reads in order.
        self.journal.flush().await;
        let text = format!(
            "File {} ({} bytes, {}) shared by {who}: {get}",
            granted.name, granted.size, granted.content_type
        );
        let stored = self
            .state
            .store()
            .message_append(&session, Direction::Note, &who, Some(&text), "", now, true)
            .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, %session, "storing an upload grant failed");
            return self.bounce(s, Condition::InternalServerError, None).await;
        }
        tracing::info!(%session, from = %from, file = %granted.name, size, "upload slot granted");
        let slot_el = el("slot", ns::HTTP_UPLOAD)
            .append(
                el("put", ns::HTTP_UPLOAD)
                    .a("url", granted.put_url(&up.base_url, &up.key).as_str())
                    .build(),
            )
            .append(el("get", ns::HTTP_UPLOAD).a("url", get.as_str()).build())
            .build();
        let reply = el("iq", ns::CLIENT)
            .a("type", "result")
            .a("id", s.id().unwrap_or(""))
            .a("from", s.to().unwrap_or(&self.support))
            .a("to", s.from().unwrap_or(""))
            .append(slot_el);
        self.route(stanza(reply)).await;
    }

    /// The session a participant's upload belongs to: the customer's open
    /// session, or, for an agent, the live or async session they hold that
    /// was active last (a slot request does not say which chat the file is
    /// for).
    fn upload_session(&self, who: &str) -> Option<String> {
        if let Some(id) = self.state.session_of(who) {
            return Some(id.to_string());
        }
        self.state
            .sessions()
            .filter(|s| {
                s.agent() == Some(who)
                    && matches!(s.state(), SessionState::Live | SessionState::Async)
            })
            .max_by_key(|s| (s.last_activity_ms, s.rec().updated_at))
            .map(|s| s.id().to_string())
    }

    /// XEP-0363 §4: `not-acceptable` with the largest size allowed.
    async fn too_large(&self, s: &Stanza, max: u64) {
        let text = format!("File too large: the largest file accepted is {max} bytes");
        let error = el("error", ns::CLIENT)
            .a("type", "modify")
            .append(el("not-acceptable", ns::STANZA_ERRORS).build())
            .append(el("text", ns::STANZA_ERRORS).append(text).build())
            .append(
                el("file-too-large", ns::HTTP_UPLOAD)
                    .append(
                        el("max-file-size", ns::HTTP_UPLOAD)
                            .append(max.to_string())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let reply = el("iq", ns::CLIENT)
            .a("type", "error")
            .a("id", s.id().unwrap_or(""))
            .a("from", s.to().unwrap_or(&self.support))
            .a("to", s.from().unwrap_or(""))
            .append(error);
        self.route(stanza(reply)).await;
    }
}

/// The type of a file whose request names none, from its extension.
fn guess_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        _ => "application/octet-stream",
    }
}
