//! [`RowGet`] for the three row types the store reads: sqlx's
//! `PgRow` and `SqliteRow`, and rusqlite's `Row`. Each keeps its driver's
//! own error conversion (`from_pg` tells an outage from a bad row).

use rusqlite::types::{FromSqlError, ValueRef};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::RowGet;
use crate::events::error::StoreError;

fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "")
}

/// The same typed reads for each sqlx row type, with its error mapping.
macro_rules! sqlx_row_get {
    ($row:ty, $err:expr) => {
        impl RowGet for $row {
            fn text(&self, i: usize) -> Result<&str, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn int(&self, i: usize) -> Result<i64, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn real(&self, i: usize) -> Result<f64, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
                self.try_get(i).map_err($err)
            }
            fn flag(&self, i: usize) -> Result<bool, StoreError> {
                self.try_get(i).map_err($err)
            }
        }
    };
}

sqlx_row_get!(PgRow, pg);
sqlx_row_get!(SqliteRow, StoreError::from);

/// rusqlite's text as `&str` without a copy (its `get::<&str>` does not
/// exist: `FromSql` returns owned values).
fn borrowed<'a>(value: ValueRef<'a>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    let data_type = value.data_type();
    match value {
        ValueRef::Null => Ok(None),
        _ => value.as_str().map(Some).map_err(|e| match e {
            FromSqlError::InvalidType => {
                rusqlite::Error::InvalidColumnType(i, format!("column {i}"), data_type)
            }
            other => rusqlite::Error::FromSqlConversionFailure(i, data_type, Box::new(other)),
        }),
    }
}

impl RowGet for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<&str, StoreError> {
        borrowed(self.get_ref(i)?, i)?.ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                i,
                format!("column {i}"),
                rusqlite::types::Type::Null,
            )
            .into()
        })
    }
    fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        Ok(borrowed(self.get_ref(i)?, i)?)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> Result<f64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.get(i)?)
    }
}
