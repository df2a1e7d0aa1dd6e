//! Databases for tests: a fresh SQLite file, or a fresh database on the MariaDB server at
//! `UMA_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`). A missing MariaDB fails the test
//! with instructions; it is never skipped.

use sqlx::Connection;

/// Base URL of the test MariaDB server (no database part).
pub fn mysql_server() -> String {
    std::env::var("UMA_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// Creates a fresh database and returns its URL.
pub async fn fresh_mysql_database() -> String {
    let server = mysql_server();
    let mut conn = match sqlx::MySqlConnection::connect(&server).await {
        Ok(c) => c,
        Err(e) => panic!(
            "MariaDB is needed for this test and is not reachable at {server} ({e}).\n\
             Start it (`make services` does, or `start-stop-daemon --start --background --exec /usr/sbin/mariadbd`), \
             or point UMA_TEST_MYSQL_URL at one."
        ),
    };
    let name = format!("uma_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_cs"
    ))
    .execute(&mut conn)
    .await
    .expect("create test database");
    format!("{}/{name}", server.trim_end_matches('/'))
}

/// Drops a database made by [`fresh_mysql_database`].
pub async fn drop_mysql_database(url: &str) {
    let server = mysql_server();
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    if let Ok(mut conn) = sqlx::MySqlConnection::connect(&server).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
            .execute(&mut conn)
            .await;
    }
}
