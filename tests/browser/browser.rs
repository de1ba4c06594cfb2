//! One chromedriver per test process, a headless Chromium session per test,
//! and the page helpers the tests use. A failing test saves a screenshot of
//! its page under `target/browser-screenshots/`.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::server::{screenshot_dir, DEADLINE};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "apt-get install chromium chromium-driver";

/// Browsers open at once: each is a few processes on a small CI machine.
static SLOTS: Semaphore = Semaphore::const_new(2);
static DRIVER: OnceLock<Result<u16, String>> = OnceLock::new();

/// The port of this process's chromedriver, started on first use.
fn driver_port() -> u16 {
    let port = DRIVER.get_or_init(start_driver);
    match port {
        Ok(port) => *port,
        Err(why) => panic!("{why}"),
    }
}

fn start_driver() -> Result<u16, String> {
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} is missing: the browser tests need Debian's Chromium and its \
                 WebDriver. Install them with `{INSTALL}` (as root), or run scripts/test, \
                 which installs them."
            ));
        }
    }
    let (tx, rx) = mpsc::channel();
    // chromedriver dies with the thread that forked it (PDEATHSIG): this
    // thread lives as long as the test process, so the driver does too and
    // no driver outlives the tests.
    std::thread::spawn(move || {
        let mut last = String::new();
        // A free port can be taken between choosing it and the driver
        // binding it: then try another.
        for _ in 0..3 {
            match spawn_driver() {
                Ok((child, port)) => {
                    let _ = tx.send(Ok(port));
                    let _keep = child;
                    loop {
                        std::thread::park();
                    }
                }
                Err(why) => last = why,
            }
        }
        let _ = tx.send(Err(last));
    });
    rx.recv_timeout(DEADLINE * 4)
        .map_err(|_| "chromedriver did not start in time".to_owned())?
}

/// Starts chromedriver on a free port and waits until it listens.
fn spawn_driver() -> Result<(Child, u16), String> {
    let port = free_port()?;
    let mut command = Command::new(CHROMEDRIVER);
    command
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("{CHROMEDRIVER} did not start: {err}"))?;
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("chromedriver exited ({status}) on port {port}"));
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("chromedriver did not listen on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, port))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

async fn open_browser() -> Client {
    let port = driver_port();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1400", "--no-first-run"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|err| panic!("Chromium session via chromedriver: {err}"))
}

/// A test's browser tab.
#[derive(Clone)]
pub struct Page {
    pub client: Client,
}

/// Runs `body` with a fresh browser; on failure saves a screenshot named
/// after the test, then fails the test with the original message.
pub async fn with_page<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()>,
{
    let _slot = SLOTS.acquire().await.expect("semaphore open");
    let client = open_browser().await;
    let page = Page {
        client: client.clone(),
    };
    let outcome = AssertUnwindSafe(body(page)).catch_unwind().await;
    if outcome.is_err() || std::env::var_os("SCRIPTD_SCREENSHOTS").is_some() {
        save_screenshot(&client, name).await;
    }
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn save_screenshot(client: &Client, name: &str) {
    let dir = screenshot_dir();
    let _ = std::fs::create_dir_all(&dir);
    match client.screenshot().await {
        Ok(png) => {
            let path = dir.join(format!("{name}.png"));
            if std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot saved: {}", path.display());
            }
        }
        Err(err) => eprintln!("no screenshot: {err}"),
    }
}

impl Page {
    /// Saves a screenshot named `name` when `SCRIPTD_SCREENSHOTS` is set,
    /// to look at the page in a given state.
    pub async fn snapshot(&self, name: &str) {
        if std::env::var_os("SCRIPTD_SCREENSHOTS").is_some() {
            save_screenshot(&self.client, name).await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
    }

    /// Polls `script` until it returns something other than null/false.
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let value = self.js(script).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; page says: {}",
                self.summary().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the page shows, for failure messages.
    pub async fn summary(&self) -> String {
        let text = self
            .js("return document.body.innerText.slice(0, 3000)")
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    pub async fn click(&self, css: &str) {
        let el = self
            .client
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no {css}: {err}"));
        el.click()
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no {css}: {err}"));
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    /// Chooses `value` in the select `css`. The dashboard refills its
    /// script selects whenever the script list is read again (keeping the
    /// choice), which can make a found option stale: found anew until the
    /// deadline.
    pub async fn select(&self, css: &str, value: &str) {
        let start = Instant::now();
        loop {
            let chosen = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.select_by_value(value).await,
                Err(err) => Err(err),
            };
            match chosen {
                Ok(()) => return,
                Err(err) if start.elapsed() > DEADLINE => {
                    panic!("select {value} in {css}: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The text of the first element matching `css`, or null.
    pub async fn text(&self, css: &str) -> Value {
        self.js(&format!(
            "const el = document.querySelector({}); return el ? el.textContent : null;",
            json!(css)
        ))
        .await
    }

    /// Opens the dashboard and signs in with `key` (the visible form).
    pub async fn sign_in(&self, url: &str, key: &str) {
        self.goto(url).await;
        self.type_into("#apikey", key).await;
        self.click("#signin-button").await;
    }

    /// Signs in and waits for the dashboard.
    pub async fn sign_in_ok(&self, url: &str, key: &str) {
        self.sign_in(url, key).await;
        self.wait_js(
            "the dashboard after sign-in",
            "return !document.getElementById('dash').hidden",
        )
        .await;
    }

    /// Starts `name` from the start form; returns the new run's id.
    pub async fn start_run(&self, name: &str, args: &[&str], at: &str) -> String {
        self.select("#start-name", name).await;
        for (i, arg) in args.iter().enumerate() {
            self.type_into(&format!("#start-arg-{}", i + 1), arg).await;
        }
        self.type_into("#start-at", at).await;
        self.js("document.getElementById('start-result').textContent = ''; return null")
            .await;
        self.click("#start-button").await;
        let result = self
            .wait_js(
                "the start result",
                "return document.getElementById('start-result').textContent || null",
            )
            .await;
        let text = result.as_str().unwrap_or_default();
        let id = text
            .strip_prefix("Queued run ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("run not queued: {text}"));
        id.to_owned()
    }

    /// Waits for run `id` in the history with `outcome`, without reloading.
    pub async fn wait_history(&self, id: &str, outcome: &str) {
        self.wait_js(
            &format!("run {id} as {outcome} in the history"),
            &format!(
                "return !!document.querySelector('#history-body tr[data-run=\"{id}\"][data-outcome=\"{outcome}\"]')"
            ),
        )
        .await;
    }
}
