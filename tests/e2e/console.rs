//! End-to-end test of the customer-service console (`/staff/`) in headless Chromium: an operator finds an account by
//! its number, unbinds a customer with a reason, and an admin reads that unbinding, with its reason, in the audit log.
//! Only what the page shows is read, except that the customer's own API confirms the binding is gone.

use super::app::{spawn_demo_app, DemoApp};
use super::webdriver::Session;
use super::{open_browser, Browser, ONE_BROWSER_AT_A_TIME, WAIT};
use anyhow::{bail, ensure, Context, Result};
use ebill::db::audit::AuditEntry;
use ebill::domain::staff::Role;
use ebill::sessions::staff_accounts::add_staff;
use serde_json::{json, Value};
use std::time::Instant;

const ACCOUNT_NO: &str = "3100012345";
const OPERATOR: &str = "op.li";
const ADMIN: &str = "admin.wang";
const PASSWORD: &str = "console-e2e-password-1";
const REASON: &str = "客户来电要求解除绑定（工单 E2E-7）";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_unbinds_a_customer_and_the_admin_reads_it_in_the_audit_log() -> Result<()> {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let started = Instant::now();
    let Some(browser) = open_browser().await? else { return Ok(()) };
    let app = spawn_demo_app().await?;
    let now = app.state.now_ms();
    for (name, role) in [(OPERATOR, Role::Operator), (ADMIN, Role::Admin)] {
        // As `ebill staff add` does on the command line.
        let audit = AuditEntry::command_line("e2e", "add_staff", "staff", name);
        add_staff(&app.state.db, now, name, role, Some(PASSWORD), &audit)
            .await
            .with_context(|| format!("adding {name}"))?;
    }
    let customer = Customer::log_in(&app, "console-e2e").await?;
    let binding_id = customer.bind(ACCOUNT_NO, "张三", "1234").await?;
    let row = format!("#bindings tr[data-binding-id='{binding_id}']");

    let staff = Staff { page: &browser.session };
    staff.open(&app.url("/staff/")).await?;
    staff.log_in(OPERATOR, PASSWORD, "operator").await?;
    ensure!(staff.is_hidden("#nav-audit").await?, "an operator sees no audit link");

    // The search box takes the account number and, with one match, lands on the account page.
    staff.page.type_into("#search-input", ACCOUNT_NO, WAIT).await?;
    staff.page.click("#search-submit", WAIT).await?;
    staff.loaded("account").await.context("the account page")?;
    staff.page.wait_visible(&row, WAIT).await.context("the customer's binding on the account page")?;

    // Unbinding asks what it will do and why; a reason too short is refused in the dialog.
    staff.page.click(&format!("{row} .unbind"), WAIT).await?;
    staff.page.wait_visible("#confirm-dialog", WAIT).await?;
    let what = staff.page.text("#confirm-what").await?;
    ensure!(what.contains(ACCOUNT_NO) && what.contains("张*"), "the confirmation says what it will do: {what}");
    staff.page.type_into("#confirm-reason", "短", WAIT).await?;
    staff.page.click("#confirm-ok", WAIT).await?;
    staff.page.wait_visible("#confirm-error", WAIT).await.context("a short reason is refused")?;
    staff.page.type_into("#confirm-reason", REASON, WAIT).await?;
    staff.page.click("#confirm-ok", WAIT).await?;
    staff.gone(&row).await.context("the binding leaves the account page")?;
    staff.page.wait_visible("#flash[data-kind='ok']", WAIT).await?;
    ensure!(staff.is_hidden("#confirm-dialog").await?, "the dialog closes once the server has unbound");
    ensure!(customer.bindings().await?.is_empty(), "the customer's binding is gone from the customer's API too");

    // The audit log is for admins: the operator is told so.
    staff.page.goto(&app.url("/staff/#/audit")).await?;
    staff.page.wait_visible("#flash[data-kind='error']", WAIT).await.context("an operator may not read the audit")?;
    let refused = staff.page.text("#flash").await?;
    ensure!(refused.contains("无权限"), "the refusal says no permission: {refused}");

    staff.page.click("#logout", WAIT).await?;
    staff.page.wait_visible("#login-view #login-name", WAIT).await.context("logging out")?;
    staff.log_in(ADMIN, PASSWORD, "admin").await?;
    staff.page.click("#nav-audit", WAIT).await?;
    staff.loaded("audit").await.context("the audit page")?;
    let entry = "#audit-log tr[data-action='unbind']";
    staff.page.wait_visible(entry, WAIT).await.context("the unbind entry")?;
    let text = staff.page.text(entry).await?;
    ensure!(text.contains(REASON) && text.contains(OPERATOR), "the entry names the operator and the reason: {text}");
    super::save_screenshot(staff.page, "console").await?;

    let Browser { session, _driver } = browser;
    session.close().await?;
    eprintln!("console end-to-end test took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The staff console's steps, each waiting for what the page shows.
struct Staff<'a> {
    page: &'a Session,
}

impl Staff<'_> {
    /// Opens the console; its script ran (the CSP let it) once the body says ready, and its stylesheet applies.
    async fn open(&self, url: &str) -> Result<()> {
        self.page.goto(url).await?;
        self.page.wait_visible("body[data-ready='true'] #login-name", WAIT).await.context("the console starts")?;
        let styled = "return document.styleSheets.length > 0 && document.styleSheets[0].cssRules.length > 0;";
        self.page.wait_until("the console's stylesheet", styled, json!([]), WAIT).await.map(drop)
    }

    async fn log_in(&self, name: &str, password: &str, role: &str) -> Result<()> {
        self.page.type_into("#login-name", name, WAIT).await?;
        self.page.type_into("#login-password", password, WAIT).await?;
        self.page.click("#login-submit", WAIT).await?;
        self.page.wait_visible(&format!("#me-role[data-role='{role}']"), WAIT).await.context("logged in")?;
        let shown = self.page.text("#me-name").await?;
        ensure!(shown == name, "the console shows who is logged in: {shown}");
        Ok(())
    }

    /// Waits until the page for `route` has rendered its data.
    async fn loaded(&self, route: &str) -> Result<()> {
        self.page.wait_visible(&format!("#view[data-route='{route}'][data-loaded='true']"), WAIT).await
    }

    /// Waits until nothing matches `css` on a rendered page.
    async fn gone(&self, css: &str) -> Result<()> {
        let script = "return document.querySelector('#view[data-loaded=\"true\"]') !== null \
            && document.querySelector(arguments[0]) === null;";
        self.page.wait_until(&format!("{css} to be gone"), script, json!([css]), WAIT).await.map(drop)
    }

    async fn is_hidden(&self, css: &str) -> Result<bool> {
        let script = "const e = document.querySelector(arguments[0]); \
            return !e || !!e.closest('[hidden]') || e.getClientRects().length === 0;";
        Ok(self.page.execute(script, json!([css])).await? == json!(true))
    }
}

