//! A real local HTTP receiver for webhook tests: it records every request
//! (headers and body) and answers with the statuses it was told to, in
//! order, then 200.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

impl Received {
    /// A header's value, by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    answers: VecDeque<u16>,
    /// `Retry-After` on every answer that is not 2xx.
    retry_after: Option<u64>,
}

/// The receiver; stops with the test's System.
#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Listens on 127.0.0.1, first answering `answers` in order, then 200.
    pub fn start(answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        Receiver::start_on(listener, answers, None)
    }

    /// Like [`Receiver::start`], sending `Retry-After: secs` with every
    /// answer that is not 2xx.
    pub fn start_retry_after(answers: &[u16], secs: u64) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        Receiver::start_on(listener, answers, Some(secs))
    }

    /// Listens on `listener`.
    fn start_on(listener: TcpListener, answers: &[u16], retry_after: Option<u64>) -> Receiver {
        let port = listener.local_addr().expect("address").port();
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            answers: answers.iter().copied().collect(),
            retry_after,
        }));
        let state = inner.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix::spawn(server);
        Receiver { port, inner }
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Waits (within the deadline) until `n` requests came, and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        super::eventually(&format!("{n} deliveries"), || {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn receive(
    state: web::Data<Arc<Mutex<Inner>>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut inner = state.lock().expect("lock");
    inner.received.push(Received {
        path: req.path().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: std::time::Instant::now(),
    });
    let status = inner.answers.pop_front().unwrap_or(200);
    let mut reply =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"));
    if let (Some(secs), false) = (inner.retry_after, (200..300).contains(&status)) {
        reply.insert_header(("Retry-After", secs.to_string()));
    }
    reply.finish()
}
