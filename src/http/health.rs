//! `GET /healthz`: `ok`, or `degraded` with the reason while the store
//! cannot write or the storage is short of free space. The server still
//! answers while degraded (reads work, and writes are retried), so this is
//! a warning for operators, not an outage.

use super::AppState;
use crate::wire::{Health, HealthReply, Success};
use actix_web::{web, HttpResponse};

/// `/healthz`.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let mut reasons = Vec::new();
    if let Some(error) = state.metrics.store_error() {
        reasons.push(format!("the database cannot be written: {error}"));
    }
    let storage = &state.config.storage;
    match nix::sys::statvfs::statvfs(storage) {
        Ok(fs) => {
            let free = fs.blocks_available().saturating_mul(fs.fragment_size());
            let min = state.config.min_free_bytes;
            if free < min {
                reasons.push(format!(
                    "low disk space: {free} bytes free for {}, below min_free_bytes ({min})",
                    storage.display()
                ));
            }
        }
        Err(errno) => reasons.push(format!(
            "cannot read the free space of {}: {}",
            storage.display(),
            errno.desc()
        )),
    }
    let (status, reason) = match reasons.is_empty() {
        true => (Health::Ok, None),
        false => (Health::Degraded, Some(reasons.join("; "))),
    };
    HttpResponse::Ok().json(HealthReply {
        reason,
        status,
        success: Success,
    })
}