/// A WeChat customer of the sandbox, logged in through our API as the mini-program would.
struct Customer {
    http: reqwest::Client,
    address: String,
    token: String,
}

impl Customer {
    async fn log_in(app: &DemoApp, user: &str) -> Result<Customer> {
        let http = reqwest::Client::new();
        let code = post(&http, &app.url("/sandbox/wechat/login-codes"), None, json!({ "user": user })).await?;
        let code = code["code"].as_str().context("a login code")?;
        let session = post(&http, &app.url("/api/v1/auth/wechat/login"), None, json!({ "code": code })).await?;
        let token = session["access_token"].as_str().context("an access token")?.to_string();
        Ok(Customer { http, address: app.address.clone(), token })
    }

    /// Binds an account (the proof is the last 4 digits of its phone); answers the binding's id.
    async fn bind(&self, account_no: &str, holder_name: &str, proof: &str) -> Result<String> {
        let body = json!({ "account_no": account_no, "holder_name": holder_name, "proof": proof });
        let binding = post(&self.http, &format!("{}/api/v1/bindings", self.address), Some(&self.token), body).await?;
        Ok(binding["id"].as_str().context("a binding id")?.to_string())
    }

    async fn bindings(&self) -> Result<Vec<Value>> {
        let response =
            self.http.get(format!("{}/api/v1/bindings", self.address)).bearer_auth(&self.token).send().await?;
        ensure!(response.status().is_success(), "GET /api/v1/bindings: {}", response.status());
        let body: Value = response.json().await?;
        Ok(body["bindings"].as_array().cloned().unwrap_or_default())
    }
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Result<Value> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("POST {url}: {status} {answer}");
    }
    Ok(answer)
}
