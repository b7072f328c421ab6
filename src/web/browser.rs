//! What the browser-facing routes (account linking, the dashboard) share: reading a cookie
//! and redirecting after a form or a sign-in.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The value of cookie `name`, if the browser sent it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A cookie of trainyard's own pages. Served over https (the public URL's scheme) it is
/// `__Host-` prefixed and `Secure`, so the browser keeps it to this origin and path and never
/// sends it in clear; over http (a loopback development server) it is plain.
#[derive(Debug, Clone)]
pub struct SiteCookie {
    name: String,
    secure: bool,
}

impl SiteCookie {
    /// The cookie called `base` on the site at `public_url`.
    pub fn new(public_url: Option<&str>, base: &str) -> SiteCookie {
        let secure = public_url.is_some_and(|url| url.starts_with("https://"));
        SiteCookie {
            name: if secure {
                format!("__Host-{base}")
            } else {
                base.to_owned()
            },
            secure,
        }
    }

    /// Its value, if the browser sent it.
    pub fn read<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        cookie(headers, &self.name)
    }

    /// The `Set-Cookie` value giving it `value` for `max_age` seconds (0: removed).
    pub fn set(&self, value: &str, max_age: i64) -> HeaderValue {
        let text = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            self.name,
            if self.secure { "; Secure" } else { "" }
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// `303 See Other` to `location`, never cached, and sending no referrer onwards (the
/// location may carry a sign-in state).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; session=xyz"));
        headers.append(header::COOKIE, HeaderValue::from_static("sessions=no"));
        assert_eq!(cookie(&headers, "session"), Some("xyz"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "sess"), None);
        let response = see_other("/next");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/next");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn site_cookies_are_host_only_and_secure_over_https() {
        let secure = SiteCookie::new(Some("https://trainyard.example"), "trainyard_session");
        assert_eq!(
            secure.set("abc", 60),
            "__Host-trainyard_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("trainyard_session=plain; __Host-trainyard_session=host"),
        );
        assert_eq!(secure.read(&headers), Some("host"));
        let local = SiteCookie::new(Some("http://127.0.0.1:3000"), "trainyard_session");
        assert_eq!(local.read(&headers), Some("plain"));
        assert!(
            !local
                .set("x", 0)
                .to_str()
                .unwrap_or_default()
                .contains("Secure")
        );
    }
}
