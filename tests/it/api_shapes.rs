//! Every JSON answer of the daemon's API matches what openapi.json declares for that route and status:
//! the fields it promises are there with their types, and nothing undeclared is sent. A field renamed in
//! `server::api` without the document (or the other way round) fails here.

use std::net::SocketAddr;
use std::time::Duration;

use labeld::lang::Language;
use labeld::virtual_printer::Fault;
use serde_json::{Value, json};

use crate::common::http::{self, Response};
use crate::daemon::{start_with, vp, wait_until};

/// Where a value breaks `schema`: a list of `path: problem`, empty when it conforms. The JSON Schema
/// the document uses: `$ref`, `oneOf`, `type` (one or a list), `enum`, `required`, `properties`,
/// `items` and `additionalProperties`. An object with `properties` is closed unless
/// `additionalProperties` says otherwise.
fn problems(schema: &Value, value: &Value, doc: &Value, at: &str) -> Vec<String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").expect("a local reference");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "openapi.json has no schema {name}");
        return problems(target, value, doc, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().filter(|o| problems(o, value, doc, at).is_empty()).count();
        return if fits == 1 { vec![] } else { vec![format!("{at}: fits {fits} of the oneOf alternatives, not exactly one: {value}")] };
    }
    let mut out = Vec::new();
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let is = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other} in openapi.json"),
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        return vec![format!("{at}: {value} is not {}", types.join(" or "))];
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !value.is_null() && !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                out.push(format!("{at}: the required field {name} is missing"));
            }
        }
        let declared = schema["properties"].as_object();
        for (key, v) in object {
            let path = format!("{at}.{key}");
            match (declared.and_then(|d| d.get(key)), &schema["additionalProperties"]) {
                (Some(s), _) => out.extend(problems(s, v, doc, &path)),
                (None, Value::Object(_)) => out.extend(problems(&schema["additionalProperties"], v, doc, &path)),
                (None, Value::Bool(true)) => {}
                (None, _) if declared.is_some() => out.push(format!("{path}: sent, but not declared")),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            out.extend(problems(items, v, doc, &format!("{at}[{i}]")));
        }
    }
    out
}

/// Checks one answer against the document's schema for `method path` (a route template) and its status.
fn conforms(doc: &Value, method: &str, route: &str, resp: &Response) {
    let declared = &doc["paths"][route][method.to_lowercase()]["responses"][resp.status.to_string()];
    assert!(declared.is_object(), "{method} {route} answered {}, which openapi.json does not declare: {}", resp.status, resp.text());
    let schema = &declared["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {route} {}: openapi.json declares no JSON schema", resp.status);
    let found = problems(schema, &resp.json(), doc, "$");
    assert!(found.is_empty(), "{method} {route} {} does not match openapi.json:\n  {}", resp.status, found.join("\n  "));
}

fn order(n: usize) -> Value {
    crate::daemon::batch(n).pop().unwrap()
}

