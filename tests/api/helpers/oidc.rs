//! A real OpenID Connect provider for the sign-in tests, and a browser
//! stand-in that follows its pages. The provider is panva's
//! `oidc-provider` (tests/oidc/provider.mjs) run by Node.js, one for the
//! whole test binary; `npm ci` installs it the first time. The browser is
//! a reqwest client with a cookie jar that follows redirects itself, so a
//! test can stop at the callback and tamper with it. Also what the sign-in
//! tests share: a signed-in browser, a WebSocket on its cookie, the
//! events of a kind, and a config file's `[oidc]` for child servers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use awc::ws::Frame;
use futures_util::StreamExt;
use reqwest::cookie::CookieStore;
use reqwest::header::{HeaderValue, LOCATION};
use scriptd::accounts::{Role, ScriptFilter};
use scriptd::oidc::{Grant, GrantMatch, OidcSettings};
use scriptd::wire::EventsRequest;
use serde_json::Value;

use super::{Api, DEADLINE};

/// The provider's client secret (tests/oidc/provider.mjs).
const SECRET: &str = "test-secret";

struct Provider {
    issuer: String,
    /// Kept so that its stdin stays open: the provider exits when it closes.
    _child: Mutex<Child>,
    /// Its output, kept open so that a late write does not fail.
    _stdout: Mutex<BufReader<std::process::ChildStdout>>,
}

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oidc")
}

fn install() {
    let dir = oidc_dir();
    if dir.join("node_modules").join("oidc-provider").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "the OpenID Connect tests need npm (and Node.js 18 or later) to install \
                 tests/oidc: {e}; install the `nodejs` and `npm` packages (scripts/test does)"
            )
        });
    assert!(status.success(), "`npm ci` in tests/oidc failed: {status}");
}

fn start() -> Provider {
    install();
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(oidc_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the OpenID Connect tests need Node.js (`node`): {e}; install the `nodejs` package"
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let mut stdout = BufReader::new(stdout);
    stdout
        .read_line(&mut line)
        .expect("the provider prints its issuer");
    let issuer: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("provider said {line:?}: {e}"));
    Provider {
        issuer: issuer["issuer"].as_str().expect("issuer").to_owned(),
        _child: Mutex::new(child),
        _stdout: Mutex::new(stdout),
    }
}

/// The issuer URL of the provider shared by this test binary.
pub fn issuer() -> String {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(start).issuer.clone()
}

/// A grant of `group` in the admin's account.
pub fn group(group: &str, role: Role, scripts: &[&str]) -> Grant {
    Grant {
        matches: GrantMatch::Group(group.into()),
        user: "admin".into(),
        role,
        scripts: match scripts {
            [] => ScriptFilter::All,
            some => ScriptFilter::Globs(some.iter().map(|s| s.to_string()).collect()),
        },
    }
}

/// `[oidc]` against the test provider with these grants and lifetimes.
pub fn settings(grants: Vec<Grant>, idle: Duration) -> Arc<OidcSettings> {
    Arc::new(OidcSettings {
        issuer: issuer(),
        client_id: "scriptd".into(),
        client_secret: SECRET.into(),
        public_url: None,
        name: "Test IdP".into(),
        only: false,
        scopes: vec!["email".into(), "profile".into(), "groups".into()],
        session_max: Duration::from_secs(3600),
        session_idle: idle,
        grants,
    })
}

/// The grants the tests use: viewers, ops (operators), admins (owners),
/// and backup-team (operators of `backup` only).
pub fn team() -> Vec<Grant> {
    vec![
        group("viewers", Role::Viewer, &[]),
        group("ops", Role::Operator, &[]),
        group("admins", Role::Owner, &[]),
        group("backup-team", Role::Operator, &["backup"]),
    ]
}

/// A browser: a cookie jar, redirects followed by hand.
pub struct Browser {
    pub base: String,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub client: reqwest::Client,
}

