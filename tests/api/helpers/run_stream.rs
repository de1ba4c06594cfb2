//! A stream of `POST run` requests, one after another, spread over one or
//! more servers in turn, for tests that restart the database under it:
//! each answer is counted as accepted (with its id), refused with the
//! 503 `database_unavailable` envelope, or anything else (reported by the
//! test, since a panic inside the stream would not fail it).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;

use super::{eventually, Api};

/// What the stream's requests were answered.
#[derive(Default)]
pub struct Answers {
    pub accepted: Vec<String>,
    pub unavailable: usize,
    /// Anything else: (HTTP status, body).
    pub other: Vec<String>,
}

/// Posts runs of one script until told to stop.
pub struct RunStream {
    answers: Rc<RefCell<Answers>>,
    stop: Rc<Cell<bool>>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl RunStream {
    /// Starts posting runs of `name` to `apis` in turn.
    pub fn start(apis: Vec<Api>, name: &'static str) -> RunStream {
        let answers = Rc::new(RefCell::new(Answers::default()));
        let stop = Rc::new(Cell::new(false));
        let (tx, done) = tokio::sync::oneshot::channel();
        let (record, stopped) = (answers.clone(), stop.clone());
        actix::spawn(async move {
            let mut turn = 0usize;
            while !stopped.get() {
                let api = &apis[turn % apis.len()];
                turn += 1;
                let (status, reply) = api.post("/scripts/v1/run", json!({ "name": name })).await;
                let refused = {
                    let mut answers = record.borrow_mut();
                    match (status, reply["errorcode"].as_str()) {
                        (200, _) if reply["success"] == true => {
                            answers
                                .accepted
                                .push(reply["id"].as_str().unwrap_or("").to_owned());
                            false
                        }
                        // The envelope of API.md.
                        (503, Some("database_unavailable"))
                            if reply["success"] == false && reply["error"].is_string() =>
                        {
                            answers.unavailable += 1;
                            true
                        }
                        _ => {
                            answers.other.push(format!("{status} {reply}"));
                            false
                        }
                    }
                };
                // Down, a refusal comes at once: do not spin on it.
                if refused {
                    actix_rt::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let _ = tx.send(());
        });
        RunStream {
            answers,
            stop,
            done,
        }
    }

    pub fn accepted(&self) -> usize {
        self.answers.borrow().accepted.len()
    }

    pub fn unavailable(&self) -> usize {
        self.answers.borrow().unavailable
    }

    /// Waits until `more` further runs were accepted.
    pub async fn accepts_more(&self, more: usize, why: &str) {
        let want = self.accepted() + more;
        eventually(why, || (self.accepted() >= want).then_some(())).await;
    }

    /// Waits until `more` further runs were refused as unavailable.
    pub async fn refused_more(&self, more: usize) {
        let want = self.unavailable() + more;
        eventually("runs refused with database_unavailable", || {
            (self.unavailable() >= want).then_some(())
        })
        .await;
    }

    /// Stops posting; answers everything it was told.
    pub async fn finish(self) -> Answers {
        self.stop.set(true);
        let _ = self.done.await;
        Rc::try_unwrap(self.answers)
            .ok()
            .expect("the stream is over")
            .into_inner()
    }
}
