import { createHmac, timingSafeEqual } from "node:crypto";

const TOLERANCE_SECS = 300;

// True when a v1 signature in webhook-signature matches and the timestamp is fresh.
// `body` is the raw request body (a Buffer): verify before parsing it.
export function verify(secret, headers, body, now = Math.floor(Date.now() / 1000)) {
  if (!secret.startsWith("whsec_")) throw new Error("a Corridor webhook secret starts with whsec_");
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  if (!/^\d+$/.test(timestamp)) return false;
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECS) return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
  return headers["webhook-signature"].split(" ").some((candidate) => {
    const [version, signature] = candidate.split(",", 2);
    if (version !== "v1" || !signature) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