/// What a callback answered.
#[derive(Debug)]
pub struct Landed {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    /// A browser for the scriptd on `port`.
    pub fn new(port: u16) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DEADLINE)
            .build()
            .expect("client");
        Browser {
            base: format!("http://127.0.0.1:{port}"),
            jar,
            client,
        }
    }

    /// `GET /ui/oidc/login`: the provider URL it redirects to.
    pub async fn start(&self) -> String {
        let resp = self
            .client
            .get(format!("{}/ui/oidc/login", self.base))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status().as_u16(), 303, "login redirects");
        location(&resp).expect("to the provider")
    }

    /// Follows the provider's pages from `url` as `login` (any password)
    /// until it redirects to scriptd's callback; returns that URL.
    pub async fn at_provider(&self, mut url: String, login: &str) -> String {
        for _ in 0..20 {
            if url.contains("/ui/oidc/callback") {
                return url;
            }
            let resp = self.client.get(&url).send().await.expect("provider page");
            if let Some(next) = location(&resp) {
                url = absolute(&url, &next);
                continue;
            }
            let page = resp.text().await.expect("page");
            let (action, prompt) =
                form(&page).unwrap_or_else(|| panic!("a form on the provider's page: {page}"));
            let mut fields = vec![("prompt", prompt.clone())];
            if prompt == "login" {
                fields.push(("login", login.to_owned()));
                fields.push(("password", "any".to_owned()));
            }
            let resp = self
                .client
                .post(absolute(&url, &action))
                .form(&fields)
                .send()
                .await
                .expect("form post");
            url = absolute(&url, &location(&resp).expect("the form redirects"));
        }
        panic!("the provider never sent the browser back to scriptd");
    }

    /// Lands on a callback URL.
    pub async fn land(&self, callback: &str) -> Landed {
        let resp = self.client.get(callback).send().await.expect("callback");
        Landed {
            status: resp.status().as_u16(),
            location: location(&resp),
            body: resp.text().await.unwrap_or_default(),
        }
    }

    /// Starts a sign-in and follows the provider's pages as `login`: the
    /// callback URL the provider sends the browser back to.
    pub async fn callback_as(&self, login: &str) -> String {
        let url = self.start().await;
        self.at_provider(url, login).await
    }

    /// Signs in as `login`; the callback's answer.
    pub async fn sign_in(&self, login: &str) -> Landed {
        let callback = self.callback_as(login).await;
        self.land(&callback).await
    }

    /// A browser for the scriptd on `port` signed in as `login` (which
    /// must succeed).
    pub async fn signed_in(port: u16, login: &str) -> Browser {
        let browser = Browser::new(port);
        let landed = browser.sign_in(login).await;
        assert_eq!(landed.status, 303, "{login} signs in: {landed:?}");
        assert_eq!(landed.location.as_deref(), Some("/ui/"));
        assert!(browser.session().is_some(), "a session cookie");
        browser
    }

    /// The same browser (its cookies) facing a server on another port,
    /// such as the same storage's server after a restart.
    pub fn facing(&self, port: u16) -> Browser {
        Browser {
            base: format!("http://127.0.0.1:{port}"),
            jar: self.jar.clone(),
            client: self.client.clone(),
        }
    }

    /// The session cookie the browser holds, if any.
    pub fn session(&self) -> Option<String> {
        let url = self.base.parse().expect("url");
        let cookies = self.jar.cookies(&url)?;
        let cookies = cookies.to_str().ok()?.to_owned();
        cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == "scriptd_session")
            .map(|(_, v)| v.to_owned())
    }

    /// An API call as the dashboard makes it (the cookie and
    /// `X-Requested-With: scriptd`), or without the header.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        header: bool,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if header {
            req = req.header("X-Requested-With", "scriptd");
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("api call");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    /// `POST /ui/oidc/logout`.
    pub async fn sign_out(&self) -> u16 {
        self.client
            .post(format!("{}/ui/oidc/logout", self.base))
            .header("X-Requested-With", "scriptd")
            .send()
            .await
            .expect("logout")
            .status()
            .as_u16()
    }
}

fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(LOCATION)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned)
}

fn absolute(base: &str, link: &str) -> String {
    let base = reqwest::Url::parse(base).expect("base url");
    base.join(link).expect("link").to_string()
}

/// The first form's action and its hidden `prompt` value.
fn form(page: &str) -> Option<(String, String)> {
    let attr = |from: &str, name: &str| -> Option<String> {
        let start = from.find(&format!("{name}=\""))? + name.len() + 2;
        let len = from[start..].find('"')?;
        Some(from[start..start + len].replace("&amp;", "&"))
    };
    let form_at = page.find("<form")?;
    let action = attr(&page[form_at..], "action")?;
    let prompt_at = page.find("name=\"prompt\"")?;
    let prompt = attr(&page[prompt_at..], "value")?;
    Some((action, prompt))
}

/// A cookie WebSocket, as the dashboard opens one.
pub type CookieSocket = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// A WebSocket to `api`'s server opened as the dashboard opens it: the
/// browser's cookie and this `origin`; the refusal's status otherwise.
pub async fn cookie_ws(api: &Api, browser: &Browser, origin: &str) -> Result<CookieSocket, u16> {
    let token = browser.session().expect("session cookie");
    let url = format!("{}/scripts/v1", api.base.replacen("http", "ws", 1));
    match api
        .client
        .ws(url)
        .origin(origin)
        .set_header("Cookie", format!("scriptd_session={token}"))
        .connect()
        .await
    {
        Ok((_resp, framed)) => Ok(framed),
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
        Err(err) => panic!("websocket: {err}"),
    }
}

/// Waits for the socket to be closed by the server; its close code and reason.
pub async fn closed(framed: &mut CookieSocket) -> (u16, String) {
    loop {
        let frame = actix_rt::time::timeout(DEADLINE, framed.next())
            .await
            .expect("the server closes the socket in time");
        match frame {
            Some(Ok(Frame::Close(Some(reason)))) => {
                return (
                    u16::from(reason.code),
                    reason.description.unwrap_or_default(),
                )
            }
            Some(Ok(Frame::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
            Some(Ok(_)) => {}
        }
    }
}

/// The data of the admin's events of `kind`, in log order.
pub async fn events_of_kind(api: &Api, kind: &str) -> Vec<Value> {
    let page = api
        .events(&EventsRequest {
            after: None,
            limit: Some(1000),
            run: None,
        })
        .await;
    page.typed()
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.data.clone())
        .collect()
}

/// A config file's text with `[oidc]` against the test provider and
/// these `(group, role)` grants in the admin's account.
pub fn config_file(grants: &[(&str, &str)]) -> String {
    let mut text = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"scriptd\"\nclient_secret = \"{SECRET}\"\n",
        issuer()
    );
    for (group, role) in grants {
        text.push_str(&format!(
            "\n[[oidc.grant]]\ngroup = \"{group}\"\nuser = \"admin\"\nrole = \"{role}\"\n"
        ));
    }
    text
}
