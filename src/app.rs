//! Application::build: lock the storage, open and migrate the database,
//! bootstrap the first user, start the actors, replay unfinished runs and
//! bind the listener. Used by `serve` and by the tests alike.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::Service as _;
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use crate::actors::account::Restore;
use crate::actors::delivery::DeliveryWorker;
use crate::actors::directory::{AccountDirectory, GetAccount, ShutdownAll};
use crate::actors::monitor::MonitorHub;
use crate::actors::process;
use crate::actors::queue::FenceChanged;
use crate::actors::status_file::StatusFiles;
use crate::actors::timer::Timer;
use crate::actors::Shared;
use crate::address::{self, AdvertGuard, Advertised};
use crate::cluster::{self, Fence, Follower, Joined, Loops};
use crate::config::Config;
use crate::events::store::{self, SetSubscriber};
use crate::events::{Append, EventStore, Readers};
use crate::http::{self, AppState};
use crate::lock::{self, StorageLock};
use crate::metrics::Metrics;
use crate::output::RunLogs;
use crate::storage::{self, StatusPlacement};
use crate::{admin, replay};

/// A built, listening server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    directory: Addr<AccountDirectory>,
    store: Addr<EventStore>,
    config: Arc<Config>,
    /// The first-run admin key, when this start created it.
    pub admin_key: Option<String>,
    /// Re-reads the sign-in settings (`serve` on SIGHUP).
    reloader: http::oidc::reload::Reloader,
    /// A cluster node's lease and rescuer tasks, ended with the server.
    _cluster: Loops,
    /// `<storage>/server.json`, removed when the server is dropped.
    _advert: Option<AdvertGuard>,
    /// Declared before the lock: the server's own cgroup goes while the
    /// storage is still locked, before a new server may make it again.
    _cgroup: ReleaseCgroup,
    _lock: StorageLock,
}

/// Removes the cgroup the server made for itself, when it goes.
struct ReleaseCgroup(Arc<process::Tracking>);

