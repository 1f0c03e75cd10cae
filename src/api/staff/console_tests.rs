//! Checks of the console's files and of how they are served: everything the page loads is embedded and used, the
//! modules import what they use, nothing inline or script-readable, and the security headers on every answer.

use super::*;
use actix_web::{test as web_test, App};

/// The content of every tag of `html` (between `<` and `>`), comments left out.
fn tags(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(end) = tag_end(rest) else { break };
        found.push(&rest[1..end]);
        rest = &rest[end + 1..];
    }
    found
}

/// Where the tag that `tag` starts ends: the first `>` outside a quoted attribute value.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// A tag's name and its attributes (lower-case names; values unquoted).
fn parse_tag(tag: &str) -> (String, Vec<(String, String)>) {
    let mut chars = tag.trim_end_matches('/').chars().peekable();
    let name: String = chars.by_ref().take_while(|c| !c.is_whitespace()).collect();
    let mut attributes = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let attribute: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace() && *c != '=')).collect();
        if attribute.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            match chars.next_if(|c| *c == '"' || *c == '\'') {
                Some(quote) => value = chars.by_ref().take_while(|c| *c != quote).collect(),
                None => value = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect(),
            }
        }
        attributes.push((attribute.to_ascii_lowercase(), value));
    }
    (name.to_ascii_lowercase(), attributes)
}

fn parsed_tags() -> Vec<(String, Vec<(String, String)>)> {
    tags(INDEX_HTML).into_iter().filter(|t| !t.starts_with('/') && !t.starts_with('!')).map(parse_tag).collect()
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn the_tag_parser_reads_names_and_values() {
    let (name, attributes) = parse_tag(r#"input id="a b" hidden data-x='1' value=plain"#);
    assert_eq!(name, "input");
    assert_eq!(
        attributes,
        [("id", "a b"), ("hidden", ""), ("data-x", "1"), ("value", "plain")]
            .map(|(n, v)| (n.to_string(), v.to_string()))
    );
    assert_eq!(tags("<a href='x>y'>t</a><!-- <script> -->"), ["a href='x>y'", "/a"]);
}

/// An embedded file's content.
fn asset_text(name: &str) -> &'static str {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, _, body)) => body,
        None => panic!("{name} is not embedded"),
    }
}

/// The script's modules: name and content.
fn scripts() -> impl Iterator<Item = (&'static str, &'static str)> {
    ASSETS.iter().filter(|(name, _, _)| name.ends_with(".js")).map(|(name, _, body)| (*name, *body))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// A module's imports, each `import { a, b as c } from './x.js';` (the only form the console uses: no default,
/// namespace or bare imports): the specifier, and the names it takes as (exported, local).
fn imports(module: &str, script: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("import") {
            continue;
        }
        let mut statement = line.to_string();
        while !statement.trim_end().ends_with(';') {
            let Some(more) = lines.next() else { panic!("{module}: an unfinished import") };
            statement.push(' ');
            statement.push_str(more);
        }
        let parsed =
            statement.strip_prefix("import {").and_then(|rest| rest.split_once("} from ")).and_then(|(names, from)| {
                let specifier = from.trim().strip_suffix(';')?.trim_end().strip_prefix('\'')?.strip_suffix('\'')?;
                Some((names, specifier))
            });
        let Some((names, specifier)) = parsed else {
            panic!("{module}: `{statement}` is not of the form `import {{ a, b }} from './x.js';`")
        };
        let names = names
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| match name.split_once(" as ") {
                Some((exported, local)) => (exported.trim().to_string(), local.trim().to_string()),
                None => (name.to_string(), name.to_string()),
            })
            .collect();
        found.push((specifier.to_string(), names));
    }
    found
}

/// The embedded module an import names. Specifiers resolve against the importing module's URL, so `./x.js` from
/// `/staff/assets/app.js` is `/staff/assets/x.js`: only names beside it are allowed, and only embedded ones.
fn imported_module(module: &str, specifier: &str) -> &'static str {
    let file = specifier.strip_prefix("./").filter(|file| !file.contains('/'));
    let Some(file) = file else { panic!("{module} imports {specifier}: only modules beside it, as './x.js'") };
    match scripts().find(|(name, _)| *name == file) {
        Some((name, _)) => name,
        None => panic!("{module} imports {specifier}, which is not embedded"),
    }
}

