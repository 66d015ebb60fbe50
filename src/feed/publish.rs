//! The backend side: publish orders as feed messages, one per order, deduplicated by key.

use async_nats::jetstream;

use crate::order::Order;

/// What a publish run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    /// Stored by the stream.
    pub stored: usize,
    /// Dropped by the stream as a repeat of a `Nats-Msg-Id` inside its duplicate window.
    pub duplicates: usize,
}

/// Turns one order (JSON text) into a feed message: the order plus `role` and `key`. An existing
/// `key`, `role` or `printer` in the line is kept. A marketplace document line (`"kind": "document"`)
/// goes as it is, keyed `document:ORDER_ID:TRACKING_NUMBER` unless it has a key. Returns the message
/// and its key.
pub fn message(line: &str, role: &str) -> Result<(Vec<u8>, String), String> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value.as_object_mut().ok_or("not a JSON object")?;
    if obj.get("kind").and_then(|k| k.as_str()) == Some("document") {
        // A marketplace document: the station checks it; its default key is the parcel's.
        let id = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned).ok_or(format!("{k}: required for a document"));
        let key = match obj.get("key").and_then(|k| k.as_str()) {
            Some(k) => k.to_owned(),
            None => format!("document:{}:{}", id("order_id")?, id("tracking_number")?),
        };
        obj.insert("key".into(), key.clone().into());
        return Ok((serde_json::to_vec(&value).expect("JSON value serializes"), key));
    }
    let mut order_part = obj.clone();
    for k in ["key", "role", "printer"] {
        order_part.remove(k);
    }
    let order = Order::from_json_value(serde_json::Value::Object(order_part)).map_err(|e| e.to_string())?;
    let key = match obj.get("key").and_then(|k| k.as_str()) {
        Some(k) => k.to_owned(),
        None => format!("{role}:{}:{}", order.order_id, order.shipment.package.index),
    };
    obj.insert("key".into(), key.clone().into());
    if !obj.contains_key("printer") && !obj.contains_key("role") {
        obj.insert("role".into(), role.into());
    }
    Ok((serde_json::to_vec(&value).expect("JSON value serializes"), key))
}

/// Creates the work-queue stream for `subjects` unless it exists.
pub async fn ensure_stream(js: &jetstream::Context, stream: &str, subjects: &str) -> Result<(), String> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: stream.into(),
        subjects: vec![subjects.into()],
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await
    .map(|_| ())
    .map_err(|e| format!("stream {stream}: {e}"))
}

/// Publishes messages with `Nats-Msg-Id` = key and waits for every JetStream acknowledgement.
pub async fn publish(js: &jetstream::Context, subject: &str, messages: Vec<(Vec<u8>, String)>) -> Result<Published, String> {
    let mut acks = Vec::with_capacity(messages.len());
    for (body, key) in messages {
        let msg = jetstream::context::Publish::build().payload(body.into()).message_id(key.as_str());
        let ack = js.send_publish(subject.to_owned(), msg).await.map_err(|e| format!("publish {key}: {e}"))?;
        acks.push((key, ack));
    }
    let mut out = Published::default();
    for (key, ack) in acks {
        let ack = ack.await.map_err(|e| format!("publish {key}: no acknowledgement: {e}"))?;
        if ack.duplicate { out.duplicates += 1 } else { out.stored += 1 }
    }
    Ok(out)
}
