//! A small W3C WebDriver client on reqwest: chromedriver on a free port, one headless Chromium session, and the few
//! commands the demo's test needs. Everything waits by polling, so that the test never sleeps a fixed time.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which W3C WebDriver answers an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(200);

/// The first `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running chromedriver, killed when dropped.
pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    pub async fn start(binary: &Path) -> Result<Chromedriver> {
        let port = free_port()?;
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = client.get(format!("{}/status", driver.url)).send().await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return Ok(driver);
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready on port {port}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session. Deleted (which closes Chromium) by [`Session::close`], or when dropped, for instance by a
/// failing test.
pub struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:{port}` of chromedriver.
    driver_url: String,
    id: String,
    closed: bool,
}

/// An element reference, valid until the page replaces the element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    /// A headless Chromium session: `chromium` is the browser binary to use, when known.
    pub async fn start(driver: &Chromedriver, chromium: Option<&Path>) -> Result<Session> {
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"],
        });
        if let Some(binary) = chromium {
            options["binary"] = json!(binary.display().to_string());
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": options } }
        });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let response = http.post(format!("{}/session", driver.url)).json(&capabilities).send().await?;
        let status = response.status();
        let body: Value = response.json().await.context("the new-session answer")?;
        let id = body["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("chromedriver refused the session ({status}): {body}"))?
            .to_string();
        Ok(Session { http, driver_url: driver.url.clone(), id, closed: false })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/session/{}{}", self.driver_url, self.id, path);
        let request = self.http.request(method.clone(), &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let body: Value = response.json().await.with_context(|| format!("the answer to {method} {path}"))?;
        if !status.is_success() {
            bail!(WebDriverError {
                error: body["value"]["error"].as_str().unwrap_or("unknown error").to_string(),
                message: body["value"]["message"].as_str().unwrap_or_default().lines().next().unwrap_or("").into(),
            });
        }
        Ok(body["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await.map(drop)
    }

    /// The element `css` selects now, if any.
    pub async fn find(&self, css: &str) -> Result<Element> {
        let value = self
            .command(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css })))
            .await?;
        value[ELEMENT_KEY].as_str().map(|id| Element(id.to_string())).ok_or_else(|| anyhow!("no element id in {value}"))
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and answers what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    /// Polls `script` until it returns something truthy (not null, false, 0 or ""), and answers that.
    pub async fn wait_until(&self, what: &str, script: &str, args: Value, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match self.execute(script, args.clone()).await {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(_) => {}
                Err(error) => last_error = Some(error),
            }
            if Instant::now() > deadline {
                let page = self.page_text().await.unwrap_or_else(|e| format!("(page text unavailable: {e})"));
                let error = last_error.map(|e| format!("; last error: {e}")).unwrap_or_default();
                bail!("timed out after {timeout:?} waiting for {what}{error}\n--- the page said:\n{page}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `css` selects an element that is shown (not inside anything `hidden`).
    pub async fn wait_visible(&self, css: &str, timeout: Duration) -> Result<()> {
        const SCRIPT: &str = "const e = document.querySelector(arguments[0]); \
            return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;";
        self.wait_until(&format!("{css} to be shown"), SCRIPT, json!([css]), timeout).await.map(drop)
    }

    /// Clicks the element `css` selects once it is shown and enabled, finding it again if the page replaced it.
    pub async fn click(&self, css: &str, timeout: Duration) -> Result<()> {
        const READY: &str = "const e = document.querySelector(arguments[0]); \
            return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0 && !e.disabled;";
        let deadline = Instant::now() + timeout;
        loop {
            self.wait_until(&format!("{css} to be clickable"), READY, json!([css]), timeout).await?;
            let element = self.find(css).await?;
            match self.command(reqwest::Method::POST, &format!("/element/{}/click", element.0), Some(json!({}))).await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() < deadline && is_retryable(&error) => tokio::time::sleep(POLL).await,
                Err(error) => return Err(error.context(format!("clicking {css}"))),
            }
        }
    }

    /// Replaces the text of the input `css` selects.
    pub async fn type_into(&self, css: &str, text: &str, timeout: Duration) -> Result<()> {
        self.wait_visible(css, timeout).await?;
        let element = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{}/clear", element.0), Some(json!({}))).await?;
        self.command(reqwest::Method::POST, &format!("/element/{}/value", element.0), Some(json!({ "text": text })))
            .await
            .map(drop)
    }

    /// The text of the element `css` selects, as the user sees it.
    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self.find(css).await?;
        let value = self.command(reqwest::Method::GET, &format!("/element/{}/text", element.0), None).await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The page's visible text, cut to a few thousand characters: what a failing test prints.
    pub async fn page_text(&self) -> Result<String> {
        let value = self.execute("return document.body ? document.body.innerText : '';", json!([])).await?;
        Ok(value.as_str().unwrap_or_default().chars().take(4000).collect())
    }

    /// Resizes the window so that its viewport holds the page's full height (at least `min_height`), so that a
    /// screenshot shows all of it.
    pub async fn fit_window_to_page(&self, width: u32, min_height: u32) -> Result<()> {
        const SIZES: &str = "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];";
        let sizes = self.execute(SIZES, json!([])).await?;
        let page = sizes[0].as_u64().unwrap_or(min_height as u64).clamp(min_height as u64, 4000);
        let frame = sizes[1].as_u64().unwrap_or(0).min(400);
        let height = page + frame;
        self.command(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height })))
            .await
            .map(drop)
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let value = self.command(reqwest::Method::GET, "/screenshot", None).await?;
        let encoded = value.as_str().ok_or_else(|| anyhow!("no screenshot in the answer"))?;
        Ok(base64::engine::general_purpose::STANDARD.decode(encoded)?)
    }

    /// Deletes the session, which closes the browser.
    pub async fn close(mut self) -> Result<()> {
        self.closed = true;
        let url = format!("{}/session/{}", self.driver_url, self.id);
        self.http.delete(url).send().await?;
        Ok(())
    }
}

impl Drop for Session {
    /// A test that failed still closes its browser: a plain blocking DELETE, since a drop cannot await.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let Some(authority) = self.driver_url.strip_prefix("http://") else { return };
        let Ok(mut stream) = TcpStream::connect(authority) else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.id
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            read_one_answer(&mut stream);
        }
    }
}

/// Reads one HTTP answer to its end (chromedriver may keep the connection open), or until the stream fails.
fn read_one_answer(stream: &mut TcpStream) {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        match length {
            Some(length) if answer.len() >= head_end + 4 + length => return,
            Some(_) => {}
            // Chunked or unknown: the status line is all that matters here.
            None => return,
        }
    }
}

/// A WebDriver error answer: its `error` code and the first line of its message.
#[derive(Debug)]
pub struct WebDriverError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "webdriver: {}: {}", self.error, self.message)
    }
}

impl std::error::Error for WebDriverError {}

/// Errors of a page that changed under the command: the next look may succeed.
fn is_retryable(error: &anyhow::Error) -> bool {
    error.downcast_ref::<WebDriverError>().is_some_and(|e| {
        matches!(
            e.error.as_str(),
            "stale element reference" | "element click intercepted" | "element not interactable" | "no such element"
        )
    })
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