fn call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> Response {
    http::request(addr, method, path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
}

#[test]
fn every_json_answer_matches_the_openapi_document() {
    let out = tempfile::tempdir().unwrap();
    let dock = vp(Language::Zpl, out.path(), &[]);
    // A link that drops mid-label: its label is in doubt, for the resolve answer.
    let flaky = vp(Language::Zpl, out.path(), &[Fault::DropAfterBytes(2000)]);
    let d = start_with(&[("dock", "zebra-zd421-203", dock.addr()), ("flaky", "zebra-zd421-203", flaky.addr())], "");
    let doc = http::get(d.addr, "/v1/openapi.json").json();
    let check = |method: &str, route: &str, resp: &Response| conforms(&doc, method, route, resp);

    // One label, printed.
    let label = call(d.addr, "POST", "/v1/jobs", &json!({ "printer": "dock", "kind": "label", "order": order(1) }));
    check("POST", "/v1/jobs", &label);
    let job = label.json()["job"].as_i64().unwrap();
    let first = label.json()["documents"][0]["document"].as_i64().unwrap();
    wait_until("the label printed", Duration::from_secs(60), || http::get(d.addr, &format!("/v1/jobs/{job}")).json()["documents"][0]["state"] == "done");
    check("GET", "/v1/jobs/{id}", &http::get(d.addr, &format!("/v1/jobs/{job}")));
    check("GET", "/v1/jobs", &http::get(d.addr, "/v1/jobs?limit=10"));
    check("POST", "/v1/documents/{id}/reprint", &call(d.addr, "POST", &format!("/v1/documents/{first}/reprint"), &json!({ "reason": "torn" })));

    // A batch, with its progress.
    let batch = call(d.addr, "POST", "/v1/jobs", &json!({ "printer": "dock", "orders": crate::daemon::batch(3)[1..].to_vec(), "picklist": true, "batch_id": "B-shapes" }));
    check("POST", "/v1/jobs", &batch);
    assert_eq!((batch.json()["documents"][0]["chunk"].clone(), batch.json()["documents"][1]["chunk"].clone()), (Value::Null, json!(1)), "the pick list has no chunk, a label its own");
    check("GET", "/v1/batches/{id}", &http::get(d.addr, "/v1/batches/B-shapes"));

    // Printers, paused with a label waiting, which is then cancelled.
    check("GET", "/v1/printers", &http::get(d.addr, "/v1/printers"));
    check("POST", "/v1/printers/{name}/pause", &call(d.addr, "POST", "/v1/printers/dock/pause", &json!({})));
    let waiting = call(d.addr, "POST", "/v1/jobs", &json!({ "printer": "dock", "kind": "label", "order": order(4) }));
    let waiting = waiting.json()["documents"][0]["document"].as_i64().unwrap();
    check("POST", "/v1/documents/{id}/cancel", &call(d.addr, "POST", &format!("/v1/documents/{waiting}/cancel"), &json!({})));
    check("POST", "/v1/printers/{name}/test-print", &call(d.addr, "POST", "/v1/printers/dock/test-print", &json!({})));
    check("GET", "/v1/printers/{name}", &http::get(d.addr, "/v1/printers/dock"));
    check("POST", "/v1/printers/{name}/resume", &call(d.addr, "POST", "/v1/printers/dock/resume", &json!({})));

    // A label in doubt, resolved as not printed: the answer carries its reprint.
    let doubtful = call(d.addr, "POST", "/v1/jobs", &json!({ "printer": "flaky", "kind": "label", "order": order(5) }));
    let doubtful = doubtful.json()["documents"][0]["document"].as_i64().unwrap();
    wait_until("the label in doubt", Duration::from_secs(60), || {
        http::get(d.addr, &format!("/v1/jobs?printer=flaky&state=in_doubt")).json()["documents"].as_array().is_some_and(|l| !l.is_empty())
    });
    let resolved = call(d.addr, "POST", &format!("/v1/documents/{doubtful}/resolve"), &json!({ "outcome": "not_printed", "reason": "nothing came out" }));
    check("POST", "/v1/documents/{id}/resolve", &resolved);
    assert!(resolved.json()["reprint"].is_object(), "{}", resolved.text());

    // The rules, for one order and for a batch (one of them refused).
    let mut linked = order(6);
    linked["label_note"] = "See www.acme-shop.example".into();
    check("POST", "/v1/check", &call(d.addr, "POST", "/v1/check", &linked));
    check("POST", "/v1/check", &call(d.addr, "POST", "/v1/check", &json!({ "orders": [order(7), linked] })));

    check("GET", "/v1/due", &http::get(d.addr, "/v1/due"));
    // A handover closed for the first label's carrier: it was scanned, nothing else was.
    let first_label = order(1);
    let carrier = first_label["shipment"]["carrier"].as_str().unwrap().to_string();
    let handover = first_label["shipment"]["handover"].as_str().unwrap_or("pickup").to_string();
    let tracking = first_label["shipment"]["tracking_number"].as_str().unwrap().to_string();
    let closed = call(d.addr, "POST", "/v1/handovers", &json!({
        "carrier": carrier, "handover": handover, "since": "2020-01-01T00:00:00Z", "scanned": [tracking, "NOT-A-PARCEL"], "by": "driver"
    }));
    check("POST", "/v1/handovers", &closed);
    assert_eq!(closed.json()["unknown"], json!(["NOT-A-PARCEL"]), "{}", closed.text());
    check("GET", "/healthz", &http::get(d.addr, "/healthz"));
}

/// The checker itself: it would see a renamed, a missing and an undeclared field.
#[test]
fn the_schema_check_sees_a_renamed_field() {
    let doc = json!({ "components": { "schemas": { "P": {
        "type": "object", "required": ["name", "dpi"],
        "properties": { "name": { "type": "string" }, "dpi": { "type": "integer" }, "role": { "type": "string", "enum": ["label"] } }
    } } } });
    let schema = json!({ "$ref": "#/components/schemas/P" });
    assert!(problems(&schema, &json!({ "name": "dock", "dpi": 203, "role": "label" }), &doc, "$").is_empty());
    let renamed = problems(&schema, &json!({ "name": "dock", "resolution": 203 }), &doc, "$");
    assert_eq!(renamed, ["$: the required field dpi is missing", "$.resolution: sent, but not declared"]);
    assert_eq!(problems(&schema, &json!({ "name": 1, "dpi": 203, "role": "office" }), &doc, "$").len(), 2);
}
