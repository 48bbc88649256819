//! Atom feeds (RFC 4287) with the paging links of RFC 5005: a feed and its entries as plain
//! values, written out as XML. Every text and address goes through `escape::markup` (and loses
//! any character XML 1.0 cannot carry), so no stored string can open or close an element.

use crate::escape::markup;

/// A link of the feed: `rel` (`self`, `first`, `next`, `previous`, `alternate`) and its address.
#[derive(Debug, Clone)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// A stable IRI (a `urn:uuid:` of the event).
    pub id: String,
    pub title: String,
    /// The page the entry is about.
    pub link: String,
    /// RFC 3339.
    pub updated: String,
    pub summary: String,
    /// A category term (the kind of change).
    pub category: String,
}

#[derive(Debug, Clone)]
pub struct Feed {
    pub id: String,
    pub title: String,
    pub subtitle: String,
    pub author: String,
    /// RFC 3339.
    pub updated: String,
    pub links: Vec<Link>,
    pub entries: Vec<Entry>,
}

/// Text for XML: escaped, without the control characters XML 1.0 forbids.
fn text(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    markup(&kept)
}

/// The feed as an Atom document.
pub fn render(feed: &Feed) -> String {
    let mut out = String::with_capacity(1024 + feed.entries.len() * 600);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    push_element(&mut out, 1, "id", &feed.id);
    push_element(&mut out, 1, "title", &feed.title);
    push_element(&mut out, 1, "subtitle", &feed.subtitle);
    push_element(&mut out, 1, "rights", super::export::ATTRIBUTION);
    push_element(&mut out, 1, "updated", &feed.updated);
    out.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        text(&feed.author)
    ));
    for link in &feed.links {
        let kind = if link.rel == "alternate" {
            "text/html"
        } else {
            "application/atom+xml"
        };
        out.push_str(&format!(
            "  <link rel=\"{}\" type=\"{kind}\" href=\"{}\"/>\n",
            link.rel,
            text(&link.href)
        ));
    }
    for entry in &feed.entries {
        out.push_str("  <entry>\n");
        push_element(&mut out, 2, "id", &entry.id);
        push_element(&mut out, 2, "title", &entry.title);
        push_element(&mut out, 2, "updated", &entry.updated);
        out.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            text(&entry.link)
        ));
        out.push_str(&format!(
            "    <category term=\"{}\"/>\n",
            text(&entry.category)
        ));
        out.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            text(&entry.summary)
        ));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

fn push_element(out: &mut String, depth: usize, name: &str, value: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!("<{name}>{}</{name}>\n", text(value)));
}