impl Drop for ReleaseCgroup {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Application {
    /// Builds everything and binds `config.listen`; call inside an actix System.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // First, so that a busy port leaves no new storage or user behind.
        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let descriptors = crate::limits::raise_descriptor_limit();
        // Everything the server creates is its owner's alone (scripts get
        // the original umask back).
        process::umask::restrict();
        std::fs::create_dir_all(&config.storage).with_context(|| {
            format!(
                "cannot create the storage directory {}",
                config.storage.display()
            )
        })?;
        storage_permissions(&config);
        let status_placement = StatusPlacement::from_config(&config).map_err(anyhow::Error::msg)?;
        let storage_lock = lock::lock(&config.storage)?;
        // Only once the storage is ours: a second server refused by the lock
        // must not end the runs of the one that holds it.
        let owner = process::cgroup::Owner {
            storage: &config.storage,
            node: config.on_postgres().then_some(config.node.as_str()),
        };
        let tracking = Arc::new(process::Tracking::detect(&config.cgroup, owner));
        let cgroup_release = ReleaseCgroup(tracking.clone());
        tracing::info!("{}", tracking.describe());
        if let Some(base) = tracking.base() {
            let ended = base.end_orphans();
            if ended > 0 {
                tracing::info!(
                    runs = ended,
                    "ended the processes runs of a previous start left behind"
                );
            }
        }
        let location = config.database();
        let mut db = store::open(&location)
            .await
            .with_context(|| format!("cannot open the database {}", location.describe()))?;
        let metrics = Metrics::default();
        // Before anything is written: on a cluster node every commit checks
        // the lease of the incarnation registered here.
        let lease_times = config.lease_times()?;
        let joined = cluster::join(&db.readers, &config.node, lease_times, &metrics)
            .await
            .context("cannot join the cluster")?;
        if let Some(joined) = &joined {
            db.writer.guard(joined.guard(), lease_times.ttl);
        }
        let admin_key = admin::bootstrap(&mut db, &config).await?;
        if admin_key.is_some() {
            // Never the key itself: logs are kept and shipped.
            tracing::info!(
                key_file = %config.storage.join("admin.key").display(),
                "first run: created user admin; its API key is in the key file"
            );
        }
        let config = Arc::new(config);
        let fence = joined.as_ref().map(Joined::fence).unwrap_or_default();
        let lease_guard = joined.as_ref().map(Joined::guard);
        let roster = joined.as_ref().map(Joined::roster).unwrap_or_default();
        let readers = db.readers.clone();
        let logs = RunLogs::for_readers(&readers, &config);
        // Its commits' notifications name it (see `cluster::listener`).
        let token = match &db.writer {
            store::Writer::Postgres(writer) => writer.token().to_owned(),
            store::Writer::Sqlite(_) => String::new(),
        };
        let store = EventStore::new(db.writer, metrics.clone()).start();
        let hub = MonitorHub::new(readers.clone(), metrics.clone()).start();
        // SQLite is one node: the hub hears its commits from the writer.
        // On PostgreSQL every node's commits reach it through the
        // follower, which starts after replay from the log's end now.
        let tail = match &readers {
            Readers::Sqlite(_) => {
                store
                    .send(SetSubscriber {
                        subscriber: hub.clone().recipient(),
                    })
                    .await?;
                None
            }
            Readers::Postgres(pg) => Some((pg.clone(), readers.last_seq().await?)),
        };
        let shared = Shared {
            store: store.clone(),
            readers: readers.clone(),
            config: config.clone(),
            status_files: StatusFiles::start(status_placement),
            metrics: metrics.clone(),
            tracking,
            logs: logs.clone(),
            fence: fence.clone(),
        };
        let directory = AccountDirectory::new(shared.clone()).start();
        let mut cluster_loops = match joined {
            Some(joined) => {
                end_leftovers(&shared, &joined.leftovers);
                // Renewals start before replay, which may take long on a deep queue.
                joined
                    .start(store.clone())
                    .also(actix::spawn(pass_fence_changes(
                        fence.clone(),
                        directory.clone(),
                    )))
            }
            None => Loops::none(),
        };
        restore(&shared, &directory).await?;
        // Sessions lived in the former life's memory: their ends are due.
        http::oidc::end::end_former_sessions(&store, &readers, &config.node).await?;
        let sessions = http::sessions::SessionRegistry::default();
        let key_watch =
            http::revocation::KeyWatch::new(readers.clone(), sessions.clone(), directory.clone())
                .await;
        let key_watch = match tail {
            Some(_) => key_watch.told_commits(),
            None => key_watch,
        }
        .start();
        // After the replay: a tick's run joins a queue that holds its elders.
        let timer = Timer::new(shared.clone(), directory.clone(), roster).start();
        let node = match &readers {
            Readers::Sqlite(_) => String::new(),
            Readers::Postgres(_) => config.node.clone(),
        };
        let allow = config.hooks_allow.clone();
        let deliveries = DeliveryWorker::new(store.clone(), node, allow, config.hooks).start();
        if tail.is_none() {
            store
                .send(SetSubscriber {
                    subscriber: deliveries.clone().recipient(),
                })
                .await?;
        }
        if let Some((pg, last)) = tail {
            let subscribers = vec![
                hub.clone().recipient(),
                directory.clone().recipient(),
                key_watch.recipient(),
                deliveries.recipient(),
                timer.clone().recipient(),
            ];
            let follower = Follower::new(pg.clone(), last, subscribers).start();
            store
                .send(SetSubscriber {
                    subscriber: follower.clone().recipient(),
                })
                .await?;
            let options = pg.pool.connect_options().as_ref().clone();
            cluster::listener::start(options, token, follower);
        }

        let conn_limits = http::conn_limit::ConnLimits::new(
            max_connections(&config, descriptors),
            config.limits.max_connections_per_address,
        );
        actix::spawn(http::conn_limit::trim_after_bursts(conn_limits.clone()));
        crate::retention::online::start(store.clone(), config.clone());

