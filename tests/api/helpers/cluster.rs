//! A cluster for a test: N `scriptd serve` child processes (`--node n1`
//! … `nN`), each with a storage directory of its own and the same
//! exectab text, on one PostgreSQL database made for the test, whatever
//! this run's backend (a cluster is PostgreSQL or nothing). `n1` starts
//! first and creates the admin user; the others start with its key.
//!
//! One cluster lives at a time in the test process: three nodes (a dozen
//! database connections each, under PostgreSQL's default limit of 100)
//! are load enough for two cores, while other tests go on beside them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The right to run a cluster (see the module comment).
static ONE_AT_A_TIME: std::sync::OnceLock<Arc<Semaphore>> = std::sync::OnceLock::new();

async fn turn() -> OwnedSemaphorePermit {
    ONE_AT_A_TIME
        .get_or_init(|| Arc::new(Semaphore::new(1)))
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed")
}

use super::child::Server;
use super::server::{Database, Scheme, ServerSpec};
use super::ws::WsClient;

/// One node: its name, its storage and the server (derefs to its `Api`).
pub struct Node {
    pub name: String,
    pub storage: PathBuf,
    pub server: Server,
}

impl std::ops::Deref for Node {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

impl Node {
    /// A WebSocket to this node with the admin key.
    pub async fn ws(&self) -> WsClient {
        let (_resp, framed) = self
            .client
            .ws(format!(
                "{}/scripts/v1",
                self.base.replacen("http", "ws", 1)
            ))
            .set_header("X-APIKey", self.key.as_str())
            .max_frame_size(16 * 1024 * 1024)
            .connect()
            .await
            .expect("websocket connects");
        WsClient { framed }
    }
}

/// Nodes sharing one database, and a folder their scripts write into.
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The database's URL, for tests that read it directly.
    pub database: String,
    /// `OUT` in the exectab text: a folder shared by every node's scripts.
    pub out: PathBuf,
    /// More `serve` flags every node gets (lease times, say).
    extra: Vec<String>,
    // Last: the database is dropped once this directory is gone, and
    // the next cluster may start after that.
    _temp: tempfile::TempDir,
    _turn: OwnedSemaphorePermit,
}

impl Cluster {
    /// Starts `n` nodes on a fresh database, each with `exectab` as the
    /// admin's exectab (`OUT` in it becomes [`Cluster::out`]).
    pub async fn start(n: usize, exectab: &str) -> Cluster {
        Cluster::start_each(&vec![exectab; n]).await
    }

    /// [`Cluster::start`] with more `serve` flags for every node.
    pub async fn start_with(n: usize, exectab: &str, extra: &[&str]) -> Cluster {
        Cluster::start_each_with(&vec![exectab; n], extra).await
    }

    /// Starts one node per exectab text (a node only runs the scripts
    /// its own exectab defines).
    pub async fn start_each(exectabs: &[&str]) -> Cluster {
        Cluster::start_each_with(exectabs, &[]).await
    }

    /// [`Cluster::start_each`], each node with the `serve` flags `extra`.
    pub async fn start_each_with(exectabs: &[&str], extra: &[&str]) -> Cluster {
        Cluster::start_all(None, exectabs, extra).await
    }

    /// [`Cluster::start_with`] on `database` (a private server's) instead
    /// of a fresh one on the shared server.
    pub async fn start_on(database: String, n: usize, exectab: &str, extra: &[&str]) -> Cluster {
        Cluster::start_all(Some(database), &vec![exectab; n], extra).await
    }

    /// [`Cluster::start_each_with`] on `database` (a private server's).
    pub async fn start_each_on(database: String, exectabs: &[&str], extra: &[&str]) -> Cluster {
        Cluster::start_all(Some(database), exectabs, extra).await
    }

