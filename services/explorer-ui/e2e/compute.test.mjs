// Browser tests of the compute pages (/compute, /compute/node/:id,
// /compute/deployments/:owner, /compute/deployment/:id) against the
// devnet scripts/test-ui starts. The data comes from real signed compute
// transactions (the `compute-wave-<n>` lines of `cargo run -p api
// --example devnet_transactions`, see
// services/api/examples/devnet_support/compute.rs): farmer's nodes A
// (farm-ghent, be/ghent) and B (farm-austin, us/austin), dave's
// deployment `shop` (web-1, web-2 kept apart, db) placed by the chain,
// state reports signed by the node keys (db in error), two bills with
// node B reporting power down in between.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closeBrowser, confirmed, graphql, launch, open, seedLines, shot, submit, submitAndConfirm, words } from "./support.mjs";

// What compute.rs registers and deploys (CAPACITY_A, CAPACITY_B,
// BLUEPRINT, DB_ERROR, DEPOSIT there).
const CAPACITY = {
  a: { cores: 16, memoryMib: 32_768, diskGib: 1_000, farm: "farm-ghent", location: "BE · ghent" },
  b: { cores: 8, memoryMib: 16_384, diskGib: 500, farm: "farm-austin", location: "US · austin" },
};
const DEMAND = {
  "web-1": { cores: 1, memoryMib: 1024, diskGib: 10 },
  "web-2": { cores: 1, memoryMib: 1024, diskGib: 10 },
  db: { cores: 4, memoryMib: 8192, diskGib: 120 },
};
const DB_ERROR = "image debian-12: checksum mismatch";
const DEPOSIT = 500_000_000n;
// The chain's price model (docs/compute.md): base units per block.
const price = (d) => BigInt(d.cores) * 1_000_000n + (BigInt(d.memoryMib) * 500_000n) / 1024n + BigInt(d.diskGib) * 10_000n;

const [transferHex, notaryHex] = seedLines;
const waves = new Map();
const nodes = {};
const placements = {};
let deploymentId;
for (const line of seedLines) {
  const [tag, ...rest] = line.split(" ");
  const wave = /^(identity|storage|compute)-wave-(\d+)$/.exec(tag);
  if (wave) {
    const key = `${wave[1]}-${wave[2].padStart(3, "0")}`;
    waves.set(key, [...(waves.get(key) ?? []), rest[0]]);
  } else if (tag === "compute-node") nodes[rest[0]] = rest[1];
  else if (tag === "compute-placement") placements[rest[0]] = rest[1];
  else if (tag === "compute-deployment") deploymentId = rest[0];
}
const label = (node) => Object.keys(nodes).find((key) => nodes[key] === node);

/** Decimal coins (`"0.4876"`) in base units (9 decimals on the devnet). */
function base(coins) {
  const [whole, fraction = ""] = coins.split(".");
  return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, "0"));
}

