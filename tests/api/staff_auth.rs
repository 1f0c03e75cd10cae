//! Staff logins, tokens, the lockout, the session cookie and the security headers; staff management and the audit
//! log's own routes, per role.

use crate::helpers::{spawn_app, TestApp};
use crate::staff_support::STAFF_PASSWORD;
use ebill::domain::staff::Role;
use reqwest::Method;
use serde_json::{json, Value};

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers().get("set-cookie").expect("a Set-Cookie header").to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_login_sets_an_http_only_strict_cookie_that_opens_the_staff_api() {
    let app = spawn_app().await;
    app.add_staff("li.na", Role::Operator).await;
    let response = app.staff_login("li.na", STAFF_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = set_cookie(&response);
    for part in ["ebill_staff=", "Path=/staff", "HttpOnly", "SameSite=Strict", "Max-Age=28800"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "sandbox serves plain http on localhost: {cookie}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["staff"], json!({ "name": "li.na", "role": "operator" }));
    let token = cookie.split(';').next().unwrap().trim_start_matches("ebill_staff=");
    assert_eq!(token, body["token"].as_str().unwrap());

    let me = app.client.get(app.url("/staff/v1/me")).header("cookie", format!("ebill_staff={token}")).send().await;
    let me = me.unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["role"], "operator");
    assert_eq!(me["permissions"], json!(["lookup", "reveal", "unbind", "resend", "query_order"]));

    let logins = app.audit_entries("login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!((logins[0].outcome.as_str(), logins[0].ip.as_str()), ("ok", "127.0.0.1"));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_names_are_refused_alike_and_audited() {
    let app = spawn_app().await;
    app.add_staff("li.na", Role::Viewer).await;
    for (name, password) in [("li.na", "not-the-password"), ("nobody", STAFF_PASSWORD)] {
        let response = app.staff_login(name, password).await;
        assert_eq!(response.status(), 401);
        assert!(response.headers().get("set-cookie").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "BAD_CREDENTIALS");
    }
    let failures = app.audit_entries("login").await;
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|entry| entry.outcome == "failed"));
    assert!(failures.iter().any(|entry| entry.staff_name == "nobody"));
}

