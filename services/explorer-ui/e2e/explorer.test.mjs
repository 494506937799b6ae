// Browser tests of the explorer against a live devnet (scripts/test-ui
// starts it): Playwright (playwright-core) drives Debian's Chromium.
//
// Environment: see support.mjs; EXPLORER_DOCUMENT (the notarised file).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { base, closeBrowser, graphql, launch, open, seedLines, shot, submitAndConfirm, words } from "./support.mjs";

const documentPath = process.env.EXPLORER_DOCUMENT ?? new URL("./notary-document.txt", import.meta.url).pathname;
const [transferHex, notaryHex] = seedLines;

let transfer;
let notary;

before(async () => {
  transfer = await submitAndConfirm(transferHex);
  notary = await submitAndConfirm(notaryHex);
  await launch();
});

after(closeBrowser);

test("the dashboard loads without console errors and shows a new block without reload", async () => {
  const { page, errors, close } = await open("/");
  const rows = page.locator('[data-testid="live-blocks"] tbody tr');
  await rows.first().waitFor();
  await page.getByText("Coin supply").waitFor();
  await page.locator('[data-testid="chart-block-time"] svg').first().waitFor();
  const first = Number(await rows.first().getAttribute("data-height"));
  assert.ok(first >= 1, `tip height ${first}`);
  await shot(page, "dashboard");
  // Blocks come every 2 s on the devnet: the list grows without a reload.
  await page.waitForFunction(
    (height) => Number(document.querySelector('[data-testid="live-blocks"] tbody tr')?.getAttribute("data-height")) > height,
    first,
    { timeout: 30_000 },
  );
  await page.getByText("● live").waitFor();
  await shot(page, "dashboard-new-block");
  assert.deepEqual(errors, []);
  await close();
});

test("navigation block → transaction → address", async () => {
  const { page, errors, close } = await open(`/block/${transfer.height}`);
  await page.getByRole("heading", { name: new RegExp(`^Block ${transfer.height.toLocaleString("en-US")}`) }).waitFor();
  await shot(page, "block");
  await page.locator(`[data-testid="block-transactions"] a[href="/tx/${transfer.id}"]`).click();
  await page.waitForURL(`**/tx/${transfer.id}`);
  const outputs = page.locator('[data-testid="outputs"]');
  await outputs.waitFor();
  const text = words(await outputs.innerText());
  assert.match(text, /2 of 3 signatures from bsdev1\S+, bsdev1\S+ and bsdev1\S+/);
  assert.match(text, /locked until 2027-01-01 00:00:00 UTC, then signature of bsdev1/);
  assert.match(text, /atomic swap: claimable by bsdev1\S+ with the secret whose SHA-256 is 5a5a5a5a…5a5a; refundable by bsdev1\S+ after 2027-01-01 00:00:00 UTC/);
  assert.equal(await page.getByTestId("arbitrary-data").innerText(), "hello from the explorer test");
  await page.getByRole("button", { name: "Show as hex" }).click();
  assert.equal(await page.getByTestId("arbitrary-data").innerText(), Buffer.from("hello from the explorer test").toString("hex"));
  await page.getByRole("button", { name: "Show as text" }).click();
  assert.match(await page.getByTestId("inputs").innerText(), /single signature/);
  await shot(page, "transaction");
  // From the input's address to its page.
  const from = page.locator('[data-testid="inputs"] a[href^="/address/"]').first();
  const address = (await from.getAttribute("href")).slice("/address/".length);
  await from.click();
  await page.waitForURL(`**/address/${address}`);
  await page.getByRole("heading", { name: "Address" }).waitFor();
  // The genesis wallet stakes: every block since adds a payout to its
  // history (newest first), so the transfer may be on an older page.
  const transferLink = page.locator(`[data-testid="history"] a[href="/tx/${transfer.id}"]`);
  for (let pages = 1; ; pages++) {
    const found = await transferLink.waitFor({ timeout: 3_000 }).then(() => true, () => false);
    if (found) break;
    assert.ok(pages < 30, "the transfer is not in the address history");
    await page.getByRole("navigation", { name: "History pages" }).getByRole("button", { name: "Older →" }).click();
  }
  await page.locator('[data-testid="balance-chart"] svg').first().waitFor();
  await page.locator('[data-testid="unspent"] tbody tr').first().waitFor();
  await shot(page, "address");
  assert.deepEqual(errors, []);
  await close();
});