/** Base units as grouped decimal coins, the way the pages show amounts. */
function shown(units) {
  const whole = (units / 1_000_000_000n).toLocaleString("en-US");
  const fraction = (units % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

const group = (n) => n.toLocaleString("en-US");
/** An ID as the pages shorten it. */
const short = (id) => `${id.slice(0, 8)}…${id.slice(-4)}`;

/** Demand placed on node `key` (a or b). */
function used(key) {
  const sum = { cores: 0, memoryMib: 0, diskGib: 0 };
  for (const [workload, node] of Object.entries(placements)) {
    if (label(node) !== key) continue;
    for (const dimension of Object.keys(sum)) sum[dimension] += DEMAND[workload][dimension];
  }
  return sum;
}

let deployment;
let reportsB;

before(async () => {
  assert.ok(deploymentId && nodes.a && nodes.b && Object.keys(placements).length === 3, "EXPLORER_TXS has no compute transactions (rebuild the devnet_transactions example)");
  // The compute transactions are paid from the storage split's change,
  // which is paid from the identity split's.
  await submitAndConfirm(transferHex);
  await submitAndConfirm(notaryHex);
  for (const key of ["identity-000", "storage-000", ...[...waves.keys()].filter((k) => k.startsWith("compute-")).sort()]) {
    const ids = [];
    for (const hex of waves.get(key)) ids.push(await submit(hex));
    for (const id of ids) await confirmed(id);
  }
  // The compute model folds the last block (the second bill) a moment later.
  const query = `query($id: String!) { deployment(id: $id) {
    pricePerBlock balance
    billing { height kind amount fromHeight toHeight balance node address }
    billedWhileDown { workload node height fromHeight toHeight downBlocks amount }
  } }`;
  for (const deadline = Date.now() + 30_000; ; ) {
    ({ deployment } = await graphql(query, { id: deploymentId }));
    if (deployment?.billing.filter((entry) => entry.kind === "billed").length === 2 && deployment.billing.at(-1).kind === "paid") break;
    assert.ok(Date.now() < deadline, `the compute model did not fold the bills in 30 s: ${JSON.stringify(deployment)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  ({
    computeNode: { reports: reportsB },
  } = await graphql("query($id: String!) { computeNode(id: $id) { reports { height sequence power } } }", { id: nodes.b }));
  await launch();
});

after(closeBrowser);

test("the chain placed web-1 and web-2 apart and db on a node that fits", () => {
  assert.notEqual(placements["web-1"], placements["web-2"]);
  assert.deepEqual(new Set(Object.values(placements)), new Set([nodes.a, nodes.b]));
});

test("/compute: nodes by farm and by location with used / total, the capacity chart and totals", async () => {
  const { page, errors, close } = await open("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Compute" }).click();
  await page.getByRole("heading", { name: "Compute", exact: true }).waitFor();
  const table = page.getByTestId("compute-nodes");
  await table.waitFor();
  for (const key of ["a", "b"]) {
    const capacity = CAPACITY[key];
    const placed = used(key);
    const row = table.locator(`tr[data-node="${nodes[key]}"]`);
    assert.equal(await row.locator("xpath=ancestor::tbody").getAttribute("data-group"), capacity.farm);
    assert.equal(words(await row.locator('td[data-dimension="cores"]').innerText()), `${placed.cores} / ${capacity.cores}`);
    assert.equal(words(await row.locator('td[data-dimension="memoryMib"]').innerText()), `${group(placed.memoryMib)} / ${group(capacity.memoryMib)} MiB`);
    assert.equal(words(await row.locator('td[data-dimension="diskGib"]').innerText()), `${group(placed.diskGib)} / ${group(capacity.diskGib)} GiB`);
    assert.match(words(await row.innerText()), new RegExp(`${capacity.location.replace(/[.·]/g, ".")} `));
    // The chart: one figure per node, used vs free in each dimension.
    const bars = page.locator(`[data-testid="capacity-chart"] figure[data-node="${nodes[key]}"]`);
    const memory = bars.locator('[data-dimension="memoryMib"]');
    assert.equal(await memory.getAttribute("data-used"), String(placed.memoryMib));
    assert.equal(await memory.getAttribute("data-free"), String(capacity.memoryMib - placed.memoryMib));
    assert.equal(
      words(await memory.innerText()),
      `Memory ${group(placed.memoryMib)} MiB used · ${group(capacity.memoryMib - placed.memoryMib)} MiB free`,
    );
  }
  // Node B reported power down last.
  assert.match(words(await table.locator(`tr[data-node="${nodes.b}"]`).innerText()), / down /);
  assert.match(words(await table.locator(`tr[data-node="${nodes.a}"]`).innerText()), / up 3 h /);
  // Totals are the model's sums over every node (ours included).
  const { computeNodes } = await graphql("{ computeNodes { coresTotal coresUsed diskGibFree } }");
  const sum = (field) => computeNodes.reduce((total, node) => total + node[field], 0);
  const totals = page.getByTestId("capacity-totals");
  assert.match(words(await totals.innerText()), new RegExp(`${computeNodes.length} nodes`));
  assert.equal(await totals.locator('[data-dimension="cores"]').getAttribute("data-used"), String(sum("coresUsed")));
  assert.equal(await totals.locator('[data-dimension="cores"]').getAttribute("data-total"), String(sum("coresTotal")));
  assert.ok(sum("coresTotal") >= CAPACITY.a.cores + CAPACITY.b.cores);
  await shot(page, "compute");

  await page.getByRole("button", { name: "By location" }).click();
  assert.equal(await table.locator(`tr[data-node="${nodes.a}"]`).locator("xpath=ancestor::tbody").getAttribute("data-group"), CAPACITY.a.location);
  assert.equal(await table.locator(`tr[data-node="${nodes.b}"]`).locator("xpath=ancestor::tbody").getAttribute("data-group"), CAPACITY.b.location);
  assert.match(words(await table.locator(`tr[data-node="${nodes.b}"]`).innerText()), /farm-austin/);
  await shot(page, "compute-by-location");

  await table.locator(`tr[data-node="${nodes.b}"] a[href="/compute/node/${nodes.b}"]`).click();
  await page.getByRole("heading", { name: "Compute node" }).waitFor();
  assert.deepEqual(errors, []);
  await close();
});

test("/compute/node/:id: capacity, workloads with their states, uptime reports", async () => {
  const { page, errors, close } = await open(`/compute/node/${nodes.a}`);
  const capacity = page.getByTestId("node-capacity");
  await capacity.waitFor();
  const placed = used("a");
  assert.equal(await capacity.locator('[data-dimension="cores"]').getAttribute("data-used"), String(placed.cores));
  assert.equal(await capacity.locator('[data-dimension="cores"]').getAttribute("data-free"), String(CAPACITY.a.cores - placed.cores));
  assert.equal(await capacity.locator('[data-dimension="diskGib"]').getAttribute("data-free"), String(CAPACITY.a.diskGib - placed.diskGib));
  const body = words(await page.locator("main").innerText());
  assert.match(body, /Farm farm-ghent/);
  assert.match(body, /Location BE · ghent/);
  // The workloads placed on A, each with its last report.
  const onA = Object.keys(placements).filter((w) => placements[w] === nodes.a).sort();
  const workloads = page.getByTestId("node-workloads");
  assert.deepEqual(await workloads.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.dataset.workload)), onA);
  for (const w of onA) {
    const text = words(await workloads.locator(`tr[data-workload="${w}"]`).innerText());
    if (w === "db") assert.match(text, new RegExp(`running error ${DB_ERROR} at [\\d,]+`));
    else assert.match(text, /running running at [\d,]+/);
  }
  // Reports, newest first: sequences 3, 2, 1 (uptime 3 h, 2 h, 1 h) and the registration.
  const reports = await page.getByTestId("node-reports").locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.innerText.replace(/\s+/g, " ").trim()));
  assert.equal(reports.length, 4, JSON.stringify(reports));
  assert.match(reports[0], /^[\d,]+ 3 3 h up$/);
  assert.match(reports[1], /^[\d,]+ 2 2 h up$/);
  assert.match(reports[2], /^[\d,]+ 1 1 h up$/);
  assert.match(reports[3], /^[\d,]+ registration 0 s up$/);
  // What A earned: its shares of the deployment's bills.
  const earned = deployment.billing
    .filter((entry) => entry.kind === "paid" && entry.node === nodes.a)
    .reduce((sum, entry) => sum + base(entry.amount), 0n);
  assert.ok(earned > 0n);
  assert.equal(words(await page.getByTestId("node-earned").innerText()), `${shown(earned)} coins`);
  assert.match(body, /Paid to \S+/);
  await shot(page, "compute-node");
  await page.goto(page.url().replace(nodes.a, nodes.b));
  await page.getByTestId("node-reports").waitFor();
  assert.match(words(await page.getByTestId("node-reports").locator("tbody tr").first().innerText()), /^[\d,]+ 4 4 h down$/);
  assert.deepEqual(errors, []);
  await close();
});

test("/compute/deployments/:owner from the identity page: status, workloads running, price and balance", async () => {
  const { page, errors, close } = await open("/identity/dave");
  await page.getByRole("link", { name: "Deployments" }).click();
  await page.getByRole("heading", { name: "Deployments of dave" }).waitFor();
  const row = page.locator(`[data-testid="deployments"] tr[data-deployment="${deploymentId}"]`);
  const text = words(await row.innerText());
  const perBlock = Object.values(DEMAND).reduce((total, d) => total + price(d), 0n);
  assert.equal(base(deployment.pricePerBlock), perBlock);
  // web on A running, db in error, web on B stopped (its node went down).
  assert.match(text, new RegExp(`^shop active 1 / 3 running ${shown(perBlock)} coins ${shown(base(deployment.balance))} coins [\\d,]+$`));
  await shot(page, "compute-deployments");
  await row.getByRole("link", { name: "shop" }).click();
  await page.getByRole("heading", { name: "Deployment shop" }).waitFor();
  assert.deepEqual(errors, []);
  await close();
});

test("/compute/deployment/:id: workloads, state history, billing, reschedules and the billed-while-down audit", async () => {
  const { page, errors, close } = await open(`/compute/deployment/${deploymentId}`);
  await page.getByRole("heading", { name: "Deployment shop" }).waitFor();
  const workloads = page.getByTestId("deployment-workloads");
  await workloads.waitFor();
  for (const [w, node] of Object.entries(placements)) {
    const row = workloads.locator(`tr[data-workload="${w}"]`);
    await row.locator(`a[href="/compute/node/${node}"]`).waitFor();
    const expected = w === "db" ? "error" : label(node) === "b" ? "stopped" : "running";
    assert.equal(await row.getAttribute("data-reported"), expected);
  }
  assert.match(words(await page.locator("main").innerText()), /Owner dave · all deployments/);

  // History: placed (created), starting, then running / error with its reason, then stopped on B.
  const history = page.getByTestId("workload-history");
  for (const [w, node] of Object.entries(placements)) {
    const rows = await history.locator(`tr[data-workload="${w}"]`).evaluateAll((trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, " ").trim()));
    const changes = [["placed (created)"], ["starting"], w === "db" ? ["error", DB_ERROR] : ["running"]];
    if (w !== "db" && label(node) === "b") changes.push(["stopped"]);
    assert.deepEqual(
      rows.map((text) => text.replace(/^[\d,]+ /, "")),
      changes.map(([change, reason]) => `${w} ${change} ${short(node)}${reason ? ` ${reason}` : ""}`),
    );
  }

  // Billing: the deposit, then two bills of price × blocks, balances chained
  // (each followed by the hosting nodes' shares, checked below).
  const billing = await page.getByTestId("billing").locator("tbody tr:not([data-kind=paid])").evaluateAll((trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, " ").trim()));
  assert.equal(billing.length, 3, JSON.stringify(billing));
  assert.match(billing[0], new RegExp(`^[\\d,]+ deposit ${shown(DEPOSIT)} coins ${shown(DEPOSIT)} coins$`));
  const perBlock = base(deployment.pricePerBlock);
  let balance = DEPOSIT;
  const bills = deployment.billing.filter((entry) => entry.kind === "billed");
  bills.forEach((bill, i) => {
    const amount = perBlock * BigInt(bill.toHeight - bill.fromHeight);
    balance -= amount;
    assert.ok(bill.toHeight > bill.fromHeight);
    assert.equal(
      billing[i + 1],
      `${group(bill.height)} billed ${shown(amount)} coins ${bill.fromHeight}–${bill.toHeight} ${shown(balance)} coins`,
    );
  });
  assert.equal(base(deployment.balance), balance);
  // Each bill pays the nodes hosting the workloads their shares: the rows
  // after a bill name the node and the payout address and add up to it.
  const paid = await page.getByTestId("billing").locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({ kind: tr.dataset.kind, node: tr.dataset.node ?? null, address: tr.dataset.address ?? null })),
  );
  assert.deepEqual(
    paid,
    deployment.billing.map((entry) => ({ kind: entry.kind, node: entry.node, address: entry.address })),
  );
  bills.forEach((bill) => {
    const at = deployment.billing.indexOf(bill);
    let sum = 0n;
    for (const entry of deployment.billing.slice(at + 1)) {
      if (entry.kind !== "paid") break;
      assert.ok(Object.values(nodes).includes(entry.node), JSON.stringify(entry));
      assert.ok(entry.address, JSON.stringify(entry));
      sum += base(entry.amount);
    }
    assert.equal(sum, base(bill.amount), `shares of the bill at ${bill.height}`);
  });

  assert.match(words(await page.getByTestId("reschedules").innerText()), /No workload was moved off a silent node/);

  // The audit: the web workload on B, billed by the second bill for the
  // blocks since B reported power down.
  const webOnB = Object.keys(placements).find((w) => w !== "db" && label(placements[w]) === "b");
  const down = reportsB.find((report) => report.power === "down");
  const downBlocks = bills[1].toHeight - Math.max(down.height, bills[1].fromHeight);
  assert.ok(downBlocks >= 1);
  const audit = await page.getByTestId("billed-while-down").locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, " ").trim()));
  assert.deepEqual(audit, [
    `${group(bills[1].height)} ${webOnB} ${short(nodes.b)} ${bills[1].fromHeight}–${bills[1].toHeight} ${downBlocks} ${shown(price(DEMAND[webOnB]) * BigInt(downBlocks))} coins`,
  ]);
  await shot(page, "compute-deployment");
  assert.deepEqual(errors, []);
  await close();
});

test("the search box resolves deployment and compute node IDs", async () => {
  const { page, errors, close } = await open("/");
  const box = page.getByRole("searchbox", { name: /deployment or compute node ID/ });
  await box.fill(deploymentId.toUpperCase());
  await box.press("Enter");
  await page.waitForURL(`**/compute/deployment/${deploymentId}`);
  await page.getByRole("heading", { name: "Deployment shop" }).waitFor();
  await box.fill(nodes.b);
  await box.press("Enter");
  await page.waitForURL(`**/compute/node/${nodes.b}`);
  await page.getByRole("heading", { name: "Compute node" }).waitFor();
  assert.match(words(await page.locator("main").innerText()), /Farm farm-austin/);
  assert.deepEqual(errors, []);
  await close();
});
