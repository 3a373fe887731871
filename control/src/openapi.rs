//! The OpenAPI 3.1 document, generated from the route table: every route, its
//! parameters, the role it needs (`x-tollgate-role`) and the one error shape with its
//! stable codes.

use serde_json::{Map, Value, json};

use crate::error::code;
use crate::routes::ROUTES;

fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let mut params = parameters(r.path);
        // Document writes carry their base revision and a change message.
        if r.method == "PUT"
            && (r.path.contains("/configs/")
                || r.path.ends_with("/bundle")
                || r.path.contains("/jwks/"))
        {
            params.push(json!({"name": "If-Match", "in": "header", "required": false,
                "description": "The revision the change is based on (required once the document exists)", "schema": {"type": "string"}}));
            params.push(json!({"name": "Tollgate-Message", "in": "header", "required": false, "schema": {"type": "string"}}));
        }
        let mut op = Map::new();
        op.insert("summary".into(), json!(r.summary));
        op.insert(
            "operationId".into(),
            json!(format!("{} {}", r.method, r.path)),
        );
        op.insert("x-tollgate-role".into(), json!(format!("{:?}", r.need)));
        op.insert("parameters".into(), Value::Array(params));
        op.insert("responses".into(), json!({
            "200": {"description": "OK"},
            "default": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        }));
        if r.need != crate::auth::Need::Public {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(r.method.to_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tollgate control service", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (tgt_…) or a session token from POST /v1/login"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string", "enum": code::ALL},
                            "message": {"type": "string"},
                            "details": {},
                        },
                    }},
                },
            },
        },
    })
}
