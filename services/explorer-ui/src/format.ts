// Pure rendering helpers: amounts, times, hashes, conditions and search
// terms. Unit-tested in format.test.ts.

/** Below this a lock value is a block height, at or above it unix seconds. */
export const LOCKTIME_THRESHOLD = 500_000_000;

/** `"1000949.9"` → `"1,000,949.9"` (decimal strings as the API sends them). */
export function groupDigits(amount: string): string {
  const negative = amount.startsWith("-");
  const [whole, fraction] = (negative ? amount.slice(1) : amount).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${fraction ? `.${fraction}` : ""}`;
}

/** First and last digits of a long ID: `"ab12cd34…9f00"`. */
export function shortId(id: string, keep = 8): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-4)}`;
}

/** Address: prefix and the start, then the end. */
export function shortAddress(address: string): string {
  return address.length <= 24 ? address : `${address.slice(0, 14)}…${address.slice(-6)}`;
}

/** `2027-01-01 00:00:00 UTC`. */
export function exactTime(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** `"12 s ago"`, `"3 min ago"`, `"in 2 d"`, relative to `nowSeconds`. */
export function relativeTime(unixSeconds: number, nowSeconds: number): string {
  const delta = nowSeconds - unixSeconds;
  const size = Math.abs(delta);
  let text: string;
  if (size < 5) return "just now";
  if (size < 60) text = `${Math.round(size)} s`;
  else if (size < 3600) text = `${Math.floor(size / 60)} min`;
  else if (size < 86400) text = `${Math.floor(size / 3600)} h`;
  else if (size < 86400 * 365) text = `${Math.floor(size / 86400)} d`;
  else text = `${(size / (86400 * 365)).toFixed(1)} y`;
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

/** A human reading of a duration in seconds: `"2.0 s"`, `"1 min 5 s"`. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
}

/** Hex to text when it is printable UTF-8, else null. */
export function hexToText(hex: string): string | null {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
}

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A piece of a rendered condition: text, or an address to link. */
export type Segment = string | { address: string };

/** The condition fields the API sends (`ConditionView` plus members). */
export interface ConditionInfo {
  type: string;
  timelock?: number | null;
  timelockKind?: string | null;
  timelockInnerType?: string | null;
  multisigRequired?: number | null;
  multisigKeyCount?: number | null;
  multisigMembers?: string[] | null;
  swapSender?: string | null;
  swapReceiver?: string | null;
  swapHashedSecret?: string | null;
  swapTimelock?: number | null;
}

function listAddresses(addresses: string[]): Segment[] {
  const out: Segment[] = [];
  addresses.forEach((address, i) => {
    if (i > 0) out.push(i === addresses.length - 1 ? " and " : ", ");
    out.push({ address });
  });
  return out;
}

function lockText(lock: number, kind: string | null | undefined): string {
  const isHeight = kind ? kind === "height" : lock < LOCKTIME_THRESHOLD;
  return isHeight ? `block ${groupDigits(String(lock))}` : exactTime(lock);
}

function plainCondition(kind: string, info: ConditionInfo, owner: string): Segment[] {
  switch (kind) {
    case "nil":
      return ["anyone (any single signature)"];
    case "pubkey":
      return ["signature of ", { address: owner }];
    case "multisig": {
      const required = info.multisigRequired ?? 0;
      const count = info.multisigKeyCount ?? info.multisigMembers?.length ?? 0;
      const head = `${required} of ${count} signature${count === 1 ? "" : "s"}`;
      const members = info.multisigMembers ?? [];
      return members.length > 0
        ? [`${head} from `, ...listAddresses(members)]
        : [`${head} (multisig `, { address: owner }, ")"];
    }
    default:
      return [`${kind} condition of `, { address: owner }];
  }
}

/**
 * A condition as a sentence: "2 of 3 signatures from A, B and C",
 * "locked until 2027-01-01 00:00:00 UTC, then signature of A",
 * "atomic swap: claimable by B with the secret whose SHA-256 is H;
 * refundable by A after T". `owner` is the output's address (for pubkey
 * conditions the address is the key's).
 */
export function describeCondition(info: ConditionInfo, owner: string): Segment[] {
  switch (info.type) {
    case "timelock": {
      const inner = plainCondition(info.timelockInnerType ?? "nil", info, owner);
      return [`locked until ${lockText(info.timelock ?? 0, info.timelockKind)}, then `, ...inner];
    }
    case "atomic_swap":
      return [
        "atomic swap: claimable by ",
        { address: info.swapReceiver ?? "?" },
        ` with the secret whose SHA-256 is ${shortId(info.swapHashedSecret ?? "")}; refundable by `,
        { address: info.swapSender ?? "?" },
        ` after ${exactTime(info.swapTimelock ?? 0)}`,
      ];
    default:
      return plainCondition(info.type, info, owner);
  }
}

/** Segments as plain text (addresses in full). */
export function segmentsText(segments: Segment[]): string {
  return segments.map((s) => (typeof s === "string" ? s : s.address)).join("");
}

/** How an input was unlocked, for people. */
export function describeFulfillment(type: string, keys: number, secret?: string | null): string {
  switch (type) {
    case "nil":
      return "no signature (nil condition)";
    case "single_signature":
      return "single signature";
    case "multi_signature":
      return `${keys} signature${keys === 1 ? "" : "s"} (multisig)`;
    case "atomic_swap_claim":
      return secret ? `atomic swap claimed with secret ${shortId(secret)}` : "atomic swap claim";
    case "atomic_swap_refund":
      return "atomic swap refunded to the sender";
    default:
      return type;
  }
}

/** What a search term can be, before asking the API. */
export type SearchTerm =
  | { kind: "height"; height: number }
  | { kind: "id"; id: string }
  | { kind: "address"; address: string }
  | { kind: "name"; name: string }
  | { kind: "invalid"; reason: string };

export function classifySearch(raw: string): SearchTerm {
  const term = raw.trim();
  if (term === "") return { kind: "invalid", reason: "Type an ID, an address, a height or a name." };
  if (/^\d{1,15}$/.test(term)) return { kind: "height", height: Number(term) };
  if (/^[0-9a-fA-F]{64}$/.test(term)) return { kind: "id", id: term.toLowerCase() };
  if (/^[a-z]{1,20}1[02-9ac-hj-np-z]{6,}$/i.test(term)) return { kind: "address", address: term.toLowerCase() };
  // An identity name (`alice`) or an organization path (`acme.sales`).
  if (/^[a-z][a-z0-9.-]{0,149}$/i.test(term)) return { kind: "name", name: term.toLowerCase() };
  return { kind: "invalid", reason: `“${term}” is not a height, a 64-digit hex ID, an address or a name.` };
}

/** Transaction kind enum value → words. */
export function kindLabel(kind: string): string {
  return kind.toLowerCase().replace(/_/g, " ");
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `100 GiB` (one decimal, none when whole). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded : rounded.toFixed(1)} ${units[unit]}`;
}

/** A ratio such as a storage overhead: `1.5×`, `2×`, `1.56×` (two decimals at most). */
export function formatRatio(ratio: number): string {
  return `${Math.round(ratio * 100) / 100}×`;
}