/// The names a module exports. Every export is a declaration: `export function f`, `export const C = ...`.
fn exports(module: &str, script: &'static str) -> Vec<&'static str> {
    let mut names = Vec::new();
    for rest in script.lines().filter_map(|line| line.strip_prefix("export")) {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let declared = ["function ", "const ", "let ", "class "].iter().find_map(|keyword| rest.strip_prefix(keyword));
        let Some(declared) = declared else { panic!("{module}: `export {rest}` is not an exported declaration") };
        let declared = declared.trim_start();
        names.push(&declared[..declared.find(|c| !is_name_char(c)).unwrap_or(declared.len())]);
    }
    names
}

/// A script's code with its comments, string literals, the text of its template literals (not their `${}`
/// substitutions) and its regular expression literals blanked, so that what is left can be searched for names.
fn code_only(script: &str) -> String {
    let chars: Vec<char> = script.chars().collect();
    let mut code = String::with_capacity(script.len());
    // The template literals open around the current point, innermost last, each with how many braces are open in
    // its current substitution; `in_text` while in the text of the innermost one.
    let mut templates: Vec<usize> = Vec::new();
    let mut in_text = false;
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        i += 1;
        if in_text {
            match c {
                '\\' => i += 1,
                '`' => {
                    templates.pop();
                    in_text = false;
                }
                '$' if next == Some('{') => {
                    in_text = false;
                    i += 1;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                i += 1;
                while i < chars.len() && !(chars[i - 1] == '*' && chars[i] == '/') {
                    i += 1;
                }
                i += 1;
            }
            '\'' | '"' => {
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '`' => {
                templates.push(0);
                in_text = true;
            }
            // A regular expression where an operand may start; a division after an operand.
            '/' if operand_may_start(&code) => {
                let mut in_class = false;
                while i < chars.len() && (in_class || chars[i] != '/') {
                    match chars[i] {
                        '\\' => i += 1,
                        '[' => in_class = true,
                        ']' => in_class = false,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            '{' => {
                if let Some(open) = templates.last_mut() {
                    *open += 1;
                }
                code.push(c);
            }
            '}' => match templates.last_mut() {
                Some(0) => in_text = true,
                Some(open) => {
                    *open -= 1;
                    code.push(c);
                }
                None => code.push(c),
            },
            _ => {
                code.push(c);
                continue;
            }
        }
        code.push(' ');
    }
    code
}

/// Whether what follows `code` (so far) is an operand: after an operator, an opening bracket or a keyword.
fn operand_may_start(code: &str) -> bool {
    let code = code.trim_end();
    let word = &code[code.rfind(|c| !is_name_char(c)).map_or(0, |i| i + 1)..];
    match code.chars().last() {
        None => true,
        Some(last) if "(,=:[!&|?{};+-*%<>~^".contains(last) => true,
        Some(_) => ["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "await"]
            .contains(&word),
    }
}

/// A module without its import statements (see [`imports`]), so that its uses of what it imports can be found.
fn without_imports(script: &str) -> String {
    let mut kept = String::with_capacity(script.len());
    let mut in_import = false;
    for line in script.lines() {
        in_import = in_import || line.starts_with("import");
        if !in_import {
            kept.push_str(line);
            kept.push('\n');
        }
        in_import = in_import && !line.trim_end().ends_with(';');
    }
    kept
}

/// The names in code (from [`code_only`]) that it declares (after `const`, `let`, `var`, `function`, `class`), and
/// those it uses: every other name but properties (`x.name`) and object keys (`{ name: x }`).
fn declared_and_used(code: &str) -> (Vec<&str>, Vec<&str>) {
    const DECLARING: [&str; 5] = ["const", "let", "var", "function", "class"];
    let (mut declared, mut used) = (Vec::new(), Vec::new());
    let mut previous = "";
    let mut rest = code;
    while let Some(start) = rest.find(|c: char| is_name_char(c)) {
        let before = rest[..start].trim_end();
        let after = &rest[start..];
        let name = &after[..after.find(|c| !is_name_char(c)).unwrap_or(after.len())];
        rest = &after[name.len()..];
        let property = before.ends_with('.') && !before.ends_with("...");
        if name.starts_with(|c: char| c.is_ascii_digit())
            || property
            || rest.starts_with(':')
            || DECLARING.contains(&name)
        {
            // A number, a property, an object key or a keyword that declares.
        } else if DECLARING.contains(&previous) {
            declared.push(name);
        } else {
            used.push(name);
        }
        previous = name;
    }
    (declared, used)
}

#[test]
fn the_script_reader_skips_comments_strings_and_regular_expressions() {
    let script = "import { a } from './a.js';\nconst b = `x ${a(`y ${c}`)} {z}` + 'd\\'e' + \"f\"; // g\n\
                  function h(i) { return /[/'j]\\//g.test(i) / k.l /* m */ + { n: 1 } + [...o]; }";
    let code = code_only(&without_imports(script));
    let (declared, used) = declared_and_used(&code);
    assert_eq!(declared, ["b", "h"], "{code}");
    assert_eq!(used, ["a", "c", "i", "return", "i", "k", "o"], "{code}");
    assert_eq!(imports("t.js", script), [("./a.js".to_string(), vec![("a".to_string(), "a".to_string())])]);
}

#[test]
fn every_asset_the_page_loads_is_embedded_and_every_embedded_one_is_loaded() {
    let mut loaded = Vec::new();
    for (_, attributes) in parsed_tags() {
        for name in ["src", "href"] {
            let Some(url) = attribute(&attributes, name) else { continue };
            // In-page links, and the empty icon that spares a request for /favicon.ico.
            if url.starts_with('#') || url == "data:," {
                continue;
            }
            let file = url.strip_prefix("/staff/assets/");
            assert!(file.is_some(), "{url}: the page loads nothing from outside /staff/assets/");
            let file = file.unwrap_or_default();
            assert!(ASSETS.iter().any(|(asset, _, _)| *asset == file), "{url} is not embedded");
            loaded.push(file.to_string());
        }
    }
    // And what the modules the page loads import, and what those import.
    let mut next = 0;
    while next < loaded.len() {
        let module = loaded[next].clone();
        next += 1;
        if !module.ends_with(".js") {
            continue;
        }
        for (specifier, _) in imports(&module, asset_text(&module)) {
            let imported = imported_module(&module, &specifier);
            if !loaded.iter().any(|l| l == imported) {
                loaded.push(imported.to_string());
            }
        }
    }
    for (asset, _, _) in ASSETS {
        assert!(loaded.iter().any(|l| l == asset), "{asset} is embedded but neither the page nor a module loads it");
    }
}

#[test]
fn every_import_names_what_an_embedded_module_exports() {
    let mut imported = Vec::new();
    for (module, script) in scripts() {
        assert!(!script.contains("import("), "{module}: no dynamic import");
        for (specifier, names) in imports(module, script) {
            let from = imported_module(module, &specifier);
            let exported = exports(from, asset_text(from));
            for (name, _) in names {
                assert!(exported.contains(&name.as_str()), "{module} imports {name}, which {from} does not export");
                imported.push((from, name));
            }
        }
    }
    for (module, script) in scripts() {
        for name in exports(module, script) {
            assert!(
                imported.iter().any(|(m, n)| *m == module && n == name),
                "{module} exports {name}, imported nowhere"
            );
        }
    }
}

/// A module that uses another's export must import it: one that does not would fail only when that code runs
/// (no other test runs every page). Parameters and destructured names are not seen as declarations here, so none
/// is named after another module's export.
#[test]
fn every_module_imports_what_it_uses_from_the_others() {
    let exported: Vec<(&str, &str)> = scripts()
        .flat_map(|(module, script)| exports(module, script).into_iter().map(move |name| (module, name)))
        .collect();
    for (module, script) in scripts() {
        let code = code_only(&without_imports(script));
        let (declared, used) = declared_and_used(&code);
        let imported: Vec<String> = imports(module, script)
            .into_iter()
            .flat_map(|(_, names)| names.into_iter().map(|(_, local)| local))
            .collect();
        for name in &imported {
            assert!(used.contains(&name.as_str()), "{module} imports {name} and does not use it");
        }
        for name in used {
            if declared.contains(&name) || imported.iter().any(|i| i == name) {
                continue;
            }
            if let Some((from, _)) = exported.iter().find(|(m, n)| *n == name && *m != module) {
                panic!("{module} uses {name} from {from} without importing it");
            }
        }
    }
}

#[test]
fn the_page_has_no_inline_script_or_style() {
    for (name, attributes) in parsed_tags() {
        assert_ne!(name, "style", "no <style> element");
        if name == "script" {
            assert!(attribute(&attributes, "src").is_some_and(|s| !s.is_empty()), "a <script> without src");
            assert_eq!(attribute(&attributes, "type"), Some("module"), "the script is loaded as a module");
        }
        for (attribute, value) in &attributes {
            assert_ne!(attribute, "style", "a style attribute on <{name}>");
            assert!(!attribute.starts_with("on"), "an inline handler {attribute} on <{name}>");
            assert!(!value.trim_start().to_ascii_lowercase().starts_with("javascript:"), "a javascript: URL");
        }
    }
}

#[test]
fn every_asset_has_the_content_type_of_its_kind() {
    for (name, content_type, _) in ASSETS {
        let expected = if name.ends_with(".js") { JAVASCRIPT } else { CSS };
        assert!(name.ends_with(".js") || name.ends_with(".css"), "{name}: a script or a stylesheet");
        assert_eq!(*content_type, expected, "{name}");
    }
}

#[test]
fn the_page_has_the_elements_the_end_to_end_test_uses() {
    let ids: Vec<String> = parsed_tags().iter().filter_map(|(_, a)| attribute(a, "id").map(str::to_string)).collect();
    for id in [
        "login-view",
        "login-name",
        "login-password",
        "login-submit",
        "search-input",
        "search-submit",
        "nav-audit",
        "me-name",
        "me-role",
        "logout",
        "confirm-dialog",
        "confirm-what",
        "confirm-reason",
        "confirm-ok",
        "confirm-error",
        "confirm-cancel",
        "flash",
        "view",
    ] {
        assert!(ids.iter().any(|i| i == id), "#{id} is missing");
    }
    for (module, built) in [
        ("page-account.js", "'bindings'"),
        ("page-account.js", "'data-binding-id'"),
        ("page-account.js", "'unbind danger'"),
        ("page-audit.js", "'audit-log'"),
        ("page-audit.js", "'data-action'"),
        ("app.js", "dataset.ready"),
        ("view.js", "dataset.route"),
        ("view.js", "dataset.loaded"),
        ("flash.js", "dataset.kind"),
        ("session.js", "dataset.role"),
    ] {
        assert!(asset_text(module).contains(built), "{module} builds {built}");
    }
}

/// Data from the database is put in the page as text only, and the session token is never in script's reach.
#[test]
fn the_scripts_build_no_markup_and_keep_no_token() {
    for (module, script) in scripts() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
            "sessionStorage",
            "document.cookie",
            "indexedDB",
            "http://",
            "https://",
        ] {
            assert!(!script.contains(forbidden), "{module} uses {forbidden}");
        }
        assert!(module == "api.js" || !script.contains("fetch("), "{module} calls fetch: calls go through api.js");
    }
    assert!(asset_text("api.js").contains("credentials: 'same-origin'"));
    let style = asset_text("console.css");
    assert!(!style.contains("@import") && !style.contains("url("), "console.css loads nothing");
}

#[test]
fn the_console_csp_is_the_documented_one() {
    assert_eq!(
        CONSOLE_CSP,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
}

fn assert_secured(response: &actix_web::dev::ServiceResponse) {
    let headers = response.headers();
    for (name, value) in super::headers::HEADERS {
        assert_eq!(headers.get(*name).and_then(|v| v.to_str().ok()), Some(*value), "{name}");
    }
}

#[actix_web::test]
async fn the_console_is_served_with_its_headers() {
    let staff = web::scope("/staff").wrap(actix_web::middleware::from_fn(super::headers::secure)).configure(routes);
    let app = web_test::init_service(App::new().service(staff)).await;

    let response = web_test::call_service(&app, web_test::TestRequest::get().uri("/staff").to_request()).await;
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers().get("location").and_then(|v| v.to_str().ok()), Some("/staff/"));

    let response = web_test::call_service(&app, web_test::TestRequest::get().uri("/staff/").to_request()).await;
    assert_eq!(response.status(), 200);
    assert_secured(&response);
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/html; charset=utf-8"));
    assert_eq!(web_test::read_body(response).await, INDEX_HTML.as_bytes());

    for (file, content_type, body) in ASSETS {
        let uri = format!("/staff/assets/{file}");
        let response = web_test::call_service(&app, web_test::TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(response.status(), 200, "{uri}");
        assert_secured(&response);
        assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some(*content_type));
        assert_eq!(web_test::read_body(response).await, body.as_bytes());
    }

    let response =
        web_test::call_service(&app, web_test::TestRequest::get().uri("/staff/assets/secrets.txt").to_request()).await;
    assert_eq!(response.status(), 404);
    assert_secured(&response);
    let body: serde_json::Value = web_test::read_body_json(response).await;
    assert_eq!(body["code"], "NOT_FOUND");
}
