//! A full disk, for real: the storage on a tmpfs of a few MB (root mounts
//! it), filled with a file while runs are queued. Runs still start in
//! their queue order once space is back, the output that could not be
//! written is marked as lost in the run's record and in `GET log`, and
//! `/healthz` says `degraded` (with why) while the disk is full and `ok`
//! again afterwards, with no restart.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use scriptd::events::types::Outcome;

use crate::helpers::{eventually, eventually_async, is_root, spawn_app_with, Api};

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: PathBuf, size: &str) -> SmallDisk {
        assert!(
            is_root(),
            "THIS TEST NEEDS ROOT to mount a small tmpfs as the storage (CI runs as \
             root). Run `sudo -E cargo test --test api disk_full`."
        );
        std::fs::create_dir_all(&dir).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("THIS TEST NEEDS the `mount` command (util-linux)");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        SmallDisk { dir }
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
        // A last few bytes, so not even a partial block is left.
        while file.write_all(&chunk[..512]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

async fn health(api: &Api) -> Value {
    let (code, body) = api.call_with("GET", "/healthz", None, None).await;
    assert_eq!(code, 200, "{body}");
    body
}

fn order(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn a_full_disk_keeps_queue_order_marks_lost_logs_and_degrades_health() {
    // Arrange
    let temp = tempfile::tempdir().expect("temp");
    if !crate::helpers::root_or_skip(
        "a_full_disk_keeps_queue_order_marks_lost_logs_and_degrades_health",
    ) {
        return;
    }
    let disk = SmallDisk::mount(temp.path().join("disk"), "8m");
    let out = temp.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let storage = disk.dir.join("storage");
    let dir = storage.clone();
    let app = spawn_app_with(|c| {
        c.storage = dir;
        c.min_free_bytes = 1024 * 1024;
    })
    .await;
    let exectab = storage.join("1/scripts/exectab.txt");
    std::fs::write(
        &exectab,
        format!(
            "job /bin/sh -c \"echo $1 >> {o}/order; echo output-of-$1; \
         if [ $1 = 1 ]; then while [ ! -e {o}/gate ]; do sleep 0.05; done; fi\" sh @@1\n",
            o = out.display()
        ),
    )
    .expect("exectab");
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(
            app.run(json!({"name": "job", "args": [n.to_string()]}))
                .await,
        );
    }
    eventually("run 1 to start", || {
        (order(&out.join("order")) == ["1"]).then_some(())
    })
    .await;
    assert_eq!(
        health(&app).await["status"],
        "ok",
        "healthy before the disk fills"
    );

    // Act: the disk fills while run 1 runs; then run 1 ends.
    let filler = disk.fill();
    let degraded = health(&app).await;
    std::fs::write(out.join("gate"), "").expect("gate");
    eventually_async("the store to report that it cannot write", || async {
        let body = health(&app).await;
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database cannot be written"))
    })
    .await;
    std::fs::remove_file(&filler).expect("free the disk");

    // Assert
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert!(
        degraded["reason"]
            .as_str()
            .is_some_and(|r| r.contains("low disk space")),
        "{degraded}"
    );
    eventually_async("healthz to recover without a restart", || async {
        health(&app).await["status"] == "ok"
    })
    .await;
    for id in &ids {
        assert_eq!(app.wait_done(id).await.outcome, Outcome::Success);
    }
    let expected: Vec<String> = (1..=7).map(|n| n.to_string()).collect();
    assert_eq!(order(&out.join("order")), expected, "queue order kept");
    let first = app.status(&ids[0]).await;
    assert!(
        first["log_error"].as_str().is_some_and(|e| !e.is_empty()),
        "the lost output is on record: {first}"
    );
    let log = app.log(&ids[0]).await;
    assert!(
        log.contains("[scriptd: output missing"),
        "GET log says so: {log:?}"
    );
    let later = app.log(&ids[6]).await;
    assert_eq!(later, "output-of-7\n", "later logs are whole");
}