    async fn start_all(database: Option<String>, exectabs: &[&str], extra: &[&str]) -> Cluster {
        assert!(!exectabs.is_empty(), "a cluster has a node");
        let turn = turn().await;
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let temp = tempfile::tempdir().expect("temp dir");
        let database =
            database.unwrap_or_else(|| crate::backend::fresh_postgres_database(temp.path()));
        let out = temp.path().join("out");
        std::fs::create_dir_all(&out).expect("out dir");
        let out_text = out.to_str().expect("utf-8 temp path");
        let texts: Vec<String> = exectabs
            .iter()
            .map(|t| t.replace("OUT", out_text))
            .collect();
        let first = launch(temp.path(), &database, 1, &texts[0], None, &extra).await;
        let key = first.server.key.clone();
        let others = texts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, text)| launch(temp.path(), &database, i + 1, text, Some(&key), &extra));
        let mut nodes = vec![first];
        nodes.extend(futures_util::future::join_all(others).await);
        Cluster {
            nodes,
            database,
            out,
            extra,
            _temp: temp,
            _turn: turn,
        }
    }

    /// Kills node `i` (0-based) with SIGKILL; it leaves the list, its
    /// storage stays. Answers its name and storage (see [`Cluster::restart`]).
    pub fn kill9(&mut self, i: usize) -> (String, PathBuf) {
        let Node {
            name,
            storage,
            server,
        } = self.nodes.remove(i);
        server.kill9();
        (name, storage)
    }

    /// Starts a node again under `name` on its `storage` (after
    /// [`Cluster::kill9`]), last in the list.
    pub async fn restart(&mut self, name: String, storage: PathBuf) -> &Node {
        let args = node_args(&storage, &self.database, &name, &self.extra);
        let server = Server::launch(&storage, &args, &name, "0").await;
        self.nodes.push(Node {
            name,
            storage,
            server,
        });
        self.nodes.last().expect("just pushed")
    }

    /// Stops node `i` (0-based) with SIGTERM; it leaves the list.
    /// Answers its exit status and everything it wrote to stderr.
    pub async fn terminate(&mut self, i: usize) -> (std::process::ExitStatus, String) {
        self.nodes.remove(i).server.terminate_logged().await
    }

    /// Node `i` (0-based).
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Every node's stderr, for a failure message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("--- {} ---\n{}", node.name, node.server.stderr()))
            .collect()
    }
}

/// Starts node `i`: its storage is made first with the exectab (and, for
/// a node after the first, the admin key the first one created).
async fn launch(
    root: &Path,
    database: &str,
    i: usize,
    exectab: &str,
    key: Option<&str>,
    extra: &[String],
) -> Node {
    let name = format!("n{i}");
    let storage = root.join(&name);
    let scripts = storage.join("1").join("scripts");
    std::fs::create_dir_all(&scripts).expect("scripts dir");
    std::fs::write(scripts.join("exectab.txt"), exectab).expect("write exectab");
    if let Some(key) = key {
        std::fs::write(storage.join("admin.key"), format!("{key}\n")).expect("admin.key");
    }
    let args = node_args(&storage, database, &name, extra);
    let server = Server::launch(&storage, &args, &name, "0").await;
    // The first node wrote the demo exectab only if there was none: ours stays.
    Node {
        name,
        storage,
        server,
    }
}

/// The `serve` arguments of node `name`.
fn node_args(storage: &Path, database: &str, name: &str, extra: &[String]) -> Vec<String> {
    let mut flags = vec!["--node", name];
    flags.extend(extra.iter().map(String::as_str));
    ServerSpec::new(storage, Scheme::Plain)
        .on(Database::Postgres(database.to_owned()))
        .serve_args(&flags)
}

/// Runs one query on the cluster's database and returns its rows as
/// JSON text (one `row_to_json` per row), on a thread of its own.
pub fn query_json(database: &str, sql: &str) -> Vec<String> {
    let (database, sql) = (database.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection as _;
            // The server may be short of connections a moment (other
            // tests' nodes): try again within the deadline.
            let start = std::time::Instant::now();
            let mut conn = loop {
                match sqlx::PgConnection::connect(&database).await {
                    Ok(conn) => break conn,
                    Err(err) if start.elapsed() < super::DEADLINE => {
                        eprintln!("connecting to the cluster's database: {err}; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(err) => panic!("connect: {err}"),
                }
            };
            let sql = format!("SELECT row_to_json(q)::text FROM ({sql}) q");
            sqlx::query_scalar::<_, String>(&sql)
                .fetch_all(&mut conn)
                .await
                .expect("query")
        })
    })
    .join()
    .expect("query thread")
}
