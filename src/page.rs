//! The HTML page served at `/`: version, configuration, readiness and links. Pure rendering;
//! every value that comes from outside (flags, the API server) is escaped.

use std::fmt::Write;

use crate::cli::Config;
use crate::health::Health;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders the page.
pub fn render(config: &Config, health: &Health) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>kube-cluster-binpacking-exporter</title></head><body>\n\
         <h1>kube-cluster-binpacking-exporter</h1>\n<p>version ",
    );
    escape_html(&mut out, env!("CARGO_PKG_VERSION"));
    out.push_str("</p>\n<ul>\n<li><a href=\"");
    escape_html(&mut out, &config.metrics_path);
    out.push_str("\">");
    escape_html(&mut out, &config.metrics_path);
    out.push_str(
        "</a></li>\n<li><a href=\"/healthz\">/healthz</a></li>\n\
         <li><a href=\"/readyz\">/readyz</a></li>\n<li><a href=\"/sync\">/sync</a></li>\n</ul>\n",
    );
    out.push_str("<h2>Status</h2>\n<p>");
    match health.readiness() {
        Ok(()) => out.push_str("ready"),
        Err(reason) => {
            out.push_str("not ready: ");
            escape_html(&mut out, &reason);
        }
    }
    if let Some(version) = health.server_version() {
        out.push_str("<br>api server ");
        escape_html(&mut out, &version);
    }
    out.push_str("</p>\n<h2>Configuration</h2>\n<table>\n");
    let groups: Vec<String> = config.label_groups.iter().map(|g| g.join(",")).collect();
    let rows: [(&str, String); 7] = [
        ("resources", config.resources.names().join(",")),
        ("label groups", groups.join(" | ")),
        (
            "node selector",
            config.node_selector.clone().unwrap_or_default(),
        ),
        ("node metrics", config.families.node.to_string()),
        (
            "list page size",
            config
                .list_page_size
                .map_or("unpaged".into(), |n| n.to_string()),
        ),
        (
            "resync period",
            config
                .resync_period
                .map_or("disabled".into(), |d| format!("{}s", d.as_secs())),
        ),
        ("metrics address", config.metrics_addr.to_string()),
    ];
    for (name, value) in rows {
        let _ = write!(out, "<tr><th>{name}</th><td>");
        escape_html(&mut out, &value);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        let mut out = String::new();
        escape_html(&mut out, "<script>alert('x\"&')</script>");
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&quot;&amp;&#39;)&lt;/script&gt;"
        );
    }
}
