// Browser tests of the storage pages (/storage, /storage/node/:id,
// /storage/object/:id) and of storage IDs in the search box, against the
// devnet scripts/test-ui starts. The data comes from real signed storage
// transactions (the `storage-wave-<n>` lines of `cargo run -p api
// --example devnet_transactions`, see
// services/api/examples/devnet_support/storage.rs): carol's six nodes,
// two in each of eu/ams, eu/fra and us/nyc, with their reports; the
// `archive` object (8 MiB, 4+2, a shard on every node) and `photos`
// (1 MiB, 2+2 on ams-1, fra-1, nyc-1, nyc-2); then fra-2 reports leaving.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { base, closeBrowser, graphql, launch, open, seedLines, shot, submitAndConfirm, submitWaves, wavesOf, words } from "./support.mjs";

const [transferHex, notaryHex] = seedLines;
const identitySplit = seedLines.find((line) => line.startsWith("identity-wave-0 "))?.split(" ")[1];
const waves = wavesOf("storage");
const nodes = {};
const objects = {};
for (const line of seedLines) {
  const named = /^storage-(node|object) (\S+) ([0-9a-f]{64})$/.exec(line);
  if (named) (named[1] === "node" ? nodes : objects)[named[2]] = named[3];
}

before(async () => {
  assert.ok(identitySplit && waves.size === 5, "EXPLORER_TXS has no storage transactions (rebuild the devnet_transactions example)");
  assert.equal(Object.keys(nodes).length, 6);
  assert.deepEqual(Object.keys(objects).sort(), ["archive", "photos"]);
  // Storage is paid from the identity split's change (idempotent: the
  // identity test submitted these already when it ran first).
  await submitAndConfirm(transferHex);
  await submitAndConfirm(notaryHex);
  await submitAndConfirm(identitySplit);
  await submitWaves(waves);
  // The storage model folds the last block (fra-2 leaving) a moment later.
  for (const deadline = Date.now() + 30_000; ; ) {
    const { storageObject } = await graphql("query($id: String!) { storageObject(id: $id) { health } }", { id: objects.archive });
    if (storageObject?.health === "DEGRADED") break;
    assert.ok(Date.now() < deadline, `the storage model did not fold fra-2 leaving in 30 s: ${JSON.stringify(storageObject)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await launch();
});

after(closeBrowser);

/** The rendered cells of `row` (a table row locator), whitespace folded. */
async function cells(row) {
  return (await row.locator("td, th").allInnerTexts()).map((text) => words(text).trim());
}

test("/storage: nodes by failure domain with capacity and health, overhead against 3×", async () => {
  const { page, errors, close } = await open("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Storage" }).click();
  await page.getByRole("heading", { name: "Storage", level: 1 }).waitFor();
  const datacenters = page.getByTestId("storage-datacenter");
  await datacenters.first().waitFor();
  assert.deepEqual(await datacenters.evaluateAll((all) => all.map((element) => element.dataset.datacenter)), ["eu/ams", "eu/fra", "us/nyc"]);
  // Totals per datacenter: capacity, used = capacity − reported free,
  // free, shards of the two objects; fra-2 (leaving) takes no new shards.
  const totals = async (path) => words(await page.locator(`[data-datacenter="${path}"] h4`).innerText());
  assert.equal(await totals("eu/ams"), "Datacenter eu/ams 2 nodes (2 taking new shards) · 200 GiB capacity · 50 GiB used · 150 GiB free · 3 shards");
  assert.equal(await totals("eu/fra"), "Datacenter eu/fra 2 nodes (1 taking new shards) · 400 GiB capacity · 50 GiB used · 350 GiB free · 3 shards");
  assert.equal(await totals("us/nyc"), "Datacenter us/nyc 2 nodes (2 taking new shards) · 100 GiB capacity · 45 GiB used · 55 GiB free · 4 shards");
  const region = words(await page.locator('[data-region="eu"] h3').innerText());
  assert.equal(region, "Region eu 4 nodes (3 taking new shards) · 600 GiB capacity · 100 GiB used · 500 GiB free · 6 shards");

  // Node rows: farm, node, state, capacity, used, free, shards, last report.
  const row = async (name) => cells(page.locator(`tr[data-node="${nodes[name]}"]`));
  const ams1 = await row("ams-1");
  assert.deepEqual(ams1.slice(0, 1).concat(ams1.slice(2, 7)), ["ams-a", "healthy", "100 GiB", "40 GiB", "60 GiB", "2"]);
  assert.match(ams1[1], /^[0-9a-f]{8}…[0-9a-f]{4}$/);
  assert.match(ams1[7], /^block [\d,]+ \(.+\)$/);
  const fra2 = await row("fra-2");
  assert.deepEqual(fra2.slice(2, 7), ["leaving", "200 GiB", "0 B", "200 GiB", "1"]);
  const nyc1 = await row("nyc-1");
  assert.deepEqual(nyc1.slice(2, 7), ["healthy", "50 GiB", "40 GiB", "10 GiB", "2"]);

  // Overhead: 4+2 stores 6 shards of size/4, 2+2 four of size/2.
  const overhead = page.getByTestId("storage-overhead");
  await overhead.waitFor();
  const policy = async (label) => cells(overhead.locator(`tr[data-policy="${label}"]`));
  assert.deepEqual(await policy("2+2"), ["2+2", "1", "1 MiB", "2 MiB", "2×", "3 MiB (3×)", "1.5× fewer bytes"]);
  assert.deepEqual(await policy("4+2"), ["4+2", "1", "8 MiB", "12 MiB", "1.5×", "24 MiB (3×)", "2× fewer bytes"]);
  assert.deepEqual(await policy("total"), ["total", "2", "9 MiB", "14 MiB", "1.56×", "27 MiB (3×)", "1.93× fewer bytes"]);
  await shot(page, "storage");
  assert.deepEqual(errors, []);
  await close();
});

test("/storage: what if a datacenter is lost", async () => {
  const { page, errors, close } = await open("/storage");
  const select = page.getByLabel("Datacenter");
  await select.waitFor();
  // Losing eu/ams: the archive (degraded: fra-2 is leaving) keeps fra-1,
  // nyc-1 and nyc-2, fewer than the 4 it needs; photos keeps 3 of its 2.
  await select.selectOption("eu/ams");
  const result = page.getByTestId("storage-what-if");
  await page.getByTestId("storage-what-if-lost").waitFor();
  let text = words(await result.innerText());
  assert.ok(text.includes("Losing eu/ams (2 nodes) touches 2 objects."), text);
  assert.ok(text.includes("1 object would fall below the k shards"), text);
  const lost = page.locator("[data-testid=storage-what-if-lost] tbody tr");
  assert.equal(await lost.count(), 1);
  assert.equal(await lost.first().getAttribute("data-object"), objects.archive);
  const [, policy, health, left] = await cells(lost.first());
  assert.match(policy, /^4\+2 /);
  assert.equal(health, "degraded");
  assert.equal(left, "3 of 4 needed");
  await shot(page, "storage-what-if-ams");

  // Losing us/nyc: the archive keeps ams-1, ams-2 and fra-1.
  await select.selectOption("us/nyc");
  await page.getByText("Losing us/nyc (2 nodes) touches 2 objects.").waitFor();
  assert.equal(await lost.count(), 1);
  assert.equal(await lost.first().getAttribute("data-object"), objects.archive);
  assert.equal((await cells(lost.first()))[3], "3 of 4 needed");

  // Losing eu/fra: placement kept at most 2 shards of each object there.
  await select.selectOption("eu/fra");
  await page.getByTestId("storage-what-if-empty").waitFor();
  text = words(await result.innerText());
  assert.ok(text.includes("Losing eu/fra (2 nodes) touches 2 objects."), text);
  assert.ok(text.includes("No object would fall below the k shards it needs"), text);
  assert.equal(await lost.count(), 0);
  await shot(page, "storage-what-if-empty");
  assert.deepEqual(errors, []);
  await close();
});

test("/storage/node/:id and /storage/object/:id: public facts, health, private shards", async () => {
  const { page, errors, close } = await open(`/storage/node/${nodes["ams-1"]}`);
  await page.getByRole("heading", { name: "Storage node" }).waitFor();
  const node = page.getByTestId("storage-node");
  await node.getByRole("link", { name: "carol" }).waitFor();
  const facts = words(await node.innerText());
  for (const fact of [
    "State healthy",
    "Failure domain region eu › datacenter ams › farm ams-a",
    "Capacity 100 GiB",
    "Used 40 GiB (40 %)",
    "Free 60 GiB",
    "Shards 2",
    "Endpoint http://ams-1.storage.devnet.invalid:9400",
    "Owner carol",
  ])
    assert.ok(facts.includes(fact), `${fact} missing from: ${facts}`);
  assert.match(facts, /Last report block [\d,]+ \(/);
  await shot(page, "storage-node");

  await page.goto(`${base}/storage/object/${objects.archive}`);
  await page.getByRole("heading", { name: "Stored object" }).waitFor();
  const object = page.getByTestId("storage-object");
  await object.getByRole("link", { name: "carol" }).waitFor();
  let text = words(await object.innerText());
  for (const fact of ["Health degraded", "Live shards 5 of 6 (any 4 rebuild it)", "Size 8 MiB", "Chunk size 1 MiB", "Owner carol", "Repairs 0"])
    assert.ok(text.includes(fact), `${fact} missing from: ${text}`);
  assert.match(text, /Policy 4\+2 surviving 1 datacenter/);
  const hidden = words(await page.getByTestId("storage-shards-private").innerText());
  assert.ok(hidden.includes("visible to the owner only"), hidden);
  assert.ok(hidden.includes("wallet stor status"), hidden);
  // No node ID appears on the object's page: shard locations are private.
  const body = await page.locator("main").innerText();
  for (const id of Object.values(nodes)) assert.ok(!body.includes(id.slice(0, 8)), `node ${id} shown on the object page`);
  await shot(page, "storage-object");

  await page.goto(`${base}/storage/object/${objects.photos}`);
  await page.getByText("Live shards").waitFor();
  await page.getByTestId("storage-object").getByRole("link", { name: "carol" }).waitFor();
  text = words(await page.getByTestId("storage-object").innerText());
  assert.ok(text.includes("Health optimal"), text);
  assert.ok(text.includes("Live shards 4 of 4 (any 2 rebuild it)"), text);
  assert.ok(text.includes("Size 1 MiB"), text);
  assert.deepEqual(errors, []);
  await close();
});

test("storage node and object IDs in the search box; unknown IDs", async () => {
  const { page, errors, close } = await open("/");
  const search = async (term) => {
    await page.getByRole("searchbox").fill(term);
    await page.getByRole("button", { name: "Search" }).click();
  };
  await search(objects.photos);
  await page.waitForURL(`**/storage/object/${objects.photos}`);
  await page.getByRole("heading", { name: "Stored object" }).waitFor();
  await search(nodes["nyc-2"]);
  await page.waitForURL(`**/storage/node/${nodes["nyc-2"]}`);
  await page.getByRole("heading", { name: "Storage node" }).waitFor();
  await search("ab".repeat(32));
  await page.getByTestId("not-found").waitFor();
  await page.goto(`${base}/storage/object/${"cd".repeat(32)}`);
  await page.getByText("No stored object has the ID").waitFor();
  await page.goto(`${base}/storage/node/not-hex`);
  await page.getByTestId("not-found").waitFor();
  assert.deepEqual(errors, []);
  await close();
});
