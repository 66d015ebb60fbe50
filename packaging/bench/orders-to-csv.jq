# orders-to-csv.jq: one CSV row per order (batch JSONL in, header line first), the merge source for
# label-100x150.glabels. Run: jq -rn -f orders-to-csv.jq batch-500.jsonl > orders.csv
def address: (.lines + [.district, .city, .region, .postal_code, .country]) | map(select(. != null and . != "")) | join(", ");
["order_id", "carrier", "service", "handover", "route", "tracking", "to_name", "to_phone", "to_address",
 "from_name", "from_phone", "from_address", "package", "weight", "cod", "items", "ship_by"] as $keys
| ($keys | @csv),
  (inputs
   | [ .order_id, .shipment.carrier, (.shipment.service // ""),
       (if .shipment.handover == "dropoff" then "DROP OFF" else "PICK UP" end),
       (.shipment.sort_code // ""), .shipment.tracking_number,
       .recipient.name, .recipient.phone, (.recipient.address | address),
       .sender.name, .sender.phone, (.sender.address | address),
       (if .shipment.package then "\(.shipment.package.index)/\(.shipment.package.count)" else "1/1" end),
       (if .shipment.package.weight_g then "\(.shipment.package.weight_g) g" else "" end),
       (if .shipment.cod then "COD \(.shipment.cod.currency) \(.shipment.cod.amount)" else "" end),
       ([.items[] | "\(.sku) x\(.qty)"] | join(", ")),
       (.ship_by // "") ]
   | @csv)
