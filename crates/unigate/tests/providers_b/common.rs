//! Small helpers shared by the provider modules.

use serde_json::Value;

pub use crate::helpers::{last_request, walk_list as walk};

/// The unified record without `remote_data`.
pub fn unified(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("remote_data");
    }
    b
}
