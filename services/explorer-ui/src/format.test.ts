import { describe, expect, it } from "vitest";
import {
  classifySearch,
  describeCondition,
  describeFulfillment,
  exactTime,
  formatBytes,
  formatRatio,
  groupDigits,
  hexToText,
  relativeTime,
  segmentsText,
  shortId,
} from "./format";

describe("amounts and IDs", () => {
  it("groups digits and keeps fractions", () => {
    expect(groupDigits("1000949.9")).toBe("1,000,949.9");
    expect(groupDigits("999")).toBe("999");
    expect(groupDigits("-1234567")).toBe("-1,234,567");
  });
  it("shortens long IDs only", () => {
    expect(shortId("a".repeat(64))).toBe(`${"a".repeat(8)}…aaaa`);
    expect(shortId("abc")).toBe("abc");
  });
});

describe("times", () => {
  it("prints exact UTC time", () => {
    expect(exactTime(1_798_761_600)).toBe("2027-01-01 00:00:00 UTC");
  });
  it("prints relative times both ways", () => {
    expect(relativeTime(1000, 1002)).toBe("just now");
    expect(relativeTime(1000, 1030)).toBe("30 s ago");
    expect(relativeTime(1000, 1000 + 3 * 3600)).toBe("3 h ago");
    expect(relativeTime(1000 + 2 * 86400, 1000)).toBe("in 2 d");
  });
});

describe("arbitrary data", () => {
  it("decodes printable UTF-8", () => {
    expect(hexToText("68656c6c6f")).toBe("hello");
    expect(hexToText("e282ac")).toBe("€");
  });
  it("refuses binary, invalid UTF-8 and bad hex", () => {
    expect(hexToText("00ff")).toBeNull();
    expect(hexToText("0001")).toBeNull();
    expect(hexToText("zz")).toBeNull();
    expect(hexToText("")).toBeNull();
  });
});

describe("conditions", () => {
  it("renders multisig with members", () => {
    const text = segmentsText(
      describeCondition(
        { type: "multisig", multisigRequired: 2, multisigKeyCount: 3, multisigMembers: ["a1", "b2", "c3"] },
        "ms",
      ),
    );
    expect(text).toBe("2 of 3 signatures from a1, b2 and c3");
  });
  it("renders a time lock over a key, by time and by height", () => {
    expect(
      segmentsText(
        describeCondition(
          { type: "timelock", timelock: 1_798_761_600, timelockKind: "time", timelockInnerType: "pubkey" },
          "owner",
        ),
      ),
    ).toBe("locked until 2027-01-01 00:00:00 UTC, then signature of owner");
    expect(
      segmentsText(describeCondition({ type: "timelock", timelock: 5000, timelockInnerType: "nil" }, "x")),
    ).toBe("locked until block 5,000, then anyone (any single signature)");
  });
  it("renders an atomic swap", () => {
    const text = segmentsText(
      describeCondition(
        {
          type: "atomic_swap",
          swapSender: "alice",
          swapReceiver: "bob",
          swapHashedSecret: "5a".repeat(32),
          swapTimelock: 1_798_761_600,
        },
        "swap",
      ),
    );
    expect(text).toBe(
      "atomic swap: claimable by bob with the secret whose SHA-256 is 5a5a5a5a…5a5a; refundable by alice after 2027-01-01 00:00:00 UTC",
    );
  });
  it("renders fulfillments", () => {
    expect(describeFulfillment("multi_signature", 2)).toBe("2 signatures (multisig)");
    expect(describeFulfillment("atomic_swap_claim", 1, "ab".repeat(32))).toMatch(/^atomic swap claimed with secret abababab/);
  });
});

describe("search terms", () => {
  it("classifies heights, IDs and addresses", () => {
    expect(classifySearch(" 42 ")).toEqual({ kind: "height", height: 42 });
    expect(classifySearch("AB".repeat(32))).toEqual({ kind: "id", id: "ab".repeat(32) });
    expect(classifySearch("bsdev1qqqqqqqqqq").kind).toBe("address");
    expect(classifySearch("Alice")).toEqual({ kind: "name", name: "alice" });
    expect(classifySearch("acme.sales")).toEqual({ kind: "name", name: "acme.sales" });
    expect(classifySearch("hello world").kind).toBe("invalid");
    expect(classifySearch("-alice").kind).toBe("invalid");
    expect(classifySearch("").kind).toBe("invalid");
  });
});

describe("sizes and ratios", () => {
  it("prints bytes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(8 * 2 ** 20)).toBe("8 MiB");
    expect(formatBytes(100 * 2 ** 30)).toBe("100 GiB");
    expect(formatBytes(2 ** 50 * 3)).toBe("3 PiB");
  });
  it("prints ratios with at most two decimals", () => {
    expect(formatRatio(1.5)).toBe("1.5×");
    expect(formatRatio(2)).toBe("2×");
    expect(formatRatio(14 / 9)).toBe("1.56×");
  });
});
