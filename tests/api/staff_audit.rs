//! The audit log: admins search it and export it; nobody, not even a statement of ours, rewrites it.

use crate::helpers::spawn_app;
use ebill::domain::staff::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn admins_search_the_log_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let admin = app.staff(Role::Admin).await;
    for n in 0..5 {
        let body = json!({ "name": format!("member{n}"), "role": "viewer", "reason": "新同事入职" });
        assert_eq!(app.staff_post(&admin, "/staff/v1/staff", &body).await.0, 201);
    }
    let (status, page) = app.staff_get(&admin, "/staff/v1/audit?action=add_staff&staff=admin&limit=3").await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["member4", "member3", "member2"]);
    assert_eq!(entries[0]["reason"], "新同事入职");
    assert_eq!(entries[0]["ip"], "127.0.0.1");
    assert_eq!(entries[0]["detail"], json!({ "role": "viewer" }));
    let before = page["next_before"].as_str().expect("another page");
    let (_, next) =
        app.staff_get(&admin, &format!("/staff/v1/audit?action=add_staff&staff=admin&before={before}")).await;
    let ids: Vec<&str> = next["entries"].as_array().unwrap().iter().map(|e| e["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["member1", "member0"]);
    assert_eq!(next["next_before"], Value::Null);
    // Reading the log is itself in the log.
    assert_eq!(app.audit_entries("search_audit").await.len(), 2);
    let (status, body) = app.staff_get(&admin, "/staff/v1/audit?before=abc").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_CURSOR")));
}

#[tokio::test]
async fn the_export_is_csv_and_only_for_admins() {
    let app = spawn_app().await;
    let operator = app.staff(Role::Operator).await;
    let response = app.authed(reqwest::Method::GET, "/staff/v1/audit.csv", &operator.token, None).await;
    assert_eq!(response.status(), 403);
    let admin = app.staff(Role::Admin).await;
    let response = app.authed(reqwest::Method::GET, "/staff/v1/audit.csv?action=login", &admin.token, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
    assert!(response.headers().get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment;"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("staff,action,record_kind,record_id,reason,outcome,ip"));
    assert_eq!(lines.len(), 3, "a header and the two logins: {text}");
    assert!(lines[1].contains(",admin,login,") && lines[2].contains(",operator,login,"), "{text}");
    let exports = app.audit_entries("export_audit").await;
    let outcomes: Vec<(&str, &str)> = exports.iter().map(|e| (e.staff_name.as_str(), e.outcome.as_str())).collect();
    assert_eq!(outcomes, [("admin", "ok"), ("operator", "denied")]);
}

#[tokio::test]
async fn the_database_refuses_to_rewrite_or_delete_the_log() {
    let app = spawn_app().await;
    app.staff(Role::Viewer).await;
    let pool = app.state.db.pool();
    assert!(sqlx::query("UPDATE audit_log SET reason = 'rewritten'").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log").execute(pool).await.is_err());
    let kept = app.audit_entries("login").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].reason, None);
}
