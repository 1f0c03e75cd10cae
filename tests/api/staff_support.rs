//! Staff sessions for the tests: members added through the library (as `ebill staff add` does), logged in over HTTP.

use crate::helpers::TestApp;
use ebill::db::audit::AuditEntry;
use ebill::domain::staff::Role;
use ebill::sessions::staff_accounts::add_staff;
use reqwest::Method;
use serde_json::Value;

pub const STAFF_PASSWORD: &str = "correct-horse-battery-staple";

/// A logged-in member of staff.
pub struct StaffSession {
    pub name: String,
    pub token: String,
}

impl TestApp {
    /// Adds a member with [`STAFF_PASSWORD`].
    pub async fn add_staff(&self, name: &str, role: Role) {
        let audit = AuditEntry::command_line("test", "add_staff", "staff", name);
        add_staff(&self.state.db, self.clock_now_ms(), name, role, Some(STAFF_PASSWORD), &audit)
            .await
            .expect("staff added");
    }

    pub async fn staff_login(&self, name: &str, password: &str) -> reqwest::Response {
        self.post_json("/staff/v1/login", &serde_json::json!({ "name": name, "password": password })).await
    }

    /// Adds a member named after the role (`viewer`, `operator`, `admin`) and logs it in.
    pub async fn staff(&self, role: Role) -> StaffSession {
        self.staff_named(role.as_str(), role).await
    }

    pub async fn staff_named(&self, name: &str, role: Role) -> StaffSession {
        self.add_staff(name, role).await;
        let response = self.staff_login(name, STAFF_PASSWORD).await;
        assert_eq!(response.status(), 200, "staff login");
        let body: Value = response.json().await.unwrap();
        StaffSession { name: name.into(), token: body["token"].as_str().expect("a staff token").into() }
    }

    /// A request with the member's token as a bearer token; the status and the JSON answer (`Null` if none).
    pub async fn staff_call(
        &self,
        staff: &StaffSession,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let response = self.authed(method, path, &staff.token, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn staff_get(&self, staff: &StaffSession, path: &str) -> (u16, Value) {
        self.staff_call(staff, Method::GET, path, None).await
    }

    pub async fn staff_post(&self, staff: &StaffSession, path: &str, body: &Value) -> (u16, Value) {
        self.staff_call(staff, Method::POST, path, Some(body)).await
    }

    /// The audit entries for `action`, newest first, straight from the database.
    pub async fn audit_entries(&self, action: &str) -> Vec<ebill::db::audit::StoredEntry> {
        let filter = ebill::db::audit::AuditFilter { action: Some(action.into()), ..Default::default() };
        ebill::db::audit::search(self.state.db.pool(), &filter, 1000).await.expect("audit search")
    }
}
