//! The real `scriptd serve` as a child process on a temp storage directory,
//! restartable on the same port (the page must reconnect to it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long any wait in these tests may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Scripts the tests use besides the seeded `demo`.
const EXECTAB: &str = "\
sleep /bin/sleep @@1
html /bin/sh @@STORAGE@@/html.sh
";

/// Prints HTML that would run code if the page ever treated output as HTML.
const HTML_SCRIPT: &str = r#"echo 'first <b>bold</b>'
echo '<img src=x onerror="window.__pwned=1">'
echo '<script>window.__pwned=2</script>'
"#;

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    storage: TempDir,
}

impl Server {
    /// Starts a server on a fresh storage directory with the test scripts.
    pub fn start() -> Server {
        let storage = tempfile::tempdir().expect("temp storage");
        let (child, port) = spawn(storage.path(), 0);
        let server = Server {
            child: Some(child),
            port,
            storage,
        };
        let root = server.storage.path();
        std::fs::write(root.join("html.sh"), HTML_SCRIPT).expect("html.sh");
        let exectab = root.join("1").join("scripts").join("exectab.txt");
        let seeded = std::fs::read_to_string(&exectab).expect("seeded exectab");
        let extra = EXECTAB.replace("@@STORAGE@@", &root.display().to_string());
        std::fs::write(&exectab, format!("{seeded}\n{extra}")).expect("exectab");
        server
    }

    /// Adds `lines` to the admin's exectab (the server reads it again
    /// within a second).
    pub fn add_to_exectab(&self, lines: &str) {
        let exectab = self
            .storage
            .path()
            .join("1")
            .join("scripts")
            .join("exectab.txt");
        let old = std::fs::read_to_string(&exectab).expect("exectab");
        std::fs::write(&exectab, format!("{old}{lines}")).expect("exectab");
    }

    /// The first-run admin key.
    pub fn admin_key(&self) -> String {
        let path = self.storage.path().join("admin.key");
        std::fs::read_to_string(path)
            .expect("admin.key")
            .trim()
            .to_owned()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let start = Instant::now();
            while child.try_wait().expect("wait scriptd").is_none() {
                assert!(
                    start.elapsed() < DEADLINE,
                    "scriptd did not stop on SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts the server again on the same storage and port.
    pub fn restart(&mut self) {
        self.stop();
        let (child, port) = spawn(self.storage.path(), self.port);
        assert_eq!(port, self.port, "restarted on the same port");
        self.child = Some(child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scriptd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_scriptd"))
}

/// Where failure screenshots go: `target/browser-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let bin = scriptd_binary();
    let target = bin
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("target"));
    target.join("browser-screenshots")
}

/// Spawns `scriptd serve` and waits for the port it listens on.
fn spawn(storage: &Path, port: u16) -> (Child, u16) {
    let mut command = Command::new(scriptd_binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("SCRIPTD_") {
            command.env_remove(name);
        }
    }
    let listen = format!("127.0.0.1:{port}");
    let mut child = command
        .args(["serve", "--storage"])
        .arg(storage)
        .args(["--listen", &listen])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scriptd starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining after the port is known so the server never blocks
        // on a full pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some((_, rest)) = line.split_once("listening on http://127.0.0.1:") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse::<u16>() {
                    let _ = tx.send(port);
                }
            }
        }
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            panic!("scriptd did not report its port within {DEADLINE:?}");
        }
    }
}
