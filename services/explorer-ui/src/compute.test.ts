import { describe, expect, it } from "vitest";
import { quantity, uptime, usedOfTotal } from "./pages/ComputeCommon";

describe("compute formatting", () => {
  it("reads uptime in the two largest units", () => {
    expect(uptime(0)).toBe("0 s");
    expect(uptime(59)).toBe("59 s");
    expect(uptime(60)).toBe("1 min");
    expect(uptime(3_600)).toBe("1 h");
    expect(uptime(3_600 * 2 + 300)).toBe("2 h 5 min");
    expect(uptime(86_400 * 3 + 3_600 * 4 + 59)).toBe("3 d 4 h");
    expect(uptime(86_400)).toBe("1 d");
  });

  it("shows used of total with grouped digits and the unit once", () => {
    const capacity = {
      coresTotal: 16, coresUsed: 5, coresFree: 11,
      memoryMibTotal: 32_768, memoryMibUsed: 9_216, memoryMibFree: 23_552,
      diskGibTotal: 1_000, diskGibUsed: 130, diskGibFree: 870,
    };
    expect(usedOfTotal(capacity, "cores", "")).toBe("5 / 16");
    expect(usedOfTotal(capacity, "memoryMib", "MiB")).toBe("9,216 / 32,768 MiB");
    expect(quantity(1_000, "GiB")).toBe("1,000 GiB");
  });
});
