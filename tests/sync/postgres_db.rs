//! A fresh PostgreSQL database per test, on the server that
//! `scripts/test-services.sh` starts. Kept out of `harness.rs`: naming sqlx
//! there would load it into every test that uses the harness.

/// A fresh, empty PostgreSQL database for one test.
pub(crate) async fn fresh_postgres_database() -> String {
    let admin_url = std::env::var("RAPTORFLOW_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "RAPTORFLOW_TEST_POSTGRES_URL is not set: run the tests with ./scripts/test.sh, \
             which starts a private PostgreSQL server on a loopback port"
        )
    });
    let pool = sqlx::PgPool::connect(&admin_url).await.expect("the test PostgreSQL server is reachable");
    let name = format!("rf_test_{}", uuid_like());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}_{}", std::process::id())
}
