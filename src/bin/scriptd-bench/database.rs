//! Which databases a scenario runs on: SQLite always, and PostgreSQL too
//! when `--database postgres://…` names a server (its maintenance
//! database, e.g. `postgres://127.0.0.1:5432/postgres`). Each PostgreSQL
//! measurement gets a database of its own, created here and dropped after,
//! so runs never see each other's events.

use std::sync::OnceLock;

use sqlx::Connection as _;

/// The `--database` URL, set once by `main`.
static SERVER: OnceLock<Option<String>> = OnceLock::new();

/// Remembers the `--database` URL (None: SQLite only).
pub fn set_server(url: Option<String>) {
    let _ = SERVER.set(url);
}

/// Where one measurement keeps its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The PostgreSQL server's maintenance URL.
    Postgres(String),
}

impl Backend {
    /// SQLite, then PostgreSQL when `--database` was given.
    pub fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Sqlite];
        if let Some(Some(url)) = SERVER.get() {
            all.push(Backend::Postgres(url.clone()));
        }
        all
    }

    /// "sqlite" or "postgres", for the report lines.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A fresh database for one measurement (None on SQLite: the storage
    /// dir's file is fresh already).
    pub async fn fresh(&self) -> anyhow::Result<Option<FreshDatabase>> {
        match self {
            Backend::Sqlite => Ok(None),
            Backend::Postgres(server) => FreshDatabase::create(server).await.map(Some),
        }
    }
}

/// A database made for one measurement; [`FreshDatabase::drop_now`] removes it.
pub struct FreshDatabase {
    server: String,
    name: String,
    /// Its URL, for `Config::database`.
    pub url: String,
}

impl FreshDatabase {
    async fn create(server: &str) -> anyhow::Result<FreshDatabase> {
        let name = format!("scriptd_bench_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(server).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(FreshDatabase {
            server: server.to_owned(),
            url: with_database(server, &name),
            name,
        })
    }

    /// Drops the database (the server using it must be stopped).
    pub async fn drop_now(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.server).await?;
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

/// `url` with its database (the path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_query_kept() {
        for (url, want) in [
            ("postgres://h:5432/postgres", "postgres://h:5432/x"),
            ("postgres://u@h", "postgres://u@h/x"),
            (
                "postgres://h/db?sslmode=require",
                "postgres://h/x?sslmode=require",
            ),
        ] {
            assert_eq!(with_database(url, "x"), want, "{url}");
        }
    }
}
