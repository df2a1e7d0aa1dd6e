//! A server for the administration routes (hardware templates, settings, the audit-log API):
//! users alice, bob and carol with passwords, an admin, and the database it runs on, so a test
//! may back-date rows.

use std::collections::HashMap;

use sqlx::Connection;

use uma::config::{DatabaseConfig, Secret};

use crate::support::browser::Browser;
pub use crate::support::calls::json_of;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

pub const ADMIN_PW: &str = "admin-pass-123";

pub struct Env {
    pub app: TestApp,
    /// Where the server's database is, for the few rows a test back-dates.
    database: DatabaseConfig,
    mysql: Option<String>,
}

impl Env {
    pub async fn start(mariadb: bool) -> Env {
        let dir = temp_dir("admin");
        let mut vars: HashMap<String, String> = demo_vars(&dir);
        vars.insert("UMA_ADMIN_PASSWORD".into(), ADMIN_PW.into());
        vars.insert("USE_SECURE_COOKIE".into(), "false".into());
        vars.insert("ADMIN_GROUPS".into(), "uma-admins".into());
        vars.insert("MAX_VNETS_PER_USER".into(), "3".into());
        let (database, mysql) = if mariadb {
            let url = fresh_mysql_database().await;
            vars.insert("DATABASE_URL".into(), url.clone());
            (DatabaseConfig::MySql(Secret::new(url.clone())), Some(url))
        } else {
            (DatabaseConfig::Sqlite(dir.join("uma.db")), None)
        };
        let app = spawn_with(vars, dir).await;
        let store = app.store().await;
        for name in ["alice", "bob", "carol"] {
            uma::bootstrap::set_local_password(&store, name, &format!("{name}-pass-123"), false)
                .await
                .unwrap();
        }
        store.close().await;
        Env {
            app,
            database,
            mysql,
        }
    }

    /// A signed-in browser and its CSRF token.
    pub async fn login(&self, name: &str) -> (Browser, String) {
        let b = Browser::new(&self.app.url(""));
        let pw = if name == "admin" {
            ADMIN_PW.to_owned()
        } else {
            format!("{name}-pass-123")
        };
        let csrf = b.login(name, &pw).await["csrfToken"]
            .as_str()
            .unwrap()
            .to_owned();
        (b, csrf)
    }

    /// Runs one statement on the app's database (for tests that tamper with it).
    pub async fn exec(&self, sql: &str) {
        match &self.database {
            DatabaseConfig::Sqlite(path) => {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
            DatabaseConfig::MySql(url) => {
                let mut c = sqlx::MySqlConnection::connect(url.expose()).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
        }
    }

    /// Moves the audit rows of `op_id` to `at` (ms): the writer stamps rows with "now".
    pub async fn backdate(&self, op_id: &str, at: i64) {
        let sql = "UPDATE audit_logs SET created_at = ? WHERE op_id = ?";
        match &self.database {
            DatabaseConfig::Sqlite(path) => {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .bind(op_id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            DatabaseConfig::MySql(url) => {
                let mut c = sqlx::MySqlConnection::connect(url.expose()).await.unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .bind(op_id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }

    pub async fn done(self) {
        self.app.stop().await.unwrap();
        if let Some(url) = self.mysql {
            drop_mysql_database(&url).await;
        }
    }
}

/// Asserts a 400 naming `field`.
pub async fn assert_field_error(resp: reqwest::Response, field: &str) {
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{field}: ")),
        "{body}"
    );
}

pub async fn audit_rows(env: &Env, action: &str) -> Vec<uma::store::audit::AuditRow> {
    env.app.audit_rows(action).await
}