        let address = listener.local_addr()?;
        let listening = http::tls::Listening::prepare(&config.tls, &config.storage, &address)
            .context("cannot set up TLS")?;
        let sign_in = sign_in(
            &config,
            &listening,
            &address,
            &store,
            &sessions,
            lease_guard,
        )?;
        if let Some(sign_in) = sign_in.clone().filter(|s| s.node.is_some()) {
            let follow = http::oidc::end::follow_fence(
                fence.subscribe(),
                sign_in,
                store.clone(),
                readers.clone(),
                sessions.clone(),
            );
            cluster_loops = cluster_loops.also(actix::spawn(follow));
        }
        let reloader = http::oidc::reload::Reloader {
            file: config.file.clone(),
            sign_in: sign_in.clone(),
            store: store.clone(),
            sockets: sessions.clone(),
        };
        let state = AppState {
            store: store.clone(),
            readers,
            directory: directory.clone(),
            hub,
            config: config.clone(),
            metrics,
            sessions,
            logs,
            timer,
            sign_in,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .wrap_fn(|req, srv| match http::guard::refuse(req) {
                    Ok(refused) => futures_util::future::Either::Left(async { Ok(refused) }),
                    Err(req) => futures_util::future::Either::Right(srv.call(req)),
                })
                .configure(http::configure)
                .wrap(http::no_store())
        })
        .workers(2)
        // Pushes and replies are small writes; with Nagle on, one that
        // follows an unacknowledged write waits for the peer's delayed ACK.
        .tcp_nodelay(true)
        .client_request_timeout(config.limits.header_timeout)
        .on_connect(move |conn, ext| {
            http::connection::on_connect(conn, ext);
            conn_limits.on_connect(conn, ext);
        })
        .keep_alive(config.keep_alive)
        .disable_signals()
        .shutdown_timeout(1);
        let server = match listening.server_config() {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        listening.log(&address);
        let advert = advertise(&config, &listening, address);
        Ok(Application {
            port: address.port(),
            server,
            directory,
            store,
            config,
            admin_key,
            reloader,
            _cluster: cluster_loops,
            _advert: advert,
            _cgroup: cgroup_release,
            _lock: storage_lock,
        })
    }

    /// The account actors' directory (tests reach the actors through it).
    pub fn directory(&self) -> Addr<AccountDirectory> {
        self.directory.clone()
    }

    /// The event store (tests drive retention passes through it).
    pub fn store(&self) -> Addr<EventStore> {
        self.store.clone()
    }

    /// What `serve` calls on SIGHUP: re-reads the sign-in settings.
    pub fn reloader(&self) -> http::oidc::reload::Reloader {
        self.reloader.clone()
    }