test("a multisig output's address lists its members and a member its membership", async () => {
  const { transaction } = await graphql(
    "query($id: String!) { transaction(id: $id) { outputs { nodes { address condition { type multisigMembers } } } } }",
    { id: transfer.id },
  );
  const multisig = transaction.outputs.nodes.find((o) => o.condition.type === "multisig");
  const { page, errors, close } = await open(`/address/${multisig.address}`);
  await page.getByRole("heading", { name: "Multisig members" }).waitFor();
  assert.match(words(await page.locator("main").innerText()), /2 of 3 signatures from bsdev1\S+, bsdev1\S+ and bsdev1\S+/);
  await shot(page, "address-multisig");
  // The notary transaction paid one member: its page lists the membership.
  const member = await page.locator('section:has(h2:text("Multisig members")) a[href^="/address/"]').evaluateAll((links) => links.map((a) => a.getAttribute("href")));
  let found = false;
  for (const href of member) {
    await page.goto(`${base}${href}`);
    await page.getByRole("heading", { name: "Address" }).or(page.getByTestId("not-found")).waitFor();
    if ((await page.getByTestId("memberships").count()) > 0) {
      assert.match(await page.getByTestId("memberships").innerText(), /2 of 3 signatures/);
      await shot(page, "address-member");
      found = true;
      break;
    }
  }
  assert.ok(found, "no member page lists its multisig membership");
  assert.deepEqual(errors, []);
  await close();
});

test("search by transaction ID lands on it; by height on the block", async () => {
  const { page, errors, close } = await open("/");
  const box = page.getByRole("searchbox", { name: /Search by block height/ });
  await box.fill(transfer.id);
  await box.press("Enter");
  await page.waitForURL(`**/tx/${transfer.id}`);
  await page.getByRole("heading", { name: "Transaction" }).waitFor();
  await box.fill(String(transfer.height));
  await box.press("Enter");
  await page.waitForURL(`**/block/${transfer.height}`);
  assert.deepEqual(errors, []);
  await close();
});

test("an unknown hash shows the not-found page", async () => {
  const { page, close } = await open("/");
  const box = page.getByRole("searchbox", { name: /Search by block height/ });
  await box.fill("0".repeat(64));
  await box.press("Enter");
  await page.getByTestId("not-found").waitFor();
  assert.match(await page.getByTestId("not-found").innerText(), /Nothing on chain matches/);
  await shot(page, "not-found");
  // A deep link to an unknown transaction (served by the API's index.html fallback).
  await page.goto(`${base}/tx/${"ab".repeat(32)}`);
  await page.getByTestId("not-found").waitFor();
  await page.goto(`${base}/no/such/page`);
  await page.getByTestId("not-found").waitFor();
  await close();
});

test("blocks list pages, blockstake distribution, notary lookup", async () => {
  // More than a page of blocks (25): the devnet makes about one a second.
  for (const deadline = Date.now() + 60_000; ; ) {
    const { chain } = await graphql("{ chain { height } }");
    if (chain.height >= 30) break;
    assert.ok(Date.now() < deadline, `only ${chain.height} blocks after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const { page, errors, close } = await open("/blocks");
  const firstRow = page.locator("main table tbody tr").first();
  await firstRow.waitFor();
  const top = await firstRow.locator("td").first().innerText();
  await page.getByRole("button", { name: "Older →" }).click();
  await page.waitForURL(/after=/);
  await page.waitForFunction((t) => document.querySelector("main table tbody tr td")?.textContent !== t, top);
  await page.getByRole("button", { name: "← Newer" }).click();
  await page.waitForURL(/before=/);
  await shot(page, "blocks");

  await page.goto(`${base}/stake`);
  await page.locator('[data-testid="holders"] tbody tr').first().waitFor();
  assert.match(await page.getByTestId("holders").innerText(), /100\.00 %|%/);
  await page.locator('[data-testid="stake-chart"] svg').first().waitFor();
  await shot(page, "stake");

  await page.goto(`${base}/notary`);
  await page.getByLabel("Drop a file here, or choose one").setInputFiles(documentPath);
  await page.getByText("Recorded in block").waitFor();
  assert.match(await page.getByTestId("notary-result").innerText(), new RegExp(`Recorded in block ${notary.height}`));
  await shot(page, "notary");
  await page.locator(`[data-testid="notary-result"] a[href="/tx/${notary.id}"]`).click();
  await page.getByRole("heading", { name: "Payload" }).waitFor();
  await shot(page, "transaction-notary");
  assert.deepEqual(errors, []);
  await close();
});

test("dark theme, narrow screen, and the API-down page", async () => {
  const { page, close } = await open("/", { viewport: { width: 390, height: 844 } });
  await page.locator('[data-testid="live-blocks"] tbody tr').first().waitFor();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await shot(page, "dashboard-dark-narrow");
  await page.evaluate(() => localStorage.clear());
  await close();

  const down = await open("/", {
    route: (page) => page.route("**/graphql", (route) => route.abort("connectionrefused")),
  });
  await down.page.getByTestId("api-down").waitFor();
  await shot(down.page, "api-down");
  await down.close();
});
