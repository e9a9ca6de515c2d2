//! Readiness: `GET /ready` for load balancers, and a shutdown that first stops being ready
//! (while still serving calls for `shutdown_delay_ms`), then stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn ready_answers_without_a_token_and_a_shutdown_is_first_not_ready_then_stopped() {
    let app = Arc::new(spawn_app_with(|c| c.shutdown_delay_ms = 800).await);
    let account = app.connect("github").await;
    let ready = || app.client.get(format!("{}/ready", app.address)).send();
    let r = ready().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");

    let stopping = {
        let app = app.clone();
        tokio::spawn(async move { app.stop().await })
    };
    let start = Instant::now();
    loop {
        let r = ready().await.unwrap();
        if r.status() == 503 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["status"], "draining", "{body}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never reported draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not ready, yet still serving calls during the delay.
    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    stopping.await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(700), "the delay was kept");
    assert!(
        reqwest::Client::new()
            .get(format!("{}/ready", app.address))
            .send()
            .await
            .is_err(),
        "stopped: no more connections"
    );
}
