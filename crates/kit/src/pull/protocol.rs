//! The pull protocol, both ways: the poll request's headers, and what an answer means.

use super::block::ControlBlock;

/// What this gateway runs and refused, reported on every poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The ETag of the document running.
    pub etag: Option<String>,
    pub running: Option<u64>,
    /// The last revision refused, and why.
    pub refused: Option<(u64, String)>,
}

/// The path polled.
pub fn path(block: &ControlBlock, filter: &str) -> String {
    format!(
        "/v1/projects/{}/groups/{}/configs/{filter}/resolved",
        block.project, block.group
    )
}

/// Header values are one line of visible ASCII (and spaces), at most 512 bytes.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect()
}

/// The poll's headers (pseudo-headers included), owned.
pub fn request_headers(
    block: &ControlBlock,
    filter: &str,
    report: &Report,
) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), path(block, filter)),
        (":authority".to_string(), block.authority.clone()),
        (":scheme".to_string(), "http".to_string()),
        (
            "authorization".to_string(),
            format!("Bearer {}", block.token),
        ),
        ("tollgate-gateway".to_string(), block.gateway.clone()),
    ];
    if let Some(etag) = &report.etag {
        h.push(("if-none-match".into(), etag.clone()));
    }
    if let Some(n) = report.running {
        h.push(("tollgate-running".into(), n.to_string()));
    }
    if let Some((n, why)) = &report.refused {
        h.push(("tollgate-refused".into(), n.to_string()));
        h.push(("tollgate-error".into(), header_text(why)));
    }
    h
}

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 304: what runs is current.
    Unchanged,
    /// 200 with its ETag and signature: a document to verify and load.
    Document { etag: String, signature: String },
    /// Anything else: nothing changes; the reason is kept for the log and the report.
    Failed(String),
}

/// Classifies an answer from its status and headers.
pub fn answer(status: Option<u16>, headers: &[(String, String)]) -> Answer {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    match status {
        Some(304) => Answer::Unchanged,
        Some(200) => match (header("etag"), header("tollgate-signature")) {
            (Some(etag), Some(signature)) => Answer::Document { etag, signature },
            (_, None) => Answer::Failed("the document came without its signature".into()),
            (None, _) => Answer::Failed("the document came without its ETag".into()),
        },
        Some(code) => Answer::Failed(format!("the control service answered {code}")),
        None => Answer::Failed("the control service did not answer".into()),
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