fn code_of(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_until_the_lock_ends_or_an_admin_lifts_it() {
    let app = spawn_app().await;
    app.add_staff("li.na", Role::Viewer).await;
    for _ in 0..5 {
        assert_eq!(app.staff_login("li.na", "not-the-password").await.status(), 401);
    }
    // Locked: even the right password does not open it, and the answer is the one of a wrong password (a lock does
    // not tell which names exist).
    let locked = app.staff_login("li.na", STAFF_PASSWORD).await;
    assert_eq!(locked.status(), 401);
    assert_eq!(code_of(&locked.json().await.unwrap()), "BAD_CREDENTIALS");
    let whys: Vec<String> = app
        .audit_entries("login")
        .await
        .iter()
        .map(|e| e.detail.clone().unwrap_or_default())
        .filter(|d| d.contains("\"locked\""))
        .collect();
    assert_eq!(whys.len(), 2, "the fifth failure locked, the sixth attempt met the lock: {whys:?}");

    app.clock.advance_ms(15 * 60 * 1000 + 1);
    assert_eq!(app.staff_login("li.na", STAFF_PASSWORD).await.status(), 200);

    // Locked again, then lifted by an admin.
    for _ in 0..5 {
        app.staff_login("li.na", "not-the-password").await;
    }
    assert_eq!(app.staff_login("li.na", STAFF_PASSWORD).await.status(), 401);
    let admin = app.staff(Role::Admin).await;
    let (status, answer) = app
        .staff_call(
            &admin,
            Method::PATCH,
            "/staff/v1/staff/li.na",
            Some(&json!({ "unlock": true, "reason": "来电核实身份" })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["staff"]["locked_until"], Value::Null);
    assert_eq!(app.staff_login("li.na", STAFF_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_lock() {
    let app = spawn_app().await;
    app.add_staff("li.na", Role::Viewer).await;
    let guesses = (0..20).map(|n| app.staff_login("li.na", if n == 19 { STAFF_PASSWORD } else { "not-the-password" }));
    let answers = futures_util::future::join_all(guesses).await;
    assert!(answers.iter().filter(|r| r.status() == 200).count() <= 1);
    let checked = app
        .audit_entries("login")
        .await
        .iter()
        .filter(|e| e.detail.as_deref().is_some_and(|d| !d.contains("\"locked\"")))
        .count();
    assert!(checked <= 5, "at most 5 passwords were checked before the lock, not {checked}");
    assert_eq!(app.staff_login("li.na", STAFF_PASSWORD).await.status(), 401, "locked now");
}

#[tokio::test]
async fn one_address_cannot_guess_across_many_names() {
    let app = spawn_app().await;
    for n in 0..30 {
        assert_eq!(app.staff_login(&format!("name{n}"), "not-the-password").await.status(), 401);
    }
    let response = app.staff_login("name30", "not-the-password").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(code_of(&response.json().await.unwrap()), "TOO_MANY_LOGINS");
}

#[tokio::test]
async fn logging_out_or_a_new_password_ends_the_sessions() {
    let app = spawn_app().await;
    let viewer = app.staff(Role::Viewer).await;
    // Sessions end to the second: tokens of the second before the logout are over.
    app.clock.advance_ms(1000);
    let (status, _) = app.staff_call(&viewer, Method::POST, "/staff/v1/logout", None).await;
    assert_eq!(status, 204);
    let (status, body) = app.staff_get(&viewer, "/staff/v1/me").await;
    assert_eq!((status, code_of(&body)), (401, "SESSION_ENDED"), "the token is over, not only the cookie");

    let response = app.staff_login("viewer", STAFF_PASSWORD).await;
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let again = crate::staff_support::StaffSession { name: "viewer".into(), token };
    assert_eq!(app.staff_get(&again, "/staff/v1/me").await.0, 200, "a new login works at once");
    app.clock.advance_ms(1000);
    let admin = app.staff(Role::Admin).await;
    let reset = json!({ "reset_password": true, "reason": "密码可能泄露" });
    let (status, answer) = app.staff_call(&admin, Method::PATCH, "/staff/v1/staff/viewer", Some(&reset)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, body) = app.staff_get(&again, "/staff/v1/me").await;
    assert_eq!((status, code_of(&body)), (401, "SESSION_ENDED"));
    assert_eq!(app.staff_login("viewer", STAFF_PASSWORD).await.status(), 401, "the old password is gone");
    let new_password = answer["password"].as_str().unwrap();
    assert_eq!(app.staff_login("viewer", new_password).await.status(), 200);
}

#[tokio::test]
async fn customer_and_staff_tokens_never_open_each_others_routes() {
    let app = spawn_app().await;
    let customer = app.login_wechat("zhang").await;
    let response = app.authed(Method::GET, "/staff/v1/me", &customer.access_token, None).await;
    assert_eq!(response.status(), 401);
    let staff = app.staff(Role::Admin).await;
    let response = app.authed(Method::GET, "/api/v1/bindings", &staff.token, None).await;
    assert_eq!(response.status(), 401);
    let (status, body) = app.staff_get(&staff, "/staff/v1/me").await;
    assert_eq!((status, body["name"].as_str()), (200, Some("admin")));
    let none = app.get("/staff/v1/me").await;
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["code"], "MISSING_TOKEN");
}

#[tokio::test]
async fn a_disabled_member_is_shut_out_at_once() {
    let app = spawn_app().await;
    let admin = app.staff(Role::Admin).await;
    let viewer = app.staff(Role::Viewer).await;
    let patch = json!({ "disabled": true, "reason": "员工已离职" });
    let (status, _) = app.staff_call(&admin, Method::PATCH, "/staff/v1/staff/viewer", Some(&patch)).await;
    assert_eq!(status, 200);
    let (status, body) = app.staff_get(&viewer, "/staff/v1/me").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("STAFF_DISABLED")));
    assert_eq!(app.staff_login("viewer", STAFF_PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn a_cookie_request_from_another_site_cannot_change_anything() {
    let app = spawn_app().await;
    let admin = app.staff(Role::Admin).await;
    let cookie = format!("ebill_staff={}", admin.token);
    let forged = app
        .client
        .post(app.url("/staff/v1/staff"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(&json!({ "name": "mallory", "role": "admin", "reason": "takeover" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["code"], "CROSS_SITE");
    let same_site = app
        .client
        .post(app.url("/staff/v1/staff"))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .json(&json!({ "name": "wang.fang", "role": "viewer", "reason": "新同事入职" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 201);
}

#[tokio::test]
async fn the_console_and_its_api_carry_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/staff/", "/staff/v1/me"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers.get("content-security-policy").expect("a CSP").to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer");
        assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    }
}

#[tokio::test]
async fn bad_login_bodies_get_clear_errors() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/staff/v1/login"))
        .header("content-type", "application/json")
        .body("{\"name\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
    let huge = json!({ "name": "li.na", "password": "x".repeat(2 * 1024 * 1024) });
    let response = app.post_json("/staff/v1/login", &huge).await;
    assert_eq!(response.status(), 413);
}

async fn members(app: &TestApp, role: Role) -> (u16, Value) {
    let session = app.staff(role).await;
    app.staff_get(&session, "/staff/v1/staff").await
}

#[tokio::test]
async fn only_admins_manage_staff_and_each_denial_is_audited() {
    let app = spawn_app().await;
    assert_eq!(members(&app, Role::Viewer).await.0, 403);
    assert_eq!(members(&app, Role::Operator).await.0, 403);
    let (status, body) = members(&app, Role::Admin).await;
    assert_eq!(status, 200);
    assert_eq!(body["staff"].as_array().unwrap().len(), 3);
    let denied: Vec<_> =
        app.audit_entries("list_staff").await.into_iter().filter(|entry| entry.outcome == "denied").collect();
    assert_eq!(denied.len(), 2);
}

#[tokio::test]
async fn an_admin_adds_a_member_whose_generated_password_is_shown_once() {
    let app = spawn_app().await;
    let admin = app.staff(Role::Admin).await;
    let (status, body) = app
        .staff_post(
            &admin,
            "/staff/v1/staff",
            &json!({ "name": "wang.fang", "role": "operator", "reason": "新同事入职" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let password = body["password"].as_str().expect("a generated password");
    assert_eq!(password.len(), 20);
    assert_eq!(app.staff_login("wang.fang", password).await.status(), 200);
    let (status, body) = app
        .staff_post(&admin, "/staff/v1/staff", &json!({ "name": "wang.fang", "role": "viewer", "reason": "再加一次" }))
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("NAME_TAKEN")));
    let (status, body) =
        app.staff_post(&admin, "/staff/v1/staff", &json!({ "name": "x", "role": "root", "reason": "随便试试" })).await;
    assert_eq!(status, 400, "{body}");
    let stored = sqlx::query_scalar::<_, String>("SELECT password_hash FROM staff WHERE name = 'wang.fang'")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(password));
    let added = app.audit_entries("add_staff").await;
    assert!(added.iter().any(|e| e.record_id == "wang.fang" && e.reason.as_deref() == Some("新同事入职")));
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted() {
    let app = spawn_app().await;
    let admin = app.staff(Role::Admin).await;
    let patch = json!({ "role": "viewer", "reason": "试试降级" });
    let (status, body) = app.staff_call(&admin, Method::PATCH, "/staff/v1/staff/admin", Some(&patch)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("LAST_ADMIN")));
    let refusals = app.audit_entries("change_staff").await;
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].outcome, "failed", "a refused change is audited too");
    let (status, _) = app.staff_get(&admin, "/staff/v1/me").await;
    assert_eq!(status, 200);
}
