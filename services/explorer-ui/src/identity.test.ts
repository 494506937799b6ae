import { describe, expect, it } from "vitest";
import { buildTree } from "./identity";

describe("organization tree", () => {
  it("nests descendants under their parents in path order", () => {
    const tree = buildTree("acme", ["acme.sales.emea", "acme.ops", "acme.sales", "acme.sales-x"]);
    expect(tree.map((n) => n.path)).toEqual(["acme.ops", "acme.sales", "acme.sales-x"]);
    expect(tree[1].children.map((n) => n.path)).toEqual(["acme.sales.emea"]);
    expect(tree[0].children).toEqual([]);
  });
  it("leaves out paths whose parent is missing and is empty without descendants", () => {
    expect(buildTree("acme", ["acme.a.b"])).toEqual([]);
    expect(buildTree("acme", [])).toEqual([]);
  });
});