    /// The bound port (useful with `--listen 127.0.0.1:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until a graceful shutdown completes: first the running runs
    /// are interrupted and recorded, then the listener closes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = actix::spawn(self.server);
        shutdown.await;
        tracing::info!("shutting down: interrupting running scripts");
        let limit = self.config.shutdown_grace + self.config.kill_grace + Duration::from_secs(5);
        if tokio::time::timeout(limit, self.directory.send(ShutdownAll))
            .await
            .is_err()
        {
            tracing::error!("running scripts did not stop in time");
        }
        handle.stop(true).await;
        let _ = server.await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The total connection limit: configured, or three quarters of the
/// descriptor limit, so files, the database and children keep some.
fn max_connections(config: &Config, descriptors: Option<u64>) -> usize {
    config.limits.max_connections.unwrap_or_else(|| {
        let descriptors = descriptors.unwrap_or(1024).min(1 << 20) as usize;
        (descriptors / 4 * 3).max(64)
    })
}

/// Cleans up after the runs of a former life of this node that a rescuer
/// ended while the node was gone (`cluster::Joined`): their status files
/// go, and what their processes left behind is ended.
fn end_leftovers(shared: &Shared, leftovers: &[cluster::Leftover]) {
    for leftover in leftovers {
        shared.status_files.remove(leftover.user, leftover.run);
    }
    let groups = leftovers.iter().filter_map(|l| l.group.as_ref());
    for (pgid, _) in groups.filter(|(_, boot)| boot == process::boot_id()) {
        match process::end_orphaned_group(*pgid) {
            Ok(true) => tracing::info!(
                pgid,
                "ended what a run of this node's former life left running"
            ),
            Ok(false) => {}
            Err(err) => tracing::warn!(pgid, error = %err, "cannot end a former run's processes"),
        }
    }
}

/// Tells the queues (through the directory) whenever the node's fence
/// goes up (the lease is lost: stop the runs) or down (rejoined).
async fn pass_fence_changes(fence: Fence, directory: Addr<AccountDirectory>) {
    let mut changes = fence.subscribe();
    while changes.changed().await.is_ok() {
        let up = *changes.borrow_and_update();
        directory.do_send(FenceChanged { up });
    }
}

/// Records where this server listens in its storage for the clients on
/// this host, and names the dashboard. A failure costs only that record.
fn advertise(
    config: &Config,
    listening: &http::tls::Listening,
    bound: std::net::SocketAddr,
) -> Option<AdvertGuard> {
    let advert = Advertised::new(bound, listening.is_tls(), listening.ca_file());
    tracing::info!("dashboard: {}/ui", advert.url);
    match address::write(&config.storage, &advert) {
        Ok(guard) => Some(guard),
        Err(err) => {
            tracing::warn!(
                error = %err,
                file = %config.storage.join(address::FILE).display(),
                "cannot record the listen address for clients"
            );
            None
        }
    }
}

/// Makes the storage its owner's alone, saying so when it was not.
fn storage_permissions(config: &Config) {
    match storage::tighten(&config.storage) {
        Ok(0) => {}
        Ok(paths) => tracing::warn!(
            storage = %config.storage.display(),
            paths,
            "the storage was readable by other users; it is now its owner's alone"
        ),
        Err(err) => tracing::error!(
            storage = %config.storage.display(),
            error = %err,
            "cannot restrict the permissions of the storage"
        ),
    }
}

/// Replays unfinished runs: records the interrupted ones, hands the
/// pending ones back to their queues.
async fn restore(shared: &Shared, directory: &Addr<AccountDirectory>) -> anyhow::Result<()> {
    let config = &shared.config;
    let node = config.on_postgres().then_some(config.node.as_str());
    let recovered = replay::recover(&shared.readers, process::boot_id(), node).await?;
    for pgid in &recovered.orphan_groups {
        match process::end_orphaned_group(*pgid) {
            Ok(true) => tracing::info!(pgid, "ended whatever an interrupted run left running"),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(pgid, error = %err, "cannot end an interrupted run's processes")
            }
        }
    }
    if !recovered.interrupted.is_empty() {
        for new in recovered.interrupted.iter().flatten() {
            if let Some(run) = new.event.run_id() {
                shared.status_files.remove(new.user, run);
            }
        }
        tracing::info!(
            runs = recovered.interrupted.len(),
            "marking runs interrupted by the last stop"
        );
        // One append per run (group commit still makes them one commit),
        // so a run that has ended meanwhile is refused alone.
        let appends = recovered
            .interrupted
            .into_iter()
            .map(|events| shared.store.send(Append { events }));
        for result in futures_util::future::join_all(appends).await {
            match result? {
                Err(err) if !err.is_already_ended() => return Err(err.into()),
                _ => {}
            }
        }
    }
    for (user, runs) in recovered.pending {
        let count: usize = runs.values().map(Vec::len).sum();
        tracing::info!(%user, runs = count, "restoring queued runs");
        if let Some(account) = directory.send(GetAccount { user }).await? {
            account.send(Restore { runs }).await?;
        }
    }
    Ok(())
}

/// Sign-in through OpenID Connect, when `[oidc]` is configured: its
/// redirect URI defaults to the listener's address, and a sweep ends the
/// sessions whose time is up.
fn sign_in(
    config: &Config,
    listening: &http::tls::Listening,
    address: &std::net::SocketAddr,
    store: &Addr<EventStore>,
    sessions: &http::sessions::SessionRegistry,
    node: Option<Arc<crate::events::postgres::guard::LeaseGuard>>,
) -> anyhow::Result<Option<http::oidc::SignIn>> {
    let Some(settings) = config.oidc.clone() else {
        return Ok(None);
    };
    let scheme = if listening.is_tls() { "https" } else { "http" };
    let sign_in = http::oidc::SignIn::new(
        settings,
        format!("{scheme}://{address}"),
        listening.is_tls(),
        node,
    )
    .context("cannot set up OpenID Connect sign-in")?;
    tracing::info!(
        redirect_uri = sign_in.client.redirect_uri(),
        "OpenID Connect sign-in on"
    );
    http::oidc::end::SessionSweep {
        book: sign_in.book.clone(),
        store: store.clone(),
        sockets: sessions.clone(),
    }
    .start();
    Ok(Some(sign_in))
}
