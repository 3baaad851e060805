"""12345 hotline integration: signed work orders in, signed status callbacks out, nothing lost or doubled.

- `signature`: the app-key + HMAC-SHA256 scheme both directions use;
- `keys`: the platform's app keys, sealed at rest, two active during a rotation;
- `orders`: a work order (工单) becomes a dispatch ticket on channel `hotline`, once per `order_no`;
- `callbacks`: the outbox of status callbacks (签收, 回退, 延期, 办结, 回访) and the job that delivers them
  in order per order, with backoff, a dead-letter state and re-drive;
- `api`: the HTTP surface (`/api/v1/hotline/...`). The integration guide is docs/hotline.md.
"""
